"""Instance ARNs and identity store ids that emulators seeded alike share (moto draws them at random).

The n-th instance moto makes for an account and region in a process gets ids derived from
(account, region, n): the demo's emulator and a `sandbox up` started afterwards hold the same
instance, so a restore the demo printed, typed by hand, goes back into the instance its backup
came from. A reset (a new backend in the same process) makes the next instance: new ids, as a
rebuilt instance has.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from moto.ssoadmin import models

_made: dict[tuple[str, str], int] = {}
_lock = threading.Lock()
_init = models.Instance.__init__


def _instance_init(self: Any, account_id: str, region: str) -> None:
    _init(self, account_id, region)
    with _lock:
        n = _made.get((account_id, region), 0)
        _made[(account_id, region)] = n + 1
    digest = hashlib.sha256(f"{account_id}:{region}:{n}".encode()).hexdigest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    letters = "".join(alphabet[int(digest[i:i + 2], 16) % len(alphabet)] for i in range(0, 52, 2))
    partition = self.instance_arn.split(":")[1]
    self.instance_arn = f"arn:{partition}:sso:::instance/ssoins-{letters[:16]}"
    self.identity_store_id = f"d-{letters[16:26]}"


def install_models() -> None:
    models.Instance.__init__ = _instance_init  # type: ignore[method-assign]

"""The quirk of expiring credentials: access keys that stop working, and fresh ones to mint.

Real sessions (SSO, assumed roles, ``credential_process``) end: after their expiry every request
signed with the key is refused before the service looks at it, with ExpiredTokenException
"The security token included in the request is expired" (HTTP 400). With
``credentials_expire_after_seconds`` (from the key's first call, on the injector's clock, so a
test advances it instead of waiting) or ``credentials_expire_after_calls``, the emulator does
the same for every access key it sees, its default one included. `CredentialLedger.mint` makes
a key never seen before (the control endpoint ``POST /_sandbox/credentials``), which is what
refreshing credentials gets from AWS: a new session that works again.
"""

from __future__ import annotations

import datetime
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from awsideman.sandbox.quirks import Quirks

EXPIRED_CODE = "ExpiredTokenException"
EXPIRED_MESSAGE = "The security token included in the request is expired"
# Reported as the Expiration of a key that expires by calls: no client can see that coming.
UNKNOWN_LIFETIME_SECONDS = 3600.0


def access_key_of(authorization: str) -> str | None:
    """The access key id of a SigV4 ``Authorization`` header ("... Credential=AKID/date/...")."""
    try:
        key = authorization.split("Credential=", 1)[1].split("/", 1)[0].strip()
    except IndexError:
        return None
    return key or None


@dataclass
class _Use:
    first: float
    calls: int = 0


class CredentialLedger:
    """Per access key: when it was first used and how many calls it signed (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uses: dict[str, _Use] = {}

    def expired(self, access_key: str | None, quirks: Quirks, now: float) -> bool:
        """Count this call of ``access_key``; True if the quirk says the key has expired."""
        seconds, calls = quirks.credentials_expire_after_seconds, quirks.credentials_expire_after_calls
        if access_key is None or (seconds is None and calls is None):
            return False
        with self._lock:
            use = self._uses.setdefault(access_key, _Use(now))
            use.calls += 1
            return (calls is not None and use.calls > calls) or (seconds is not None and now - use.first >= seconds)

    def clear(self) -> None:
        with self._lock:
            self._uses.clear()

    def mint(self, quirks: Quirks) -> dict[str, Any]:
        """A fresh session: a new access key id, secret and token, and its Expiration (wall clock),
        in the shape a ``credential_process`` prints (``Version: 1``)."""
        lifetime = quirks.credentials_expire_after_seconds or UNKNOWN_LIFETIME_SECONDS
        expiration = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=lifetime)
        return {"Version": 1, "AccessKeyId": "ASIA" + secrets.token_hex(8).upper(),
                "SecretAccessKey": secrets.token_urlsafe(30), "SessionToken": secrets.token_urlsafe(48),
                "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ")}

"""Kill points for tests: awsideman that SIGKILLs itself at a named point of a run.

``AWSIDEMAN_CRASH_AT=backup:before-store-write python -m awsideman.sandbox.crashpoints backup
create`` runs ``awsideman backup create`` and dies (as kill -9 would) when the run reaches that
point, so an end-to-end test proves the journal tells the truth between two durable writes. The
product only announces its points (``awsideman.services.hooks``); the killing lives here, and
the plain ``awsideman`` executable never does it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from awsideman.services import hooks

ENV = "AWSIDEMAN_CRASH_AT"
# The points the product announces (services/backup.py, services/apply.py), for a test that names one.
POINTS = ("backup:before-store-write", "backup:after-store-write", "apply:after-async-call")


def kill_at(point: str) -> Callable[[], None]:
    """SIGKILL this process when a run reaches ``point``; returns what removes the kill point."""

    def kill_if_there(reached: str) -> None:
        if reached == point:
            os.kill(os.getpid(), signal.SIGKILL)

    return hooks.observe(kill_if_there)


def main() -> None:
    """The awsideman command line, with the kill point ``$AWSIDEMAN_CRASH_AT`` (if set) armed."""
    from awsideman.cli.app import main as awsideman

    point = os.environ.get(ENV)
    if point and point not in POINTS:  # a misspelt point would let the test's run finish unharmed
        raise SystemExit(f"{ENV}={point!r}: not a point the product announces ({', '.join(POINTS)})")
    if point:
        kill_at(point)
    awsideman()


if __name__ == "__main__":
    main()

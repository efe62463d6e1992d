"""Named points between two durable writes where tests kill the process (fault injection).

``AWSIDEMAN_CRASH_AT=<name>`` makes the process SIGKILL itself when it reaches that point, so
an end-to-end test can prove that the journal tells the truth in the window between, say, the
store write and the journal record (DESIGN section 8). Unset, it costs one dict lookup.
"""

from __future__ import annotations

import os
import signal


def reached(name: str) -> None:
    """Die here (as kill -9 would) if the environment asks for it."""
    if os.environ.get("AWSIDEMAN_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)

"""The operation journal: operations, claims, locks, checkpoints, changes and errors in one SQLite file.

DESIGN section 5. One module per table (``operations``, ``locks``, ``checkpoints``,
``changes``, ``errors``), the file itself in ``db``; ``Journal`` joins them. The journal is
not pure code (it owns a file), so it lives here and not in ``core``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from awsideman.journal.changes import TRANSITIONS, ChangeRecord, ChangesMixin, ChangeState, ChangeTransitionError
from awsideman.journal.checkpoints import CheckpointsMixin, Sealer
from awsideman.journal.db import (
    DEFAULT_BUSY_TIMEOUT,
    SCHEMA_VERSION,
    connect,
    migrate,
    parse_timestamp,
    translate,
    utc_timestamp,
)
from awsideman.journal.errors import ErrorsMixin
from awsideman.journal.locks import LockHolder, LocksMixin
from awsideman.journal.operations import OperationsMixin, OperationStateError
from awsideman.journal.protocol import StateJournal
from awsideman.journal.records import (
    FAILED,
    FINISHED_STATUSES,
    INTERRUPTED,
    KINDS,
    PARTIAL,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    RUNNING,
    STATUSES,
    SUCCEEDED,
    Operation,
)

__all__ = [
    "Journal", "StateJournal", "Operation", "ChangeRecord", "ChangeState", "ChangeTransitionError", "TRANSITIONS",
    "LockHolder", "OperationStateError", "Sealer", "SCHEMA_VERSION", "KINDS", "STATUSES", "FINISHED_STATUSES",
    "RUNNING", "SUCCEEDED", "PARTIAL", "FAILED", "INTERRUPTED", "ROLLED_BACK", "ROLLBACK_FAILED", "utc_timestamp",
    "parse_timestamp",
]


class Journal(OperationsMixin, LocksMixin, CheckpointsMixin, ChangesMixin, ErrorsMixin):
    """The operation journal of one ``state.db`` file. Use ``Journal.open(path)``."""

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
             clock: Any = None) -> Journal:
        """Open (creating if needed) the journal at ``path`` and bring its schema up to date.

        ``busy_timeout`` is how long to wait for another process's lock before failing;
        ``clock`` returns the current aware datetime (tests inject one).
        """
        path = Path(path)
        conn = connect(path, busy_timeout)
        try:
            with translate(path, busy_timeout):
                migrate(conn, path)
        except BaseException:
            conn.close()
            raise
        return cls(path, conn, busy_timeout=busy_timeout, clock=clock)

    def ensure_lease(self) -> None:
        """Nothing to check: a local journal's lock lives as long as its process (see ``DynamoJournal``)."""

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

"""The operation journal: operations, claims, locks, checkpoints, changes and errors.

DESIGN section 5. The rules are written once (``rules``, applied by ``journal.Journal``) over a
record store (``store``): ``SqliteStore`` for the local ``state.db`` (``Journal.open``),
``DynamoStore`` for a team's shared table (``dynamo.DynamoJournal``). The row types are in
``records``. The journal is not pure code (it owns a file or a table), so it lives here and not
in ``core``.
"""

from __future__ import annotations

from awsideman.journal.db import DEFAULT_BUSY_TIMEOUT, SCHEMA_VERSION
from awsideman.journal.journal import Journal, Sealer
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
    TRANSITIONS,
    ChangeRecord,
    ChangeState,
    ChangeTransitionError,
    LockHolder,
    Operation,
    OperationStateError,
    parse_timestamp,
    utc_timestamp,
)

# What services are typed against: one class, whichever store it runs over.
StateJournal = Journal

__all__ = [
    "Journal", "StateJournal", "Operation", "ChangeRecord", "ChangeState", "ChangeTransitionError", "TRANSITIONS",
    "LockHolder", "OperationStateError", "Sealer", "SCHEMA_VERSION", "DEFAULT_BUSY_TIMEOUT", "KINDS", "STATUSES",
    "FINISHED_STATUSES", "RUNNING", "SUCCEEDED", "PARTIAL", "FAILED", "INTERRUPTED", "ROLLED_BACK", "ROLLBACK_FAILED",
    "utc_timestamp", "parse_timestamp",
]

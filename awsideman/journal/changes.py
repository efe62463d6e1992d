"""Journaled changes of a restore (and the compensations of a rollback), with a state machine.

A change is committed as INTENT, with its inverse, before its API call; then it moves along
``TRANSITIONS`` only:

    INTENT  -> APPLIED      the call succeeded (async: the request reached SUCCEEDED)
    INTENT  -> FAILED       the call failed, or reconciliation found it never happened
    INTENT  -> COMPENSATED  outcome unknown (process died), reconciled and reverted
    APPLIED -> COMPENSATED  reverted by a rollback
    FAILED  -> COMPENSATED  a change that failed half-way (several calls) was reverted

Any other move raises ``ChangeTransitionError``: the journal never rewrites history, so a
rollback can trust what it reads.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from awsideman.core.exceptions import JournalError
from awsideman.core.sanitize import sanitize
from awsideman.journal.db import Database
from awsideman.journal.records import dumps, dumps_sanitized, loads


class ChangeState(StrEnum):
    INTENT = "INTENT"
    APPLIED = "APPLIED"
    FAILED = "FAILED"
    COMPENSATED = "COMPENSATED"


TRANSITIONS: dict[ChangeState, frozenset[ChangeState]] = {
    ChangeState.INTENT: frozenset({ChangeState.APPLIED, ChangeState.FAILED, ChangeState.COMPENSATED}),
    ChangeState.APPLIED: frozenset({ChangeState.COMPENSATED}),
    ChangeState.FAILED: frozenset({ChangeState.COMPENSATED}),
    ChangeState.COMPENSATED: frozenset(),
}


class ChangeTransitionError(JournalError):
    """A change was asked to move to a state its current state does not lead to."""


@dataclass(frozen=True)
class ChangeRecord:
    """One row of the ``changes`` table."""

    operation_id: str
    seq: int
    kind: str
    forward: Any
    inverse: Any
    state: ChangeState
    request_id: str | None
    detail: str | None
    created_at: str
    updated_at: str
    address: str | None = None
    error: dict[str, Any] | None = None

    @property
    def settled(self) -> bool:
        """The outcome is known (not an INTENT whose call may or may not have happened)."""
        return self.state is not ChangeState.INTENT


class ChangesMixin(Database):
    """The ``changes`` table."""

    def record_intent(self, operation_id: str, kind: str, forward: Any, inverse: Any, *,
                      address: str | None = None, seq: int | None = None) -> int:
        """Journal a change as INTENT before it is applied; return its sequence number.

        ``seq`` defaults to the next free number of the operation. Recording the same ``seq``
        twice raises ``JournalError``: a resumed restore must read ``changes()`` first.
        """
        now = self._stamp()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM operations WHERE id = ?", (operation_id,)).fetchone() is None:
                raise JournalError(f"No operation {operation_id} in the journal.")
            if seq is None:
                seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM changes WHERE operation_id = ?",
                                   (operation_id,)).fetchone()[0]
            try:
                conn.execute(
                    "INSERT INTO changes (operation_id, seq, kind, address, forward_json, inverse_json, state,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (operation_id, seq, kind, address, dumps(forward), dumps(inverse), ChangeState.INTENT.value,
                     now, now))
            except sqlite3.IntegrityError:
                raise JournalError(f"Change #{seq} of operation {operation_id} is already journaled.") from None
            conn.execute("UPDATE operations SET updated_at = ? WHERE id = ?", (now, operation_id))
        return int(seq)  # type: ignore[arg-type]

    def mark_change(self, operation_id: str, seq: int, state: ChangeState | str, *, request_id: str | None = None,
                    detail: str | None = None, error: dict[str, Any] | None = None, wait: bool = True) -> None:
        """Move a journaled change to ``state`` (see ``TRANSITIONS``); outcome details are sanitised.

        ``wait`` is for the shared journal (which may commit an outcome later); here every write is
        committed before returning.
        """
        target = ChangeState(state)
        sources = [s.value for s, targets in TRANSITIONS.items() if target in targets]
        now = self._stamp()
        with self._write() as conn:
            cursor = conn.execute(
                f"UPDATE changes SET state = ?, request_id = COALESCE(?, request_id), detail = COALESCE(?, detail),"
                f" error_json = COALESCE(?, error_json), updated_at = ? WHERE operation_id = ? AND seq = ?"
                f" AND state IN ({', '.join('?' for _ in sources)})",
                (target.value, request_id, None if detail is None else sanitize(detail),
                 None if error is None else dumps_sanitized(error), now, operation_id, seq, *sources))
            if cursor.rowcount == 0:
                row = conn.execute("SELECT state FROM changes WHERE operation_id = ? AND seq = ?",
                                   (operation_id, seq)).fetchone()
                if row is None:
                    raise JournalError(f"Operation {operation_id} has no journaled change #{seq}.")
                raise ChangeTransitionError(
                    f"Change #{seq} of {operation_id} cannot move from {row['state']} to {target.value}.")
            conn.execute("UPDATE operations SET updated_at = ? WHERE id = ?", (now, operation_id))

    def record_request(self, operation_id: str, seq: int, request_id: str) -> None:
        """Keep the id of an asynchronous request the change started (it stays INTENT until settled).

        With it, a process that dies while the request runs leaves enough for the next one to
        ask the service how the request ended instead of guessing.
        """
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE changes SET request_id = ?, updated_at = ? WHERE operation_id = ? AND seq = ? AND state = ?",
                (request_id, self._stamp(), operation_id, seq, ChangeState.INTENT.value))
            if cursor.rowcount == 0:
                raise ChangeTransitionError(f"Change #{seq} of {operation_id} is not an open intent.")

    def changes(self, operation_id: str) -> list[ChangeRecord]:
        """Return the operation's journaled changes in sequence order."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM changes WHERE operation_id = ? ORDER BY seq", (operation_id,)).fetchall()
        return [ChangeRecord(
            operation_id=row["operation_id"], seq=row["seq"], kind=row["kind"], forward=json.loads(row["forward_json"]),
            inverse=loads(row["inverse_json"]), state=ChangeState(row["state"]), request_id=row["request_id"],
            detail=row["detail"], created_at=row["created_at"], updated_at=row["updated_at"],
            address=row["address"], error=loads(row["error_json"])) for row in rows]

"""Operations: start, claim (compare-and-set on an owner token), finish, list, retention."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from awsideman.core.exceptions import JournalError, OperationBusyError, OperationNotFoundError
from awsideman.core.ids import new_operation_id, validate_operation_id
from awsideman.journal.changes import ChangeState
from awsideman.journal.db import Database, as_utc, utc_timestamp
from awsideman.journal.liveness import owner_alive, this_process
from awsideman.journal.records import (
    FINISHED_STATUSES,
    INTERRUPTED,
    KINDS,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    RUNNING,
    UNSETTLED_STATUSES,
    Operation,
    dumps,
    dumps_sanitized,
    operation_of,
)


class OperationsMixin(Database):
    """The ``operations`` table."""

    def start_operation(self, kind: str, params: dict[str, Any], instance_arn: str | None = None,
                        operation_id: str | None = None, *, backup_id: str | None = None,
                        sealing: dict[str, Any] | None = None) -> Operation:
        """Record a new ``running`` operation owned by this process and return it."""
        if kind not in KINDS:
            raise ValueError(f"unknown operation kind {kind!r}; expected one of {', '.join(KINDS)}")
        op_id = validate_operation_id(operation_id) if operation_id else new_operation_id(self._now())
        now = self._stamp()
        owner, pid, started = this_process()
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO operations (id, kind, status, params_json, backup_id, instance_arn, started_at,"
                    " updated_at, pid, host, owner, pid_started, sealing_json)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (op_id, kind, RUNNING, dumps_sanitized(params or {}), backup_id, instance_arn, now, now,
                     pid, socket.gethostname(), owner, started, None if sealing is None else dumps(sealing)))
            except sqlite3.IntegrityError:
                raise JournalError(f"Operation {op_id} already exists in the journal {self.path}.") from None
        return self.get_operation(op_id)

    def claim_operation(self, operation_id: str, *, claimable: Iterable[str]) -> Operation:
        """Make this process the owner of an operation whose status is in ``claimable``.

        One transaction reads, checks and writes, so of two processes claiming the same
        operation exactly one wins; the other gets ``OperationBusyError`` (running elsewhere)
        or ``JournalError`` naming the status that cannot be claimed.
        """
        allowed = set(claimable)
        owner, pid, started = this_process()
        now = self._stamp()
        with self._write() as conn:
            row = conn.execute("SELECT * FROM operations WHERE id = ?", (operation_id,)).fetchone()
            if row is None:
                raise not_found(operation_id)
            current = operation_of(row)
            theirs = current.owner != owner and owner_alive(current.owner, current.pid, current.pid_started)
            if current.status == RUNNING and theirs:
                raise OperationBusyError(
                    f"Operation {current.id} is still running (pid {current.pid}).",
                    remediation=["Wait for it to finish, or stop that process and run the command again."])
            ours = current.status == RUNNING and current.owner == owner
            status = INTERRUPTED if current.status == RUNNING else current.status
            if status not in allowed and not ours:
                raise OperationStateError(current, status)
            conn.execute(
                "UPDATE operations SET status = ?, finished_at = NULL, updated_at = ?, pid = ?, owner = ?,"
                " pid_started = ?, host = ? WHERE id = ?",
                (RUNNING, now, pid, owner, started, socket.gethostname(), current.id))
        return self.get_operation(operation_id)

    def record_backup_id(self, operation_id: str, backup_id: str) -> None:
        """Name the backup this operation is about to write, before the store write starts."""
        self._owned_update(operation_id, "backup_id = ?", (backup_id,))

    def record_instance(self, operation_id: str, instance_arn: str) -> None:
        """Name the instance an operation works on, once discovered (it starts before discovery)."""
        self._owned_update(operation_id, "instance_arn = ?", (instance_arn,))

    def record_sealing(self, operation_id: str, sealing: dict[str, Any]) -> None:
        """Keep how the operation's checkpoints are sealed (the wrapped data key), before the first one."""
        self._owned_update(operation_id, "sealing_json = ?", (dumps(sealing),))

    def discard_operation(self, operation_id: str) -> None:
        """Forget a running operation of this process that did nothing (a declined prompt, a dry run).

        Refused for an operation with journaled changes, or owned by another process: those are
        part of what happened.
        """
        owner, _, _ = this_process()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM changes WHERE operation_id = ? LIMIT 1", (operation_id,)).fetchone():
                raise JournalError(f"Operation {operation_id} has journaled changes; it is kept.")
            cursor = conn.execute("DELETE FROM operations WHERE id = ? AND owner = ? AND status = ?",
                                  (operation_id, owner, RUNNING))
            if cursor.rowcount == 0:
                self._require(conn, operation_id)
                raise JournalError(f"Operation {operation_id} is no longer running in this process.")

    def finish_operation(self, operation_id: str, status: str, *, backup_id: str | None = None,
                         summary: dict[str, Any] | None = None, clear_checkpoints: bool = False) -> Operation:
        """Record the final ``status`` (and optionally backup id and summary); return the row.

        ``clear_checkpoints`` deletes the operation's checkpoints in the same transaction, so a
        finished backup never leaves a plaintext copy of the instance behind.
        """
        if status not in FINISHED_STATUSES:
            raise ValueError(f"not a final status: {status!r}; expected one of {', '.join(FINISHED_STATUSES)}")
        now = self._stamp()
        summary_json = None if summary is None else dumps_sanitized(summary)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE operations SET status = ?, finished_at = ?, updated_at = ?,"
                " backup_id = COALESCE(?, backup_id), summary_json = COALESCE(?, summary_json) WHERE id = ?",
                (status, now, now, backup_id, summary_json, operation_id))
            if cursor.rowcount == 0:
                raise not_found(operation_id)
            if clear_checkpoints:
                conn.execute("DELETE FROM checkpoints WHERE operation_id = ?", (operation_id,))
        return self.get_operation(operation_id)

    def record_rollback(self, restore_id: str, rollback_id: str, status: str) -> Operation:
        """A later rollback's outcome on the restore it reverted: its status and the link back.

        ``status`` is ``rolled_back`` (nothing left) or ``rollback_failed``; the restore's summary
        gains ``rolled_back_by`` (this rollback) and ``rollbacks`` (every one, oldest first). A
        running restore is not touched (its own run records its end).
        """
        if status not in (ROLLED_BACK, ROLLBACK_FAILED):
            raise ValueError(f"not a rollback outcome: {status!r}")
        with self._write() as conn:
            row = conn.execute("SELECT * FROM operations WHERE id = ?", (restore_id,)).fetchone()
            if row is None:
                raise not_found(restore_id)
            current = operation_of(row)
            if current.status != RUNNING:
                conn.execute("UPDATE operations SET status = ?, updated_at = ?, summary_json = ? WHERE id = ?",
                             (status, self._stamp(), dumps_sanitized(linked_summary(current, rollback_id)),
                              restore_id))
        return self.get_operation(restore_id)

    def get_operation(self, operation_id: str) -> Operation:
        """Return the operation (``interrupted`` if its process died); ``OperationNotFoundError`` if none."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM operations WHERE id = ?", (operation_id,)).fetchone()
        if row is None:
            raise not_found(operation_id)
        return self._reconcile(operation_of(row))

    def list_operations(self, limit: int | None = 20, kind: str | None = None) -> list[Operation]:
        """Return up to ``limit`` operations (all if ``None``), newest first, optionally of one kind."""
        sql, args = "SELECT * FROM operations", list[Any]()
        if kind is not None:
            sql, args = sql + " WHERE kind = ?", [kind]
        sql += " ORDER BY started_at DESC, rowid DESC"
        if limit is not None:
            sql, args = sql + " LIMIT ?", [*args, max(0, int(limit))]
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [self._reconcile(operation_of(row)) for row in rows]

    def cleanup(self, retention_days: float, now: datetime | None = None) -> int:
        """Delete finished operations older than ``retention_days``; return how many.

        Never deletes a running operation, nor one that failed or was interrupted while it
        still has changes in INTENT or APPLIED state (they are needed to roll back).
        """
        if retention_days < 0:
            raise ValueError("retention_days must not be negative")
        self.list_operations(limit=None)  # operations whose process died count as finished
        try:
            cutoff = utc_timestamp(as_utc(now or self._now()) - timedelta(days=retention_days))
        except OverflowError:  # a retention reaching past year 1 keeps everything
            return 0
        finished = ", ".join("?" for _ in FINISHED_STATUSES)
        unsettled = ", ".join("?" for _ in UNSETTLED_STATUSES)
        with self._write() as conn:
            cursor = conn.execute(
                f"DELETE FROM operations WHERE status IN ({finished})"
                " AND COALESCE(finished_at, updated_at, started_at) < ?"
                f" AND NOT (status IN ({unsettled}) AND EXISTS (SELECT 1 FROM changes c"
                "   WHERE c.operation_id = operations.id AND c.state IN (?, ?)))",
                (*FINISHED_STATUSES, cutoff, *UNSETTLED_STATUSES, ChangeState.INTENT.value,
                 ChangeState.APPLIED.value))
            return cursor.rowcount

    def _owned_update(self, operation_id: str, assignment: str, args: tuple[Any, ...]) -> None:
        owner, _, _ = this_process()
        with self._write() as conn:
            cursor = conn.execute(f"UPDATE operations SET {assignment}, updated_at = ? WHERE id = ? AND owner = ?",
                                  (*args, self._stamp(), operation_id, owner))
            if cursor.rowcount == 0:
                self._require(conn, operation_id)
                raise JournalError(f"Operation {operation_id} is no longer owned by this process.")

    def _reconcile(self, op: Operation) -> Operation:
        """Turn a ``running`` operation whose process is gone into ``interrupted`` (persisted)."""
        if op.status != RUNNING or owner_alive(op.owner, op.pid, op.pid_started):
            return op
        with self._write() as conn:
            # Conditional on the owner: if someone claimed it meanwhile, theirs is the truth.
            conn.execute(
                "UPDATE operations SET status = ?, finished_at = updated_at"
                " WHERE id = ? AND status = ? AND owner IS ?", (INTERRUPTED, op.id, RUNNING, op.owner))
            row = conn.execute("SELECT * FROM operations WHERE id = ?", (op.id,)).fetchone()
        return operation_of(row)

    def _require(self, conn: sqlite3.Connection, operation_id: str) -> None:
        if conn.execute("SELECT 1 FROM operations WHERE id = ?", (operation_id,)).fetchone() is None:
            raise not_found(operation_id)


class OperationStateError(JournalError):
    """An operation's status does not allow what was asked (e.g. resuming a finished backup)."""

    def __init__(self, operation: Operation, status: str) -> None:
        super().__init__(f"Operation {operation.id} is {status}; it cannot be continued.")
        self.operation = operation
        self.status = status
        self.exit_code = 2


def linked_summary(restore: Operation, rollback_id: str) -> dict[str, Any]:
    """The restore's summary with the link to a rollback of it added (both stores write this)."""
    summary = dict(restore.summary or {})
    summary.setdefault("ended_as", restore.status)  # how the restore's own run ended, kept for its timeline
    rollbacks = [r for r in summary.get("rollbacks") or [] if r != rollback_id]
    summary["rollbacks"] = [*rollbacks, rollback_id]
    summary["rolled_back_by"] = rollback_id
    return summary


def not_found(operation_id: str) -> OperationNotFoundError:
    return OperationNotFoundError(
        f"No operation {operation_id} in the journal.",
        remediation=["Run `awsideman report list` to see recent operations."],
    )

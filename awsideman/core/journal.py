"""The operation journal: operations, checkpoints, changes and errors in one SQLite file.

DESIGN section 5. The file (``$AWSIDEMAN_HOME/state.db``) is opened in WAL mode so a crash
never loses a committed row and readers (``report``) do not block writers (a running backup).
Every write is committed before the method returns: a checkpoint or a change INTENT that is
not on disk is worth nothing after a kill -9.

Failure policy: a journal that is locked, corrupt or written by a newer awsideman raises
``JournalError`` naming the file and what to do. It is never reset or recreated silently,
because it is the only record of what a restore changed and how to roll it back.

Implementation note: one connection guarded by a re-entrant lock serves all threads of a
process. Backups save checkpoints from worker threads; the writes are tiny, so serialising them
costs nothing, and it avoids per-thread connections that would each need closing.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from awsideman.core.exceptions import JournalError, OperationNotFoundError
from awsideman.core.ids import new_operation_id, validate_operation_id

SCHEMA_VERSION = 1
# "awid" in ASCII: marks the file as ours, so we never add tables to someone else's database.
APPLICATION_ID = 0x61776964

DEFAULT_BUSY_TIMEOUT = 5.0
# An operation on another host that has not written for this long is considered dead.
DEFAULT_STALE_AFTER = 15 * 60.0

KINDS = ("backup", "restore", "rollback")
RUNNING = "running"
SUCCEEDED = "succeeded"
PARTIAL = "partial"
FAILED = "failed"
INTERRUPTED = "interrupted"
ROLLED_BACK = "rolled_back"
ROLLBACK_FAILED = "rollback_failed"
STATUSES = (RUNNING, SUCCEEDED, PARTIAL, FAILED, INTERRUPTED, ROLLED_BACK, ROLLBACK_FAILED)
FINISHED_STATUSES = tuple(s for s in STATUSES if s != RUNNING)
# Operations in these states may have left live changes that only the journal can undo.
_UNSETTLED_STATUSES = (INTERRUPTED, FAILED, ROLLBACK_FAILED)

CHANGE_INTENT = "INTENT"
CHANGE_APPLIED = "APPLIED"
CHANGE_FAILED = "FAILED"
CHANGE_COMPENSATED = "COMPENSATED"
CHANGE_STATES = (CHANGE_INTENT, CHANGE_APPLIED, CHANGE_FAILED, CHANGE_COMPENSATED)

# Ids of operations started or resumed by this process. A row carrying our own pid and host
# that is not in here was written by an earlier process that happened to get the same pid
# (common in containers, where the tool often runs as pid 1).
_OWNED_OPERATIONS: set[str] = set()
_UMASK_LOCK = threading.Lock()

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        f"PRAGMA application_id = {APPLICATION_ID}",
        """CREATE TABLE operations (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            params_json TEXT NOT NULL DEFAULT '{}',
            backup_id TEXT,
            instance_arn TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            updated_at TEXT NOT NULL,
            pid INTEGER,
            host TEXT,
            summary_json TEXT
        )""",
        "CREATE INDEX operations_started ON operations (started_at)",
        """CREATE TABLE checkpoints (
            operation_id TEXT NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
            step TEXT NOT NULL,
            data_json TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (operation_id, step)
        )""",
        """CREATE TABLE errors (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            operation_id TEXT NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
            step TEXT,
            category TEXT,
            severity TEXT,
            code TEXT,
            message TEXT NOT NULL,
            recoverable INTEGER NOT NULL DEFAULT 0,
            remediation_json TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX errors_operation ON errors (operation_id)",
        """CREATE TABLE changes (
            operation_id TEXT NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            forward_json TEXT NOT NULL,
            inverse_json TEXT,
            state TEXT NOT NULL CHECK (state IN ('INTENT', 'APPLIED', 'FAILED', 'COMPENSATED')),
            request_id TEXT,
            detail TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (operation_id, seq)
        )""",
    ),
}


@dataclass(frozen=True)
class Operation:
    """One row of the ``operations`` table, with ``params`` and ``summary`` decoded."""

    id: str
    kind: str
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    backup_id: str | None = None
    instance_arn: str | None = None
    started_at: str = ""
    finished_at: str | None = None
    updated_at: str = ""
    pid: int | None = None
    host: str | None = None
    summary: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; uses ``operation_id`` as the key, like the CLI's JSON output."""
        return {
            "operation_id": self.id,
            "kind": self.kind,
            "status": self.status,
            "params": self.params,
            "backup_id": self.backup_id,
            "instance_arn": self.instance_arn,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "updated_at": self.updated_at,
            "pid": self.pid,
            "host": self.host,
            "summary": self.summary,
        }


@dataclass(frozen=True)
class Change:
    """One row of the ``changes`` table: a journaled restore change and its inverse."""

    operation_id: str
    seq: int
    kind: str
    forward: Any
    inverse: Any
    state: str
    request_id: str | None
    detail: str | None
    created_at: str
    updated_at: str


def utc_timestamp(now: datetime | None = None) -> str:
    """Format ``now`` (default: current time) as ISO 8601 UTC with a ``Z``, to the second."""
    now = datetime.now(UTC) if now is None else _as_utc(now)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> datetime:
    """Parse a timestamp written by ``utc_timestamp`` back into an aware UTC datetime."""
    return _as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


class Journal:
    """The operation journal of one ``state.db`` file. Use ``Journal.open(path)``."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        *,
        busy_timeout: float,
        stale_after: float,
        clock: Any = None,
    ) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.stale_after = stale_after
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._host = socket.gethostname()

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        stale_after: float = DEFAULT_STALE_AFTER,
        clock: Any = None,
    ) -> Journal:
        """Open (creating if needed) the journal at ``path`` and bring its schema up to date.

        ``busy_timeout`` is how long to wait for another process's lock before failing;
        ``stale_after`` (seconds) is when a silent operation on another host counts as dead;
        ``clock`` returns the current aware datetime (tests inject one).
        """
        path = Path(path)
        conn = _connect(path, busy_timeout)
        journal = cls(path, conn, busy_timeout=busy_timeout, stale_after=stale_after, clock=clock)
        try:
            with journal._translate():
                migrate(conn, path)
        except BaseException:
            conn.close()
            raise
        return journal

    def close(self) -> None:
        """Close the connection; further calls raise ``JournalError``. Safe to call twice."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- operations --------------------------------------------------------------------------

    def start_operation(
        self,
        kind: str,
        params: dict[str, Any],
        instance_arn: str | None = None,
        operation_id: str | None = None,
        *,
        backup_id: str | None = None,
    ) -> Operation:
        """Record a new ``running`` operation owned by this process and return it."""
        if kind not in KINDS:
            raise ValueError(f"unknown operation kind {kind!r}; expected one of {', '.join(KINDS)}")
        op_id = validate_operation_id(operation_id) if operation_id else new_operation_id(self._now())
        now = self._stamp()
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO operations (id, kind, status, params_json, backup_id, instance_arn,"
                    " started_at, updated_at, pid, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        op_id,
                        kind,
                        RUNNING,
                        _dumps(params or {}),
                        backup_id,
                        instance_arn,
                        now,
                        now,
                        os.getpid(),
                        self._host,
                    ),
                )
            except sqlite3.IntegrityError:
                raise JournalError(f"Operation {op_id} already exists in the journal {self.path}.") from None
        _OWNED_OPERATIONS.add(op_id)
        return self.get_operation(op_id)

    def resume_operation(self, operation_id: str) -> Operation:
        """Mark an existing operation ``running`` again, owned by this process, and return it.

        Refuses (``JournalError``) when the operation is still running in a live process.
        """
        current = self.get_operation(operation_id)
        if current.status == RUNNING and current.id not in _OWNED_OPERATIONS:
            raise JournalError(
                f"Operation {current.id} is still running (pid {current.pid} on {current.host}).",
                remediation=["Wait for it to finish, or stop that process and run the command again."],
            )
        now = self._stamp()
        with self._write() as conn:
            conn.execute(
                "UPDATE operations SET status = ?, finished_at = NULL, updated_at = ?, pid = ?, host = ?"
                " WHERE id = ?",
                (RUNNING, now, os.getpid(), self._host, current.id),
            )
        _OWNED_OPERATIONS.add(current.id)
        return self.get_operation(current.id)

    def finish_operation(
        self,
        operation_id: str,
        status: str,
        *,
        backup_id: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> Operation:
        """Record the final ``status`` (and optionally backup id and summary); return the row."""
        if status not in FINISHED_STATUSES:
            raise ValueError(
                f"not a final status: {status!r}; expected one of {', '.join(FINISHED_STATUSES)}"
            )
        now = self._stamp()
        summary_json = None if summary is None else _dumps(summary)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE operations SET status = ?, finished_at = ?, updated_at = ?,"
                " backup_id = COALESCE(?, backup_id), summary_json = COALESCE(?, summary_json)"
                " WHERE id = ?",
                (status, now, now, backup_id, summary_json, operation_id),
            )
            if cursor.rowcount == 0:
                raise _not_found(operation_id)
        _OWNED_OPERATIONS.discard(operation_id)
        return self.get_operation(operation_id)

    def heartbeat(self, operation_id: str) -> None:
        """Record that the operation's process is still alive (refreshes ``updated_at``)."""
        with self._write() as conn:
            # If another process judged us dead (e.g. clock skew between hosts) while we are
            # demonstrably alive and still the owner, take the operation back.
            cursor = conn.execute(
                "UPDATE operations SET updated_at = ?,"
                " status = CASE WHEN status = ? AND pid = ? AND host = ? THEN ? ELSE status END,"
                " finished_at = CASE WHEN status = ? AND pid = ? AND host = ? THEN NULL ELSE finished_at END"
                " WHERE id = ?",
                (
                    self._stamp(),
                    INTERRUPTED,
                    os.getpid(),
                    self._host,
                    RUNNING,
                    INTERRUPTED,
                    os.getpid(),
                    self._host,
                    operation_id,
                ),
            )
            if cursor.rowcount == 0:
                raise _not_found(operation_id)

    def get_operation(self, operation_id: str) -> Operation:
        """Return the operation (``interrupted`` if its process died); ``OperationNotFoundError`` if none."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM operations WHERE id = ?", (operation_id,)).fetchone()
        if row is None:
            raise _not_found(operation_id)
        return self._reconcile(_operation(row))

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
        return [self._reconcile(_operation(row)) for row in rows]

    # -- checkpoints -------------------------------------------------------------------------

    def save_checkpoint(self, operation_id: str, step: str, data: Any) -> None:
        """Store (or replace) the data of a finished step; committed before returning."""
        data_json = _dumps(data)
        now = self._stamp()
        with self._write() as conn:
            self._require(conn, operation_id)
            conn.execute(
                "INSERT INTO checkpoints (operation_id, step, data_json, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (operation_id, step) DO UPDATE"
                " SET data_json = excluded.data_json, created_at = excluded.created_at",
                (operation_id, step, data_json, now),
            )
            # A checkpoint is proof of life: it doubles as a heartbeat.
            conn.execute("UPDATE operations SET updated_at = ? WHERE id = ?", (now, operation_id))

    def checkpoints(self, operation_id: str) -> dict[str, Any]:
        """Return ``{step: data}`` for every checkpoint of the operation, oldest first."""
        with self._read() as conn:
            self._require(conn, operation_id)
            rows = conn.execute(
                "SELECT step, data_json FROM checkpoints WHERE operation_id = ? ORDER BY created_at, rowid",
                (operation_id,),
            ).fetchall()
        return {row["step"]: json.loads(row["data_json"]) for row in rows}

    def clear_checkpoints(self, operation_id: str) -> None:
        """Delete every checkpoint of the operation (e.g. once its backup is written)."""
        with self._write() as conn:
            conn.execute("DELETE FROM checkpoints WHERE operation_id = ?", (operation_id,))

    # -- errors ------------------------------------------------------------------------------

    def record_error(self, operation_id: str, error: Any, step: str | None = None) -> None:
        """Store an analysed error (anything with the ErrorInfo attributes) for the operation.

        The message must already be sanitised by the caller; it is stored as given.
        """
        remediation = [str(item) for item in (getattr(error, "remediation", None) or [])]
        row = (
            operation_id,
            step,
            _plain(getattr(error, "category", None)),
            _plain(getattr(error, "severity", None)),
            _plain(getattr(error, "code", None)),
            str(getattr(error, "message", "") or ""),
            1 if getattr(error, "recoverable", False) else 0,
            _dumps(remediation),
            self._stamp(),
        )
        with self._write() as conn:
            self._require(conn, operation_id)
            conn.execute(
                "INSERT INTO errors (operation_id, step, category, severity, code, message, recoverable,"
                " remediation_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def errors(self, operation_id: str) -> list[dict[str, Any]]:
        """Return the operation's errors in the order they were recorded."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM errors WHERE operation_id = ? ORDER BY id", (operation_id,)
            ).fetchall()
        return [
            {
                "id": row["id"],
                "operation_id": row["operation_id"],
                "step": row["step"],
                "category": row["category"],
                "severity": row["severity"],
                "code": row["code"],
                "message": row["message"],
                "recoverable": bool(row["recoverable"]),
                "remediation": json.loads(row["remediation_json"]),
                "created_at": row["created_at"],
            }
            for row in rows
        ]

    # -- changes (restore) -------------------------------------------------------------------

    def record_intent(
        self, operation_id: str, kind: str, forward: Any, inverse: Any, *, seq: int | None = None
    ) -> int:
        """Journal a change as INTENT before it is applied; return its sequence number.

        ``seq`` defaults to the next free number of the operation. Recording the same ``seq``
        twice raises ``JournalError``: a resumed restore must read ``changes()`` first.
        """
        now = self._stamp()
        with self._write() as conn:
            self._require(conn, operation_id)
            if seq is None:
                seq = conn.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM changes WHERE operation_id = ?", (operation_id,)
                ).fetchone()[0]
            try:
                conn.execute(
                    "INSERT INTO changes (operation_id, seq, kind, forward_json, inverse_json, state,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (operation_id, seq, kind, _dumps(forward), _dumps(inverse), CHANGE_INTENT, now, now),
                )
            except sqlite3.IntegrityError:
                raise JournalError(
                    f"Change #{seq} of operation {operation_id} is already journaled."
                ) from None
            conn.execute("UPDATE operations SET updated_at = ? WHERE id = ?", (now, operation_id))
        return int(seq)

    def mark_change(
        self,
        operation_id: str,
        seq: int,
        state: str,
        *,
        request_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Record the outcome of a journaled change (APPLIED, FAILED or COMPENSATED)."""
        if state not in CHANGE_STATES:
            raise ValueError(f"unknown change state {state!r}; expected one of {', '.join(CHANGE_STATES)}")
        now = self._stamp()
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE changes SET state = ?, request_id = COALESCE(?, request_id),"
                " detail = COALESCE(?, detail), updated_at = ? WHERE operation_id = ? AND seq = ?",
                (state, request_id, detail, now, operation_id, seq),
            )
            if cursor.rowcount == 0:
                raise JournalError(f"Operation {operation_id} has no journaled change #{seq}.")
            conn.execute("UPDATE operations SET updated_at = ? WHERE id = ?", (now, operation_id))

    def changes(self, operation_id: str) -> list[Change]:
        """Return the operation's journaled changes in sequence order."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM changes WHERE operation_id = ? ORDER BY seq", (operation_id,)
            ).fetchall()
        return [
            Change(
                operation_id=row["operation_id"],
                seq=row["seq"],
                kind=row["kind"],
                forward=json.loads(row["forward_json"]),
                inverse=None if row["inverse_json"] is None else json.loads(row["inverse_json"]),
                state=row["state"],
                request_id=row["request_id"],
                detail=row["detail"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
            )
            for row in rows
        ]

    # -- retention ---------------------------------------------------------------------------

    def cleanup(self, retention_days: float, now: datetime | None = None) -> int:
        """Delete finished operations older than ``retention_days``; return how many.

        Never deletes a running operation, nor one that failed or was interrupted while it
        still has changes in INTENT or APPLIED state (they are needed to roll back).
        """
        if retention_days < 0:
            raise ValueError("retention_days must not be negative")
        # Reconcile first so that operations whose process died count as finished.
        self.list_operations(limit=None)
        cutoff = utc_timestamp(_as_utc(now or self._now()) - timedelta(days=retention_days))
        finished = ", ".join("?" for _ in FINISHED_STATUSES)
        unsettled = ", ".join("?" for _ in _UNSETTLED_STATUSES)
        with self._write() as conn:
            cursor = conn.execute(
                f"DELETE FROM operations WHERE status IN ({finished})"
                " AND COALESCE(finished_at, updated_at, started_at) < ?"
                f" AND NOT (status IN ({unsettled}) AND EXISTS (SELECT 1 FROM changes c"
                "   WHERE c.operation_id = operations.id AND c.state IN (?, ?)))",
                (*FINISHED_STATUSES, cutoff, *_UNSETTLED_STATUSES, CHANGE_INTENT, CHANGE_APPLIED),
            )
            return cursor.rowcount

    # -- internals ---------------------------------------------------------------------------

    def _reconcile(self, op: Operation) -> Operation:
        """Turn a ``running`` operation whose process is gone into ``interrupted`` (persisted)."""
        if op.status != RUNNING or not self._is_dead(op):
            return op
        with self._write() as conn:
            # Conditional on updated_at: if the owner wrote meanwhile it is alive after all.
            conn.execute(
                "UPDATE operations SET status = ?, finished_at = updated_at"
                " WHERE id = ? AND status = ? AND updated_at = ?",
                (INTERRUPTED, op.id, RUNNING, op.updated_at),
            )
            row = conn.execute("SELECT * FROM operations WHERE id = ?", (op.id,)).fetchone()
        return _operation(row)

    def _is_dead(self, op: Operation) -> bool:
        if op.host == self._host and op.pid is not None:
            if op.pid == os.getpid():
                return op.id not in _OWNED_OPERATIONS
            return not _pid_alive(op.pid)
        # Another host: we cannot see its processes, so go by the last sign of life.
        try:
            age = (self._now() - parse_timestamp(op.updated_at)).total_seconds()
        except ValueError:
            return False
        return age > self.stale_after

    def _require(self, conn: sqlite3.Connection, operation_id: str) -> None:
        if conn.execute("SELECT 1 FROM operations WHERE id = ?", (operation_id,)).fetchone() is None:
            raise _not_found(operation_id)

    def _now(self) -> datetime:
        return _as_utc(self._clock())

    def _stamp(self) -> str:
        return utc_timestamp(self._now())

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._translate():
            yield self._connection()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, committed on exit.

        IMMEDIATE takes the write lock up front, so waiting for another process happens in the
        busy handler instead of failing later with an unretryable upgrade conflict.
        """
        with self._lock, self._translate():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(f"The journal {self.path} is closed.")
        return self._conn

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise _journal_error(self.path, exc, self.busy_timeout) from exc


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the schema of ``conn`` up to ``SCHEMA_VERSION``; return the version found.

    Refuses databases that are not ours and journals from a newer awsideman.
    """
    found = _check_version(conn, path)
    if found == SCHEMA_VERSION:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = _check_version(conn, path)
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return found


def _check_version(conn: sqlite3.Connection, path: Path) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    foreign = app_id not in (0, APPLICATION_ID)
    if app_id == 0 and version == 0:
        # A brand-new file has no tables; any table means some other program's database.
        foreign = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] > 0
    if foreign:
        raise JournalError(
            f"{path} is not an awsideman journal (it is some other SQLite database).",
            remediation=[f"Move {path} aside or set AWSIDEMAN_HOME to another folder, then run again."],
        )
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"The journal {path} was written by a newer awsideman (journal schema version {version};"
            f" this awsideman supports up to version {SCHEMA_VERSION}).",
            remediation=[
                "Upgrade awsideman to the version that wrote this journal.",
                f"Or move {path} (and its -wal/-shm files) aside to start a new, empty journal.",
            ],
        )
    return version


def _connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    # umask is process-wide, so only one thread may change it at a time; the directory, the
    # database and the -wal/-shm files SQLite creates while we set WAL mode are all born private.
    with _UMASK_LOCK:
        old_umask = os.umask(0o077)
        try:
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise JournalError(f"Cannot create the folder for the journal {path}: {exc}") from exc
            try:
                conn = sqlite3.connect(
                    path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
                )
            except sqlite3.Error as exc:
                raise _journal_error(path, exc, busy_timeout) from exc
            try:
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA foreign_keys = ON")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise JournalError(f"Cannot switch the journal {path} to WAL mode (got {mode!r}).")
                # WAL with synchronous=NORMAL can lose the last commit on power loss; FULL makes
                # every checkpoint and change INTENT durable, which is the point of the journal.
                conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as exc:
                conn.close()
                raise _journal_error(path, exc, busy_timeout) from exc
            except BaseException:
                conn.close()
                raise
        finally:
            os.umask(old_umask)
    _make_private(path)
    return conn


def _make_private(path: Path) -> None:
    """Tighten a pre-existing journal (and its WAL files) that is readable by others."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = candidate.stat().st_mode
            if stat.S_IMODE(mode) & 0o077:
                candidate.chmod(0o600)
        except FileNotFoundError:
            continue
        except OSError:
            # Not our file (e.g. another user's) or a read-only file system: opening worked,
            # so leave the permissions as they are rather than fail.
            continue


def _journal_error(path: Path, exc: sqlite3.Error, busy_timeout: float) -> JournalError:
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    lowered = text.lower()
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in lowered or "busy" in lowered:
        return JournalError(
            f"The journal {path} is locked: another awsideman process holds it (waited {busy_timeout:g} s).",
            remediation=["Wait for the other awsideman command to finish, then run again."],
        )
    if (
        primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
        or "malformed" in lowered
        or ("not a database" in lowered)
    ):
        return JournalError(
            f"The journal {path} is corrupt or not a database ({text}).",
            remediation=[
                f"Move it aside, with its -wal/-shm files: mv {path} {path}.corrupt"
                " (a new, empty journal is created on the next run).",
                "Operation history and rollback data in the old file are then no longer used.",
            ],
        )
    return JournalError(
        f"Cannot use the journal {path}: {text}.",
        remediation=[f"Check that {path} and its folder exist and are writable by you."],
    )


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    # An exited but unreaped child still answers signal 0; on Linux its state says zombie.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _operation(row: sqlite3.Row) -> Operation:
    return Operation(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        params=json.loads(row["params_json"] or "{}"),
        backup_id=row["backup_id"],
        instance_arn=row["instance_arn"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        pid=row["pid"],
        host=row["host"],
        summary=None if row["summary_json"] is None else json.loads(row["summary_json"]),
    )


def _not_found(operation_id: str) -> OperationNotFoundError:
    return OperationNotFoundError(
        f"No operation {operation_id} in the journal.",
        remediation=["Run `awsideman report list` to see recent operations."],
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.value) if isinstance(value, Enum) else str(value)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

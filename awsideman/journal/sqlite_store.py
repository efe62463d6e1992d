"""The local journal's store: records in one SQLite file (``$AWSIDEMAN_HOME/state.db``).

Thin by design: it maps records to rows and checks a write's conditions inside one IMMEDIATE
transaction (so a read-check-write is atomic across the processes of this host); the rules are
the journal's. The file itself (privacy, WAL, schema migrations, error translation) is ``db.py``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from awsideman.core.exceptions import JournalError
from awsideman.journal.db import DEFAULT_BUSY_TIMEOUT, connect, migrate, translate
from awsideman.journal.store import KEYS, Action, Check, Delete, FenceLost, Put, Update, matches

__all__ = ["SqliteStore", "DEFAULT_BUSY_TIMEOUT"]

TABLES = {"operation": "operations", "lock": "locks", "checkpoint": "checkpoints", "change": "changes",
          "error": "errors"}
# Record field -> column, where they differ (JSON columns say so; an error's number is ``seq``,
# its ``id`` column being the file-wide row id).
COLUMNS: dict[str, dict[str, str]] = {
    "operation": {"params": "params_json", "summary": "summary_json", "sealing": "sealing_json",
                  "caller": "caller_json"},
    "lock": {},
    "checkpoint": {"data": "data_json"},
    "change": {"forward": "forward_json", "inverse": "inverse_json", "error": "error_json", "caller": "caller_json",
               "calls": "calls_json"},
    "error": {"id": "seq", "remediation": "remediation_json"},
}
FIELDS = {kind: {column: name for name, column in names.items()} for kind, names in COLUMNS.items()}
ORDER = {"operation": "started_at DESC, rowid DESC", "checkpoint": "created_at, rowid", "change": "seq",
         "error": "seq, id"}


class _Refused(Exception):  # noqa: N818 - internal: unwinds the transaction of a failed condition
    def __init__(self, index: int) -> None:
        self.index = index


class SqliteStore:
    """One connection to ``state.db`` shared by the threads of a process.

    One connection guarded by a re-entrant lock serves all threads: backups save checkpoints
    from worker threads, the writes are tiny, and it avoids per-thread connections that would
    each need closing.
    """

    max_actions = 1_000_000

    def __init__(self, path: Path, conn: sqlite3.Connection, *, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()
        self._fence: Check | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> SqliteStore:
        path = Path(path)
        conn = connect(path, busy_timeout)
        try:
            with translate(path, busy_timeout):
                migrate(conn, path)
        except BaseException:
            conn.close()
            raise
        return cls(path, conn, busy_timeout=busy_timeout)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def set_fence(self, fence: Check | None) -> None:
        self._fence = fence

    def get(self, kind: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._read() as conn:
            return self._select(conn, kind, key)

    def query(self, kind: str, operation_id: str | None = None, *, limit: int | None = None,
              filter_kind: str | None = None) -> list[dict[str, Any]]:
        sql, args = f"SELECT * FROM {TABLES[kind]}", list[Any]()
        if operation_id is not None:
            sql, args = sql + " WHERE operation_id = ?", [operation_id]
        elif filter_kind is not None:
            sql, args = sql + " WHERE kind = ?", [filter_kind]
        sql += f" ORDER BY {ORDER[kind]}"
        if limit is not None:
            sql, args = sql + " LIMIT ?", [*args, max(0, int(limit))]
        with self._read() as conn:
            return [_record(kind, row) for row in conn.execute(sql, args).fetchall()]

    def write(self, actions: Iterable[Action], *, wait: bool = True, fence: bool = True) -> int | None:
        actions = list(actions)
        try:
            with self._write() as conn:
                guard = self._fence if fence else None
                if guard is not None and not matches(self._select(conn, guard.kind, guard.key), guard.expect):
                    raise FenceLost(guard.expect.get("operation_id"))
                # Checks first: they write nothing, and a child's row needs its operation's (foreign key).
                for index in sorted(range(len(actions)), key=lambda i: not isinstance(actions[i], Check)):
                    self._apply(conn, index, actions[index])
        except _Refused as refused:
            return refused.index
        return None

    def purge(self, operation_id: str, kind: str | None = None) -> None:
        with self._write() as conn:
            for name in [kind] if kind else ["change", "checkpoint", "error"]:
                conn.execute(f"DELETE FROM {TABLES[name]} WHERE operation_id = ?", (operation_id,))

    def drop_values(self, operation_id: str, kind: str) -> None:
        """Nothing to do: every value lives in its record (an update replaced it in place)."""

    def _apply(self, conn: sqlite3.Connection, index: int, action: Action) -> None:
        if isinstance(action, Put):
            key = action.key
            if action.if_absent and self._select(conn, action.kind, key) is not None:
                raise _Refused(index)
            row = _row(action.kind, action.record)
            names = ", ".join(row)
            conflict = ", ".join(_column(action.kind, name) for name in KEYS[action.kind])
            updates = ", ".join(f"{name} = excluded.{name}" for name in row) or "operation_id = operation_id"
            conn.execute(f"INSERT INTO {TABLES[action.kind]} ({names}) VALUES ({', '.join('?' for _ in row)})"
                         f" ON CONFLICT ({conflict}) DO UPDATE SET {updates}", list(row.values()))
            return
        current = self._select(conn, action.kind, action.key)
        if isinstance(action, Delete):
            if action.expect and not matches(current, action.expect):
                raise _Refused(index)
            where, args = _where(action.kind, action.key)
            conn.execute(f"DELETE FROM {TABLES[action.kind]} WHERE {where}", args)
            return
        if not matches(current, action.expect):
            raise _Refused(index)
        if isinstance(action, Update) and action.set:
            row = _row(action.kind, action.set)
            where, args = _where(action.kind, action.key)
            conn.execute(f"UPDATE {TABLES[action.kind]} SET {', '.join(f'{name} = ?' for name in row)}"
                         f" WHERE {where}", [*row.values(), *args])

    def _select(self, conn: sqlite3.Connection, kind: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        where, args = _where(kind, key)
        row = conn.execute(f"SELECT * FROM {TABLES[kind]} WHERE {where}", args).fetchone()
        return None if row is None else _record(kind, row)

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, translate(self.path, self.busy_timeout):
            yield self._connection()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, committed on exit.

        IMMEDIATE takes the write lock up front, so waiting for another process happens in the
        busy handler instead of failing later with an unretryable upgrade conflict, and a
        read-check-write inside it is atomic across processes.
        """
        with self._lock, translate(self.path, self.busy_timeout):
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


def _column(kind: str, name: str) -> str:
    return COLUMNS[kind].get(name, name)


def _where(kind: str, key: tuple[Any, ...]) -> tuple[str, list[Any]]:
    names = KEYS[kind]
    return " AND ".join(f"{_column(kind, name)} = ?" for name in names), list(key)


def _row(kind: str, record: Any) -> dict[str, Any]:
    return {_column(kind, name): (int(value) if isinstance(value, bool) else value)
            for name, value in record.items()}


def _record(kind: str, row: sqlite3.Row) -> dict[str, Any]:
    names = FIELDS[kind]
    record = {names.get(column, column): row[column] for column in row.keys()  # noqa: SIM118 - a Row iterates its values
              if not (kind == "error" and column == "id")}
    if kind == "checkpoint":
        record["sealed"] = bool(record.get("sealed"))
    return record


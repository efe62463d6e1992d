"""The journal's SQLite file: connection, schema migrations, transactions and error translation.

DESIGN section 5. The file (``$AWSIDEMAN_HOME/state.db``) is opened in WAL mode so a crash
never loses a committed row and readers (``report``) do not block writers (a running backup).
Every write is one IMMEDIATE transaction committed before the method returns: a checkpoint or
a change INTENT that is not on disk is worth nothing after a kill -9.

Failure policy: a journal that is locked, corrupt or written by a newer awsideman raises
``JournalError`` naming the file and what to do. It is never reset or recreated silently,
because it is the only record of what a restore changed and how to roll it back.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from awsideman.core.exceptions import JournalError

SCHEMA_VERSION = 4
# "awid" in ASCII: marks the file as ours, so we never add tables to someone else's database.
APPLICATION_ID = 0x61776964
DEFAULT_BUSY_TIMEOUT = 5.0
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
    # v2: claims by owner token (compare-and-set), process start time against pid reuse,
    # encrypted checkpoints (the wrapped key lives with the operation), the per-instance lock,
    # and typed changes (address, analysed error).
    2: (
        "ALTER TABLE operations ADD COLUMN owner TEXT",
        "ALTER TABLE operations ADD COLUMN pid_started TEXT",
        "ALTER TABLE operations ADD COLUMN sealing_json TEXT",
        "ALTER TABLE checkpoints ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE locks (
            instance_arn TEXT PRIMARY KEY,
            operation_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            pid INTEGER,
            pid_started TEXT,
            acquired_at TEXT NOT NULL
        )""",
        "ALTER TABLE changes ADD COLUMN address TEXT",
        "ALTER TABLE changes ADD COLUMN error_json TEXT",
    ),
    # v3: the same records as the shared table (``journal/store.py``): leases and hosts (unused
    # locally, kept alike), and errors numbered per operation.
    3: (
        "ALTER TABLE operations ADD COLUMN lease_until REAL",
        "ALTER TABLE locks ADD COLUMN host TEXT",
        "ALTER TABLE locks ADD COLUMN lease_until REAL",
        "ALTER TABLE errors ADD COLUMN seq INTEGER",
        "UPDATE errors SET seq = (SELECT COUNT(*) FROM errors e"
        " WHERE e.operation_id = errors.operation_id AND e.id <= errors.id)",
        "CREATE UNIQUE INDEX errors_seq ON errors (operation_id, seq)",
    ),
    # v4: the audit trail (`report audit`): who ran an operation and journaled each change, a
    # change's first outcome and when (kept once it is compensated), the AWS request ids of its writes.
    4: (
        "ALTER TABLE operations ADD COLUMN caller_json TEXT",
        "ALTER TABLE changes ADD COLUMN caller_json TEXT",
        "ALTER TABLE changes ADD COLUMN outcome TEXT",
        "ALTER TABLE changes ADD COLUMN settled_at TEXT",
        "ALTER TABLE changes ADD COLUMN calls_json TEXT",
    ),
}


@contextlib.contextmanager
def translate(path: Path, busy_timeout: float) -> Iterator[None]:
    """SQLite errors (but integrity errors, which callers handle) as ``JournalError``."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.Error as exc:
        raise journal_error(path, exc, busy_timeout) from exc


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
    return int(version)


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Open ``path`` privately (0700 folder, 0600 files) in WAL mode with durable commits."""
    # umask is process-wide, so only one thread may change it at a time; the directory, the
    # database and the -wal/-shm files SQLite creates while we set WAL mode are all born private.
    with _UMASK_LOCK:
        old_umask = os.umask(0o077)
        try:
            conn = _open(path, busy_timeout)
        finally:
            os.umask(old_umask)
    _make_private(path)
    return conn


def _open(path: Path, busy_timeout: float) -> sqlite3.Connection:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(f"Cannot create the folder for the journal {path}: {exc}") from exc
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise journal_error(path, exc, busy_timeout) from exc
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
        raise journal_error(path, exc, busy_timeout) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _make_private(path: Path) -> None:
    """Tighten a pre-existing journal (and its WAL files) that is readable by others."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if stat.S_IMODE(candidate.stat().st_mode) & 0o077:
                candidate.chmod(0o600)
        except OSError:
            # Missing, not our file (another user's) or a read-only file system: opening
            # worked, so leave the permissions as they are rather than fail.
            continue


def journal_error(path: Path, exc: sqlite3.Error, busy_timeout: float) -> JournalError:
    """A ``JournalError`` that says what is wrong with the file and what to do."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    lowered = text.lower()
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in lowered or "busy" in lowered:
        return JournalError(
            f"The journal {path} is locked: another awsideman process holds it (waited {busy_timeout:g} s).",
            remediation=["Wait for the other awsideman command to finish, then run again."],
        )
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in lowered or (
        "not a database" in lowered
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

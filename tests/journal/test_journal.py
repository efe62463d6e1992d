"""Tests for awsideman.journal against real SQLite files (no mocks)."""

from __future__ import annotations

import contextlib
import enum
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import awsideman.journal.journal as journal_module
from awsideman.core.exceptions import InvalidIdError, JournalError, OperationNotFoundError
from awsideman.journal import DEFAULT_BUSY_TIMEOUT, SCHEMA_VERSION, Journal, parse_timestamp, utc_timestamp
from tests.journal.conftest import T0, Clock

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@contextlib.contextmanager
def raw(path: Path):
    """A plain sqlite3 connection, standing in for another process or a hand edit."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def run_child(db_path: Path, body: str, **popen) -> subprocess.Popen:
    """Run Python code in a separate process with ``journal`` opened on ``db_path``."""
    code = f"from awsideman.journal import Journal\njournal = Journal.open({str(db_path)!r})\n" + (
        textwrap.dedent(body)
    )
    return subprocess.Popen([sys.executable, "-c", code], text=True, stdout=subprocess.PIPE, **popen)


# -- operations -----------------------------------------------------------------------------


def test_operation_round_trip(journal: Journal, clock: Clock):
    params = {"resources": ["users", "groups"], "description": "nightly ünïcode"}
    op = journal.start_operation("backup", params, instance_arn="arn:aws:sso:::instance/ssoins-1")
    assert re.fullmatch(r"op-20240301T090000Z-[0-9a-f]{6}", op.id)
    assert op.kind == "backup"
    assert op.status == "running"
    assert op.params == params
    assert op.instance_arn == "arn:aws:sso:::instance/ssoins-1"
    assert op.pid == os.getpid()
    assert op.host == socket.gethostname()
    assert op.started_at == op.updated_at == "2024-03-01T09:00:00.000Z"
    assert op.finished_at is None and op.summary is None and op.backup_id is None

    clock.advance(minutes=3)
    summary = {"counts": {"users": 3}, "missing": []}
    done = journal.finish_operation(
        op.id, "succeeded", backup_id="bk-20240301T090000Z-abcdef", summary=summary
    )
    assert done == journal.get_operation(op.id)
    assert done.status == "succeeded"
    assert done.backup_id == "bk-20240301T090000Z-abcdef"
    assert done.summary == summary
    assert done.finished_at == "2024-03-01T09:03:00.000Z"
    assert done.to_dict()["operation_id"] == op.id


def test_explicit_operation_id_and_source_backup(journal: Journal):
    op = journal.start_operation(
        "restore", {}, operation_id="op-20240301T090000Z-000001", backup_id="bk-20240201T000000Z-aaaaaa"
    )
    assert op.id == "op-20240301T090000Z-000001"
    assert journal.get_operation(op.id).backup_id == "bk-20240201T000000Z-aaaaaa"
    with pytest.raises(JournalError, match="already exists"):
        journal.start_operation("restore", {}, operation_id=op.id)
    with pytest.raises(InvalidIdError):
        journal.start_operation("restore", {}, operation_id="../../x")


def test_finish_keeps_backup_id_and_summary_when_not_given(journal: Journal):
    op = journal.start_operation("restore", {}, backup_id="bk-20240201T000000Z-aaaaaa")
    done = journal.finish_operation(op.id, "failed")
    assert done.backup_id == "bk-20240201T000000Z-aaaaaa"
    assert done.summary is None


def test_bad_kind_and_status_are_programming_errors(journal: Journal):
    with pytest.raises(ValueError):
        journal.start_operation("party", {})
    op = journal.start_operation("backup", {})
    with pytest.raises(ValueError):
        journal.finish_operation(op.id, "running")
    with pytest.raises(ValueError):
        journal.finish_operation(op.id, "done")


def test_unknown_operation(journal: Journal):
    missing = "op-20240301T090000Z-ffffff"
    for call in (
        lambda: journal.get_operation(missing),
        lambda: journal.finish_operation(missing, "failed"),
        lambda: journal.claim_operation(missing, claimable=["failed"]),
    ):
        with pytest.raises(OperationNotFoundError, match=missing):
            call()


def test_list_is_newest_first_with_kind_filter_and_limit(journal: Journal, clock: Clock):
    ids = []
    for kind in ("backup", "restore", "backup", "rollback", "backup"):
        ids.append(journal.start_operation(kind, {}).id)
        clock.advance(seconds=30)
    # Two in the same second still list in creation order, newest first.
    ids.append(journal.start_operation("backup", {}).id)
    ids.append(journal.start_operation("backup", {}).id)

    assert [op.id for op in journal.list_operations()] == ids[::-1]
    assert [op.id for op in journal.list_operations(limit=2)] == ids[:-3:-1]
    assert [op.id for op in journal.list_operations(kind="restore")] == [ids[1]]
    assert len(journal.list_operations(limit=None, kind="backup")) == 5


def test_data_survives_reopen(db_path: Path):
    with Journal.open(db_path) as journal:
        op = journal.start_operation("backup", {"a": 1})
        journal.save_checkpoint(op.id, "users", [{"UserName": "alice"}])
        journal.finish_operation(op.id, "partial")
    with Journal.open(db_path) as journal:
        assert journal.get_operation(op.id).status == "partial"
        assert journal.checkpoints(op.id) == {"users": [{"UserName": "alice"}]}


def test_timestamps_are_iso_utc_with_z():
    stamp = utc_timestamp()
    assert TIMESTAMP.fullmatch(stamp)
    assert parse_timestamp("2024-03-01T09:00:00Z") == T0
    assert utc_timestamp(datetime(2024, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))) == (
        "2024-03-01T09:00:00.000Z"
    )


def test_timestamps_keep_milliseconds_and_order_as_text():
    """Durations of runs of seconds need the milliseconds; both forms parse, and they sort as text."""
    from awsideman.journal.records import timestamp_key

    early = utc_timestamp(T0 + timedelta(milliseconds=5))
    late = utc_timestamp(T0 + timedelta(milliseconds=994))
    assert (early, late) == ("2024-03-01T09:00:00.005Z", "2024-03-01T09:00:00.994Z")
    assert (parse_timestamp(late) - parse_timestamp(early)).total_seconds() == pytest.approx(0.989)
    assert parse_timestamp("2024-03-01T09:00:01Z") > parse_timestamp(late)
    stamps = ["2024-03-01T09:00:01Z", late, "2024-03-01T09:00:00Z", early, utc_timestamp(T0 + timedelta(seconds=1.5))]
    assert sorted(stamps, key=timestamp_key) == sorted(stamps, key=parse_timestamp)


def test_closed_journal_refuses_work(db_path: Path):
    journal = Journal.open(db_path)
    with journal:
        pass
    journal.close()  # twice is fine
    with pytest.raises(JournalError, match="closed"):
        journal.list_operations()


# -- checkpoints ----------------------------------------------------------------------------


def test_checkpoint_upsert_and_clear(journal: Journal, clock: Clock):
    op = journal.start_operation("backup", {})
    journal.save_checkpoint(op.id, "users", [1])
    journal.save_checkpoint(op.id, "groups", {"g": None})
    clock.advance(seconds=5)
    journal.save_checkpoint(op.id, "users", [1, 2])
    assert journal.checkpoints(op.id) == {"users": [1, 2], "groups": {"g": None}}
    # A checkpoint is also a heartbeat.
    assert journal.get_operation(op.id).updated_at == "2024-03-01T09:00:05.000Z"

    other = journal.start_operation("backup", {})
    journal.save_checkpoint(other.id, "users", ["x"])
    journal.clear_checkpoints(op.id)
    assert journal.checkpoints(op.id) == {}
    assert journal.checkpoints(other.id) == {"users": ["x"]}


def test_finishing_reads_only_the_checkpoints_it_deletes_in_its_transaction(journal: Journal,
                                                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(journal_module, "CHECKPOINTS_CLEARED_AT_FINISH", 3)
    op = journal.start_operation("backup", {})
    for step in range(7):
        journal.save_checkpoint(op.id, f"memberships:g-{step}", [step])
    read: list[int] = []
    real = journal.store.query

    def counted(kind: str, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = real(kind, *args, **kwargs)
        if kind == "checkpoint":
            read.append(len(rows))
        return rows

    monkeypatch.setattr(journal.store, "query", counted)
    journal.finish_operation(op.id, "succeeded", clear_checkpoints=True)
    assert read == [3]  # not every checkpoint's data (an enterprise backup's are the instance again)
    assert journal.checkpoints(op.id) == {}  # the other four were purged right after


def test_checkpoint_must_be_json(journal: Journal):
    op = journal.start_operation("backup", {})
    with pytest.raises(TypeError):
        journal.save_checkpoint(op.id, "users", {object()})
    assert journal.checkpoints(op.id) == {}


def test_concurrent_checkpoints_from_8_threads_share_one_journal(journal: Journal):
    op = journal.start_operation("backup", {})
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(20):
                journal.save_checkpoint(op.id, f"t{n}-{i}", {"n": n, "i": i})
                journal.save_checkpoint(op.id, "shared", n)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    saved = journal.checkpoints(op.id)
    assert len(saved) == 8 * 20 + 1
    assert saved["t7-19"] == {"n": 7, "i": 19}
    assert saved["shared"] in range(8)


def test_concurrent_checkpoints_through_separate_connections(db_path: Path):
    with Journal.open(db_path) as journal:
        op = journal.start_operation("backup", {})
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with Journal.open(db_path) as own:
                for i in range(25):
                    own.save_checkpoint(op.id, f"t{n}-{i}", i)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with Journal.open(db_path) as journal:
        assert len(journal.checkpoints(op.id)) == 200


# -- errors and changes ---------------------------------------------------------------------


class Category(enum.Enum):
    RATE_LIMITING = "rate_limiting"


@dataclass
class FakeErrorInfo:
    """Shaped like core.errors.ErrorInfo (only the attributes the journal reads)."""

    category: object = Category.RATE_LIMITING
    severity: str = "medium"
    code: str | None = "ThrottlingException"
    message: str = "Rate exceeded"
    recoverable: bool = True
    remediation: list[str] = field(default_factory=lambda: ["Wait and retry.", "Lower concurrency."])


def test_errors_round_trip(journal: Journal):
    op = journal.start_operation("backup", {})
    journal.record_error(op.id, FakeErrorInfo(), step="users")
    journal.record_error(
        op.id, FakeErrorInfo(category="storage", code=None, recoverable=False, remediation=[])
    )
    first, second = journal.errors(op.id)
    assert first["operation_id"] == op.id
    assert first["step"] == "users"
    assert first["category"] == "rate_limiting"
    assert first["severity"] == "medium"
    assert first["code"] == "ThrottlingException"
    assert first["message"] == "Rate exceeded"
    assert first["recoverable"] is True
    assert first["remediation"] == ["Wait and retry.", "Lower concurrency."]
    assert TIMESTAMP.fullmatch(first["created_at"])
    assert (second["step"], second["code"], second["recoverable"], second["remediation"]) == (
        None,
        None,
        False,
        [],
    )
    with pytest.raises(OperationNotFoundError):
        journal.record_error("op-20240301T090000Z-ffffff", FakeErrorInfo())


def test_changes_intent_then_outcome(journal: Journal):
    op = journal.start_operation("restore", {})
    forward = {"action": "create_user", "user_name": "alice"}
    inverse = {"action": "delete_user", "user_name": "alice"}
    assert journal.record_intent(op.id, "user", forward, inverse) == 1
    assert journal.record_intent(op.id, "group", {"g": 1}, None) == 2
    assert journal.record_intent(op.id, "assignment", {"a": 1}, {"a": -1}, seq=10) == 10
    journal.mark_change(op.id, 1, "APPLIED", request_id="req-1")
    journal.mark_change(op.id, 2, "FAILED", detail="ConflictException")
    journal.mark_change(op.id, 1, "COMPENSATED")

    changes = journal.changes(op.id)
    assert [(c.seq, c.kind, c.state) for c in changes] == [
        (1, "user", "COMPENSATED"),
        (2, "group", "FAILED"),
        (10, "assignment", "INTENT"),
    ]
    assert changes[0].forward == forward and changes[0].inverse == inverse
    assert changes[0].request_id == "req-1"
    assert changes[1].inverse is None and changes[1].detail == "ConflictException"

    with pytest.raises(JournalError, match="already journaled"):
        journal.record_intent(op.id, "user", forward, inverse, seq=1)
    with pytest.raises(JournalError, match="no journaled change #99"):
        journal.mark_change(op.id, 99, "APPLIED")
    with pytest.raises(ValueError):
        journal.mark_change(op.id, 1, "DONE")


# -- refusing bad files ---------------------------------------------------------------------


def test_newer_schema_is_refused(db_path: Path):
    Journal.open(db_path).close()
    with raw(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 41}")
    with pytest.raises(JournalError) as info:
        Journal.open(db_path)
    message = info.value.message
    assert str(db_path) in message
    assert f"version {SCHEMA_VERSION + 41}" in message
    assert f"up to version {SCHEMA_VERSION}" in message
    assert any("Upgrade" in step for step in info.value.remediation)
    with raw(db_path) as conn:  # untouched
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 41


def test_garbage_file_is_refused_and_left_alone(db_path: Path):
    db_path.parent.mkdir(parents=True)
    garbage = b"this is not sqlite at all\x00\xff" * 300
    db_path.write_bytes(garbage)
    with pytest.raises(JournalError) as info:
        Journal.open(db_path)
    assert str(db_path) in info.value.message
    assert "corrupt" in info.value.message
    assert any("Move it aside" in step for step in info.value.remediation)
    assert db_path.read_bytes() == garbage


def test_damaged_pages_are_reported_as_corrupt(db_path: Path):
    with Journal.open(db_path) as journal:
        op = journal.start_operation("backup", {})
        for i in range(200):
            journal.save_checkpoint(op.id, f"step-{i}", "x" * 200)
    # Closing the last connection folds the WAL into the main file; now smash every page but
    # the first (which holds the header and the schema).
    data = bytearray(db_path.read_bytes())
    assert len(data) > 8192
    data[4096:] = b"\xa5" * (len(data) - 4096)
    db_path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="corrupt") as info, Journal.open(db_path) as journal:
        journal.list_operations()
        journal.checkpoints(op.id)
    assert str(db_path) in info.value.message


def test_someone_elses_database_is_refused(db_path: Path):
    db_path.parent.mkdir(parents=True)
    with raw(db_path) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    with pytest.raises(JournalError, match="not an awsideman journal"):
        Journal.open(db_path)
    with raw(db_path) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert tables == ["recipes"]


def test_locked_journal_fails_after_the_busy_timeout(db_path: Path):
    Journal.open(db_path).close()
    with raw(db_path) as holder:
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute(
            "INSERT INTO operations (id, kind, status, started_at, updated_at)"
            " VALUES ('op-20240301T090000Z-000000', 'backup', 'running', 'x', 'x')"
        )
        started = time.monotonic()
        with pytest.raises(JournalError) as info, Journal.open(db_path, busy_timeout=0.2) as journal:
            journal.start_operation("backup", {})
        elapsed = time.monotonic() - started
        holder.execute("ROLLBACK")
    # Waited for the lock (a loaded machine only waits longer), then gave up well before the
    # default timeout would have: the given one was used. The message names it too.
    assert 0.15 <= elapsed < DEFAULT_BUSY_TIMEOUT
    assert "waited 0.2 s" in info.value.message
    assert "another awsideman process holds it" in info.value.message
    assert str(db_path) in info.value.message


def test_locked_new_database_fails_while_opening(db_path: Path):
    db_path.parent.mkdir(parents=True)
    with raw(db_path) as holder:
        holder.execute("CREATE TABLE IF NOT EXISTS t (x)")  # rollback-journal mode, not WAL
        holder.execute("DROP TABLE t")
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(JournalError, match="another awsideman process holds it"):
            Journal.open(db_path, busy_timeout=0.1)
        holder.execute("ROLLBACK")


def test_unwritable_location_is_a_journal_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JournalError, match="Cannot create the folder"):
        Journal.open(blocker / "state.db")


# -- interrupted detection ------------------------------------------------------------------


def test_operation_of_a_dead_process_is_interrupted(db_path: Path):
    child = run_child(db_path, 'print(journal.start_operation("backup", {}).id)')
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    op_id = out.strip()
    with raw(db_path) as conn:
        assert conn.execute("SELECT status FROM operations WHERE id = ?", (op_id,)).fetchone()[0] == "running"

    with Journal.open(db_path) as journal:
        assert [op.status for op in journal.list_operations()] == ["interrupted"]
        op = journal.get_operation(op_id)
        assert op.status == "interrupted"
        assert op.finished_at == op.updated_at
    with raw(db_path) as conn:  # persisted, not just reported
        assert (
            conn.execute("SELECT status FROM operations WHERE id = ?", (op_id,)).fetchone()[0]
            == "interrupted"
        )


def test_operation_with_an_exited_pid_is_interrupted(journal: Journal, db_path: Path):
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    op = journal.start_operation("backup", {})
    with raw(db_path) as conn:
        conn.execute("UPDATE operations SET pid = ?, owner = 'other' WHERE id = ?", (exited.pid, op.id))
    assert journal.get_operation(op.id).status == "interrupted"


def test_operation_of_a_live_process_stays_running_and_cannot_be_resumed(db_path: Path):
    child = run_child(
        db_path,
        """
        import sys
        print(journal.start_operation("backup", {}).id, flush=True)
        sys.stdin.readline()
        """,
        stdin=subprocess.PIPE,
    )
    try:
        op_id = child.stdout.readline().strip()
        with Journal.open(db_path) as journal:
            assert journal.get_operation(op_id).status == "running"
            with pytest.raises(JournalError, match="still running"):
                journal.claim_operation(op_id, claimable=["interrupted"])
    finally:
        child.communicate("\n", timeout=60)
    with Journal.open(db_path) as journal:
        assert journal.get_operation(op_id).status == "interrupted"
        resumed = journal.claim_operation(op_id, claimable=["interrupted"])
    assert resumed.status == "running"
    assert resumed.pid == os.getpid()
    assert resumed.finished_at is None


def test_own_pid_from_an_earlier_process_is_interrupted(journal: Journal, db_path: Path):
    # Containers often run the tool as the same pid every time: a row with our pid that this
    # process did not start belongs to a dead predecessor.
    with raw(db_path) as conn:
        conn.execute(
            "INSERT INTO operations (id, kind, status, started_at, updated_at, pid, host)"
            " VALUES ('op-20240301T080000Z-000000', 'backup', 'running', '2024-03-01T08:00:00Z',"
            " '2024-03-01T08:00:00Z', ?, ?)",
            (os.getpid(), socket.gethostname()),
        )
    mine = journal.start_operation("backup", {})
    assert journal.get_operation("op-20240301T080000Z-000000").status == "interrupted"
    assert journal.get_operation(mine.id).status == "running"


def test_reused_pid_with_another_start_time_is_interrupted(journal: Journal, db_path: Path):
    # A live process that merely got the dead owner's pid (start time differs) is not the owner.
    op = journal.start_operation("backup", {})
    with raw(db_path) as conn:
        conn.execute("UPDATE operations SET owner = 'earlier', pid = 1, pid_started = '0' WHERE id = ?", (op.id,))
    assert journal.get_operation(op.id).status == "interrupted"


def test_resume_of_a_failed_operation(journal: Journal, clock: Clock):
    op = journal.start_operation("backup", {})
    journal.save_checkpoint(op.id, "users", [1])
    journal.finish_operation(op.id, "failed")
    clock.advance(minutes=1)
    resumed = journal.claim_operation(op.id, claimable=["failed"])
    assert (resumed.status, resumed.finished_at, resumed.updated_at) == (
        "running",
        None,
        "2024-03-01T09:01:00.000Z",
    )
    assert resumed.started_at == op.started_at
    assert journal.checkpoints(op.id) == {"users": [1]}


# -- retention ------------------------------------------------------------------------------


def test_cleanup_respects_retention_and_unfinished_work(journal: Journal, clock: Clock):
    old_backup = journal.start_operation("backup", {})
    journal.save_checkpoint(old_backup.id, "users", [])
    journal.record_error(old_backup.id, FakeErrorInfo())
    journal.finish_operation(old_backup.id, "succeeded")

    still_running = journal.start_operation("backup", {})

    old_good_restore = journal.start_operation("restore", {})
    journal.record_intent(old_good_restore.id, "user", {"u": 1}, {"u": -1})
    journal.mark_change(old_good_restore.id, 1, "APPLIED")
    journal.finish_operation(old_good_restore.id, "succeeded")

    half_done_restore = journal.start_operation("restore", {})
    journal.record_intent(half_done_restore.id, "user", {"u": 2}, {"u": -2})
    journal.mark_change(half_done_restore.id, 1, "APPLIED")
    journal.finish_operation(half_done_restore.id, "rollback_failed")

    reverted_restore = journal.start_operation("restore", {})
    journal.record_intent(reverted_restore.id, "user", {"u": 3}, {"u": -3})
    journal.mark_change(reverted_restore.id, 1, "COMPENSATED")
    journal.finish_operation(reverted_restore.id, "failed")

    clock.advance(days=20)
    recent = journal.start_operation("backup", {})
    journal.finish_operation(recent.id, "failed")
    clock.advance(days=5)

    assert journal.cleanup(30) == 0
    assert journal.cleanup(21) == 3
    remaining = {op.id for op in journal.list_operations(limit=None)}
    assert remaining == {still_running.id, half_done_restore.id, recent.id}
    assert journal.errors(old_backup.id) == []
    assert journal.changes(old_good_restore.id) == []
    assert len(journal.changes(half_done_restore.id)) == 1

    assert journal.cleanup(0, now=clock.now + timedelta(days=1)) == 1  # only `recent` goes
    assert journal.get_operation(still_running.id).status == "running"
    with pytest.raises(ValueError):
        journal.cleanup(-1)


def test_cleanup_removes_old_interrupted_backups(db_path: Path, clock: Clock):
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    with Journal.open(db_path, clock=clock) as journal:
        op = journal.start_operation("backup", {})
        with raw(db_path) as conn:
            conn.execute("UPDATE operations SET pid = ?, owner = 'other' WHERE id = ?", (exited.pid, op.id))
        clock.advance(days=10)
        assert journal.cleanup(7) == 1
        assert journal.list_operations() == []


# -- permissions ----------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_new_journal_files_are_private(tmp_path: Path):
    db_path = tmp_path / "deep" / "home" / "state.db"
    old = os.umask(0o022)
    try:
        with Journal.open(db_path) as journal:
            journal.start_operation("backup", {})
            assert mode(db_path.parent) == 0o700
            assert mode(db_path.parent.parent) == 0o700
            assert mode(db_path) == 0o600
            for suffix in ("-wal", "-shm"):
                side = Path(f"{db_path}{suffix}")
                assert side.exists()
                assert mode(side) == 0o600
        assert os.umask(0o022) == 0o022  # the process umask was restored
    finally:
        os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_existing_readable_journal_is_tightened(db_path: Path):
    Journal.open(db_path).close()
    db_path.chmod(0o644)
    Journal.open(db_path).close()
    assert mode(db_path) == 0o600


def test_a_later_rollback_marks_the_restore_and_links_back(journal: Journal, clock: Clock):
    restore = journal.start_operation("restore", {"backup_id": "bk-20240301T090000Z-abcdef"})
    restore = journal.finish_operation(restore.id, "succeeded", summary={"counts": {"applied": 2}})
    first = journal.start_operation("rollback", {"restore_operation_id": restore.id})
    clock.advance(seconds=2)
    marked = journal.record_rollback(restore.id, first.id, "rollback_failed")
    assert marked.status == "rollback_failed" and marked.finished_at == restore.finished_at
    assert marked.summary == {"counts": {"applied": 2}, "ended_as": "succeeded", "rollbacks": [first.id],
                              "rolled_back_by": first.id}
    second = journal.start_operation("rollback", {"restore_operation_id": restore.id})
    done = journal.record_rollback(restore.id, second.id, "rolled_back")
    assert done.status == "rolled_back" and done.summary["rollbacks"] == [first.id, second.id]
    assert done.summary["ended_as"] == "succeeded" and done.summary["rolled_back_by"] == second.id
    assert journal.record_rollback(second.id, second.id, "rolled_back").status == "running"  # not while it runs
    with pytest.raises(ValueError):
        journal.record_rollback(restore.id, second.id, "succeeded")
    with pytest.raises(OperationNotFoundError):
        journal.record_rollback("op-20240301T090000Z-zzzzzz", second.id, "rolled_back")


# -- an operation that starts before discovery (issue 20 finding 14) --------------------------


def test_instance_and_sealing_are_recorded_after_the_start(journal: Journal):
    op = journal.start_operation("backup", {"resources": ["users"]})
    assert op.instance_arn is None and op.sealing is None
    journal.record_instance(op.id, "arn:aws:sso:::instance/ssoins-2")
    journal.record_sealing(op.id, {"key": "alias/backups", "wrapped": "AAAA"})
    seen = journal.get_operation(op.id)
    assert seen.instance_arn == "arn:aws:sso:::instance/ssoins-2"
    assert seen.sealing == {"key": "alias/backups", "wrapped": "AAAA"}
    assert journal.list_operations()[0].instance_arn == "arn:aws:sso:::instance/ssoins-2"
    with pytest.raises(OperationNotFoundError):
        journal.record_instance("op-20240301T090000Z-00000f", "arn:aws:sso:::instance/ssoins-2")


def test_discard_forgets_an_operation_that_did_nothing(journal: Journal):
    kept = journal.start_operation("backup", {})
    journal.finish_operation(kept.id, "succeeded")
    op = journal.start_operation("restore", {})
    journal.record_error(op.id, type("E", (), {"category": "validation", "message": "no"})())
    journal.discard_operation(op.id)
    assert [o.id for o in journal.list_operations()] == [kept.id]
    with pytest.raises(OperationNotFoundError):
        journal.get_operation(op.id)
    assert journal.errors(op.id) == []
    with pytest.raises(OperationNotFoundError):
        journal.discard_operation(op.id)


def test_discard_keeps_what_happened(journal: Journal):
    finished = journal.start_operation("backup", {})
    journal.finish_operation(finished.id, "failed")
    with pytest.raises(JournalError, match="no longer running"):
        journal.discard_operation(finished.id)  # a finished run is part of the record
    changed = journal.start_operation("restore", {})
    journal.record_intent(changed.id, "create", {"action": "create"}, {"action": "delete"}, address="user:a")
    with pytest.raises(JournalError, match="journaled changes"):
        journal.discard_operation(changed.id)
    assert {o.id for o in journal.list_operations()} == {finished.id, changed.id}

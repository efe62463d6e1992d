"""Claims, locks, sealed checkpoints, change transitions and the v1 -> v2 migration (real SQLite)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from awsideman.adapters.crypto import CheckpointSealer
from awsideman.core.exceptions import EncryptionError, JournalError, LockHeldError, OperationBusyError
from awsideman.journal import ChangeState, ChangeTransitionError, Journal, OperationStateError
from awsideman.journal.db import MIGRATIONS


def child(db_path: Path, body: str) -> subprocess.Popen:
    code = f"from awsideman.journal import Journal\njournal = Journal.open({str(db_path)!r})\n" + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", code], text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def test_two_processes_claiming_one_operation_exactly_one_wins(journal: Journal, db_path: Path):
    op = journal.start_operation("backup", {})
    journal.finish_operation(op.id, "interrupted")
    body = f"""
        import sys
        sys.stdin.readline()  # both start claiming together
        try:
            journal.claim_operation({op.id!r}, claimable=["interrupted", "failed"])
            print("won", flush=True)
        except Exception as exc:
            print("lost", type(exc).__name__, flush=True)
        sys.stdin.readline()  # the winner stays alive, so its claim is live
    """
    racers = [child(db_path, body) for _ in range(4)]
    for racer in racers:
        racer.stdin.write("\n")
        racer.stdin.flush()
    outcomes = [racer.stdout.readline().split() for racer in racers]
    for racer in racers:
        racer.communicate("\n", timeout=60)
    assert sorted(o[0] for o in outcomes) == ["lost", "lost", "lost", "won"]
    # The losers saw either a live owner or a status that is no longer claimable.
    assert {o[1] for o in outcomes if o[0] == "lost"} <= {"OperationBusyError", "OperationStateError"}


def test_claim_refuses_unclaimable_status_and_live_owner(journal: Journal):
    op = journal.start_operation("backup", {})
    journal.finish_operation(op.id, "succeeded")
    with pytest.raises(OperationStateError, match="succeeded"):
        journal.claim_operation(op.id, claimable=["failed", "interrupted"])
    running = journal.start_operation("backup", {})
    # Our own running operation is claimable by us (re-entrant), another process's is not.
    assert journal.claim_operation(running.id, claimable=["interrupted"]).status == "running"


def test_claim_of_operation_held_by_live_process_is_busy(db_path: Path):
    holder = child(db_path, """
        import sys
        print(journal.start_operation("backup", {}).id, flush=True)
        sys.stdin.readline()
    """)
    try:
        op_id = holder.stdout.readline().strip()
        with Journal.open(db_path) as journal, pytest.raises(OperationBusyError, match="still running"):
            journal.claim_operation(op_id, claimable=["interrupted"])
    finally:
        holder.communicate("\n", timeout=60)


def test_lock_is_exclusive_reentrant_and_stale_when_holder_dies(journal: Journal, db_path: Path):
    arn = "arn:aws:sso:::instance/ssoins-1"
    holder = child(db_path, f"""
        import sys
        op = journal.start_operation("restore", {{}}, {arn!r})
        journal.acquire_lock({arn!r}, op.id)
        print(op.id, flush=True)
        sys.stdin.readline()
    """)
    held_by = holder.stdout.readline().strip()
    mine = journal.start_operation("restore", {}, arn)
    with pytest.raises(LockHeldError, match=held_by) as raised:
        journal.acquire_lock(arn, mine.id)
    assert raised.value.exit_code == 6
    waited: list[float] = []
    with pytest.raises(LockHeldError):
        journal.wait_for_lock(arn, mine.id, timeout=1.0, sleep=waited.append, poll=0.25)
    assert sum(waited) == pytest.approx(1.0)
    holder.communicate("\n", timeout=60)  # the holder exits without releasing: a stale lock
    stale = journal.acquire_lock(arn, mine.id)
    assert stale is not None and stale.operation_id == held_by and not stale.alive
    assert journal.acquire_lock(arn, mine.id) is None  # re-entrant for the same operation
    journal.release_lock(arn, mine.id)
    assert journal.lock_holder(arn) is None


def test_sealed_checkpoints_hold_no_plaintext(journal: Journal, db_path: Path):
    sealer = CheckpointSealer(os.urandom(32))
    op = journal.start_operation("backup", {}, sealing={"kms_key_id": "k", "encrypted_data_key": "AAAA"})
    journal.save_checkpoint(op.id, "users", [{"Emails": [{"Value": "alice@example.com"}]}], sealer)
    assert journal.checkpoints(op.id, sealer) == {"users": [{"Emails": [{"Value": "alice@example.com"}]}]}
    assert journal.get_operation(op.id).sealing == {"kms_key_id": "k", "encrypted_data_key": "AAAA"}
    journal.close()
    for name in ("state.db", "state.db-wal"):
        path = db_path.parent / name
        if path.exists():
            assert b"alice@example.com" not in path.read_bytes()
    with Journal.open(db_path) as again:
        with pytest.raises(JournalError, match="encrypted"):
            again.checkpoints(op.id)
        with pytest.raises(EncryptionError):
            again.checkpoints(op.id, CheckpointSealer(os.urandom(32)))


def test_success_deletes_checkpoints_in_the_same_transaction(journal: Journal):
    op = journal.start_operation("backup", {})
    journal.save_checkpoint(op.id, "users", [1])
    journal.finish_operation(op.id, "succeeded", clear_checkpoints=True)
    assert journal.checkpoints(op.id) == {}


def test_summaries_params_and_errors_are_sanitised(journal: Journal, db_path: Path):
    secret = "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    op = journal.start_operation("backup", {"note": secret})
    journal.finish_operation(op.id, "failed", summary={"error": f"boom {secret}"})
    journal.record_error(op.id, type("E", (), {"message": secret, "remediation": [secret]})())
    journal.close()
    dump = "\n".join(sqlite3.connect(db_path).iterdump())
    assert "wJalrXUtnFEMI" not in dump


def test_change_state_machine_refuses_free_form_transitions(journal: Journal):
    op = journal.start_operation("restore", {})
    seq = journal.record_intent(op.id, "user:create", {"u": 1}, {"u": -1}, address="user:alice")
    journal.mark_change(op.id, seq, ChangeState.APPLIED, request_id="r-1")
    with pytest.raises(ChangeTransitionError, match="APPLIED to FAILED"):
        journal.mark_change(op.id, seq, ChangeState.FAILED)
    with pytest.raises(ChangeTransitionError, match="APPLIED to INTENT"):
        journal.mark_change(op.id, seq, ChangeState.INTENT)
    journal.mark_change(op.id, seq, ChangeState.COMPENSATED)
    with pytest.raises(ChangeTransitionError):
        journal.mark_change(op.id, seq, ChangeState.APPLIED)
    second = journal.record_intent(op.id, "group:create", {}, {})
    journal.mark_change(op.id, second, "FAILED", error={"code": "AccessDenied", "message": "no"})
    records = journal.changes(op.id)
    assert [(r.address, r.state, r.settled) for r in records] == [
        ("user:alice", ChangeState.COMPENSATED, True), (None, ChangeState.FAILED, True)]
    assert records[1].error == {"code": "AccessDenied", "message": "no"}


def test_version_1_journal_is_migrated_keeping_its_rows(db_path: Path):
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    for statement in MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO operations (id, kind, status, started_at, updated_at, pid) VALUES"
                 " ('op-20240301T080000Z-000000', 'backup', 'failed', '2024-03-01T08:00:00Z',"
                 " '2024-03-01T08:00:00Z', 1)")
    conn.close()
    with Journal.open(db_path) as journal:
        op = journal.get_operation("op-20240301T080000Z-000000")
        assert op.status == "failed" and op.owner is None
        assert journal.claim_operation(op.id, claimable=["failed"]).status == "running"

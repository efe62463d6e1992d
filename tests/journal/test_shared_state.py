"""What only the shared (DynamoDB) journal has: leases instead of pids, fencing, values in S3,
`state init` / `state migrate`, and a restore that loses its backend (in-process emulator, real
boto3 through the AWS gateway). Two runners on two machines are two journals with their own
identity and clock in one process."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from awsideman.config import Settings
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import JournalError, LeaseLostError, LockHeldError, OperationBusyError
from awsideman.journal import ChangeState, Journal
from awsideman.journal import dynamo_items as items
from awsideman.services.state_admin import init_state, migrate_state
from tests.journal.conftest import BUCKET, T0, TABLE, Clock, dynamo_journal, shared_table

INSTANCE = "arn:aws:sso:::instance/ssoins-shared"
A = ("token-of-machine-a", 101, "1")
B = ("token-of-machine-b", 202, "2")


class LocalClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


OPENED: list[Any] = []


@pytest.fixture
def shared(sandbox: Any) -> Any:
    shared_table(sandbox)
    yield sandbox
    while OPENED:  # stop their heartbeats while the emulator still answers
        OPENED.pop().close()


def runner(identity: tuple[str, int, str], clock: Clock | None = None, **kwargs: Any) -> Any:
    journal = dynamo_journal(clock or Clock(), identity=identity, lease_seconds=30, **kwargs)
    OPENED.append(journal)
    return journal


def settings(home: Path, **extra: Any) -> Settings:
    return Settings(home=home, region="us-east-1", state=f"dynamodb://{TABLE}", state_s3=f"s3://{BUCKET}/state",
                    **extra)


def test_a_lock_is_taken_over_only_after_its_lease_and_the_old_holder_is_fenced_off(shared):
    clock_a, clock_b = Clock(), Clock()
    a, b = runner(A, clock_a), runner(B, clock_b)
    restore = a.start_operation("restore", {}, INSTANCE)
    a.acquire_lock(INSTANCE, restore.id)
    seq = a.record_intent(restore.id, "create:user", {"n": 1}, {"n": -1}, address="user:x")

    with pytest.raises(LockHeldError) as held:
        b.acquire_lock(INSTANCE, "op-20240301T090000Z-bbbbbb")
    assert f"Operation {restore.id} (pid 101 on " in held.value.message and "lease until" in held.value.message

    clock_b.advance(seconds=31)  # A's lease (30 s) has run out, as B's clock sees it
    stale = b.acquire_lock(INSTANCE, "op-20240301T090000Z-bbbbbb")
    assert stale is not None and stale.operation_id == restore.id and stale.expires_at is not None
    assert b.get_operation(restore.id).status == "interrupted"

    with pytest.raises(LeaseLostError):  # A was paused: its next write is refused...
        a.mark_change(restore.id, seq, ChangeState.APPLIED)
    with pytest.raises(LeaseLostError):  # ...and so is everything after it, without asking the table
        a.record_intent(restore.id, "create:user", {}, {})
    assert [c.state for c in b.changes(restore.id)] == [ChangeState.INTENT]
    assert b.lock_holder(INSTANCE).operation_id == "op-20240301T090000Z-bbbbbb"


def test_a_runner_stops_by_its_own_clock_once_it_cannot_vouch_for_its_lease(shared):
    local = LocalClock()
    a = runner(A, local=local)
    restore = a.start_operation("restore", {}, INSTANCE)
    a.acquire_lock(INSTANCE, restore.id)
    a.ensure_lease()
    local.now += 25  # within the lease minus its safety margin (30 - 5)
    a.ensure_lease()
    local.now += 0.5
    with pytest.raises(LeaseLostError, match="paused or cut off"):
        a.ensure_lease()


def test_renewal_extends_the_lease_and_a_lost_lock_is_noticed_by_the_heartbeat(shared):
    clock_a, clock_b = Clock(), Clock()
    a, b = runner(A, clock_a), runner(B, clock_b)
    restore = a.start_operation("restore", {}, INSTANCE)
    a.acquire_lock(INSTANCE, restore.id)
    first = a.lock_holder(INSTANCE).expires_at
    clock_a.advance(seconds=20)
    a.renew()
    assert a.lock_holder(INSTANCE).expires_at > first
    clock_b.advance(seconds=40)  # still held for B: renewed until T0 + 50 s
    with pytest.raises(LockHeldError):
        b.acquire_lock(INSTANCE, "op-20240301T090000Z-bbbbbb")
    clock_b.advance(seconds=20)
    b.acquire_lock(INSTANCE, "op-20240301T090000Z-bbbbbb")
    with pytest.raises(LeaseLostError, match="took the instance's lock over"):
        a.renew()


def test_claims_across_machines_wait_for_the_lease(shared):
    clock_a, clock_b = Clock(), Clock()
    a, b = runner(A, clock_a), runner(B, clock_b)
    backup = a.start_operation("backup", {})
    a.save_checkpoint(backup.id, "users", [{"UserName": "alice"}])
    with pytest.raises(OperationBusyError, match="on "):
        b.claim_operation(backup.id, claimable=["interrupted", "failed"])
    clock_b.advance(minutes=5)
    assert b.claim_operation(backup.id, claimable=["interrupted", "failed"]).owner == B[0]
    assert b.checkpoints(backup.id) == {"users": [{"UserName": "alice"}]}  # resumed where A stopped
    with pytest.raises(JournalError, match="no longer owned"):
        a.finish_operation(backup.id, "succeeded")
    assert b.finish_operation(backup.id, "succeeded", clear_checkpoints=True).status == "succeeded"
    assert b.checkpoints(backup.id) == {}


def test_large_values_live_in_s3_checked_by_their_digest(shared):
    journal = runner(A)
    op = journal.start_operation("backup", {})
    big = [{"UserName": f"user{i}", "Padding": "x" * 200} for i in range(600)]  # ~130 KiB
    journal.save_checkpoint(op.id, "users", big)
    seq = journal.record_intent(op.id, "create:user", big, big)
    assert journal.checkpoints(op.id) == {"users": big}
    assert journal.changes(op.id)[0].inverse == big
    s3 = shared.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="state/")["Contents"]]
    assert len(keys) == 3 and all(k.startswith(f"state/{TABLE}/{op.id}/") for k in keys)
    assert all(s3.head_object(Bucket=BUCKET, Key=k)["ServerSideEncryption"] for k in keys)
    forward = next(k for k in keys if k.endswith(f"{seq:010d}.forward.json"))
    s3.put_object(Bucket=BUCKET, Key=forward, Body=b"[]")
    with pytest.raises(JournalError, match="does not match the checksum"):
        journal.changes(op.id)


def test_init_creates_once_checks_after_and_refuses_other_tables(shared, tmp_path):
    again = init_state(settings(tmp_path), sleep=lambda _s: None)
    assert not again.created and "already exists" in again.notes[0]
    dynamodb = shared.client("dynamodb")
    dynamodb.create_table(TableName="someone-else", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    with pytest.raises(JournalError, match="another key schema"):
        init_state(replace(settings(tmp_path), state="dynamodb://someone-else"))
    dynamodb.create_table(TableName="lookalike", KeySchema=items.KEY_SCHEMA, AttributeDefinitions=items.ATTRIBUTES,
                          BillingMode="PAY_PER_REQUEST")
    dynamodb.put_item(TableName="lookalike", Item=items.key("x", "y"))
    with pytest.raises(JournalError, match="not an awsideman state table"):
        init_state(replace(settings(tmp_path), state="dynamodb://lookalike"))
    assert dynamodb.scan(TableName="lookalike")["Count"] == 1  # left alone
    with pytest.raises(JournalError, match="missing-table does not exist") as missing:
        dynamo_journal_for("missing-table")
    assert "state init" in missing.value.remediation[0]


def dynamo_journal_for(table: str) -> Any:
    from awsideman.services.state_backend import open_journal

    return open_journal(Settings(home=Path("/nonexistent"), region="us-east-1", state=f"dynamodb://{table}",
                                 state_s3=f"s3://{BUCKET}/state"))


def test_migrate_copies_a_local_journal_once(shared, tmp_path):
    home = tmp_path / "laptop"
    with Journal.open(home / "state.db", clock=Clock()) as local:
        restore = local.start_operation("restore", {"prune": True}, INSTANCE, backup_id="bk-20240301T000000Z-aaaaaa")
        seq = local.record_intent(restore.id, "create:user", {"u": 1}, {"u": -1}, address="user:alice")
        local.mark_change(restore.id, seq, ChangeState.APPLIED, request_id="req-1")
        local.record_error(restore.id, ErrorAnalyzer().analyze(RuntimeError("boom")))
        local.finish_operation(restore.id, "failed", summary={"applied": 1})
        backup = local.start_operation("backup", {})
        local.save_checkpoint(backup.id, "users", [{"UserName": "alice"}])
        local.finish_operation(backup.id, "interrupted")

    dry = migrate_state(settings(home), dry_run=True)
    assert dry.copied == [restore.id, backup.id] and runner(A).list_operations() == []
    done = migrate_state(settings(home))
    assert done.copied == [restore.id, backup.id] and done.items > 2
    shared_journal = runner(A)
    copied = shared_journal.get_operation(restore.id)
    assert (copied.status, copied.backup_id, copied.summary) == ("failed", "bk-20240301T000000Z-aaaaaa", {"applied": 1})
    change = shared_journal.changes(restore.id)[0]
    assert (change.state, change.request_id, change.inverse, change.address) == (
        ChangeState.APPLIED, "req-1", {"u": -1}, "user:alice")
    assert shared_journal.errors(restore.id)[0]["message"] == "boom"
    assert shared_journal.checkpoints(backup.id) == {"users": [{"UserName": "alice"}]}
    assert migrate_state(settings(home)).skipped == [restore.id, backup.id]


def test_a_cancelled_transaction_is_retried_only_when_every_reason_says_so():
    def cancelled(*codes: str) -> ClientError:
        return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                            "CancellationReasons": [{"Code": c} for c in codes]}, "TransactWriteItems")

    analyzer = ErrorAnalyzer()
    assert analyzer.analyze(cancelled("None", "TransactionConflict")).recoverable
    assert analyzer.analyze(cancelled("ThrottlingError")).category == "rate_limiting"
    assert not analyzer.analyze(cancelled("TransactionConflict", "ConditionalCheckFailed")).recoverable


def test_retention_removes_old_operations_with_their_items_and_objects(shared):
    clock = Clock()
    journal = runner(A, clock)
    old = journal.start_operation("backup", {})
    journal.save_checkpoint(old.id, "users", [{"Padding": "x" * 70_000}])
    journal.finish_operation(old.id, "failed")
    clock.advance(days=40)
    recent = journal.start_operation("backup", {})
    journal.finish_operation(recent.id, "succeeded")
    assert journal.cleanup(30, now=T0 + timedelta(days=40)) == 1
    assert [op.id for op in journal.list_operations()] == [recent.id]
    assert shared.client("dynamodb").query(
        TableName=TABLE, KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": items.partition(old.id)}})["Count"] == 0
    assert "Contents" not in shared.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"state/{TABLE}/{old.id}")


def test_concurrent_writes_share_transactions_and_one_refusal_does_not_sink_the_others(shared):
    journal = runner(A)
    op = journal.start_operation("restore", {}, INSTANCE)
    journal.acquire_lock(INSTANCE, op.id)
    journal.record_intent(op.id, "create:user", {}, {}, seq=1)
    barrier, results = threading.Barrier(8), {}

    def worker(n: int) -> None:
        barrier.wait()
        try:  # worker 0 journals a change number that is taken: only its write is refused
            results[n] = journal.record_intent(op.id, "create:user", {"n": n}, {}, seq=1 if n == 0 else 100 + n)
        except JournalError as exc:
            results[n] = exc

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert isinstance(results.pop(0), JournalError)
    assert sorted(results.values()) == list(range(101, 108))
    assert [c.seq for c in journal.changes(op.id)] == [1, *range(101, 108)]


def test_a_reader_that_may_not_write_still_sees_an_expired_operation_as_interrupted(shared):
    clock_b = Clock()
    a, b = runner(A), runner(B, clock_b)
    restore = a.start_operation("restore", {}, INSTANCE)
    clock_b.advance(seconds=31)  # A's lease has run out, as B's clock sees it
    shared.set_faults({"rules": [{"operation": write, "fail_after": 0, "error": "AccessDeniedException"}
                                 for write in ("UpdateItem", "TransactWriteItems")]})
    try:
        assert [op.status for op in b.list_operations()] == ["interrupted"]  # an auditor's role: no writes
        assert b.get_operation(restore.id).status == "interrupted"
    finally:
        shared.set_faults(None)
    assert a.get_operation(restore.id).status == "running"  # the view was computed, nothing was written
    assert b.get_operation(restore.id).status == "interrupted"  # with write access it is recorded
    assert a.get_operation(restore.id).status == "interrupted"


def test_only_the_owner_records_the_instance_or_discards_an_operation(shared):
    a, b = runner(A), runner(B)
    op = a.start_operation("restore", {})
    with pytest.raises(JournalError, match="no longer owned"):
        b.record_instance(op.id, INSTANCE)
    with pytest.raises(JournalError, match="no longer running in this process"):
        b.discard_operation(op.id)
    a.record_instance(op.id, INSTANCE)
    a.save_checkpoint(op.id, "users", [{"UserName": "alice"}])
    a.discard_operation(op.id)
    assert b.list_operations() == [] and b.checkpoints(op.id) == {}
    a.renew()  # the heartbeat no longer renews the discarded operation (nor recreates it)
    assert b.list_operations() == []


def test_a_rollback_waits_for_a_restore_whose_lease_is_live_then_names_its_runner(shared):
    clock_a, clock_b = Clock(), Clock()
    a, b = runner(A, clock_a), runner(B, clock_b)
    restore = a.start_operation("restore", {}, INSTANCE)
    waited: list[float] = []
    with pytest.raises(LockHeldError) as refused:  # A's lease (30 s) is live: B waits, then gives up
        b.wait_until_stopped(restore.id, timeout=2.0, sleep=waited.append, poll=0.5)
    assert sum(waited) == pytest.approx(2.0)
    message = refused.value.message
    assert f"Operation {restore.id} (pid 101 on " in message and "lease until 2024-03-01T09:00:31" in message
    assert refused.value.exit_code == 6

    def finish_while_waiting(seconds: float) -> None:
        a.finish_operation(restore.id, "succeeded")
    assert b.wait_until_stopped(restore.id, timeout=5.0, sleep=finish_while_waiting).status == "succeeded"

    other = a.start_operation("restore", {}, INSTANCE)
    clock_b.advance(seconds=31)  # A's lease has run out, as B's clock sees it: nothing to wait for
    assert b.wait_until_stopped(other.id, timeout=0.0, sleep=waited.append).status == "interrupted"


def test_intents_queued_behind_a_commit_go_out_together_in_one_transaction(shared):
    """Each intent checks its operation; equal checks share one action, so the intents of concurrent
    workers are one round trip, not one each (without sharing, no two could share a transaction)."""
    journal = runner(A)
    op = journal.start_operation("restore", {}, INSTANCE)
    journal.acquire_lock(INSTANCE, op.id)
    journal.record_intent(op.id, "create:user", {}, {})  # the next numbers are known from here on
    store = journal.store
    with store._lock:  # another thread's commit is in flight: whatever is written now waits for it
        store._leading = True
    results: dict[int, int] = {}
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(
        n, journal.record_intent(op.id, "create:user", {"n": n}, {"n": -n}))) for n in range(40)]
    for thread in threads:
        thread.start()
    while len(store._queue) < 40:
        threading.Event().wait(0.01)
    before = shared.faults.counters().get("dynamodb:TransactWriteItems", 0)
    store._lead()  # the commit in flight ended: its thread takes what was queued meanwhile
    for thread in threads:
        thread.join()
    assert shared.faults.counters()["dynamodb:TransactWriteItems"] - before == 1
    assert sorted(results.values()) == list(range(2, 42))
    changes = journal.changes(op.id)
    assert [c.seq for c in changes] == list(range(1, 42))
    assert all(c.state == ChangeState.INTENT.value for c in changes)
    # A refused intent among shared checks: only its writer hears of it, the others are committed.
    with store._lock:
        store._leading = True
    outcome: dict[int, Any] = {}

    def intent(n: int, seq: int) -> None:
        try:
            outcome[n] = journal.record_intent(op.id, "create:user", {"n": n}, {}, seq=seq)
        except JournalError as exc:
            outcome[n] = exc

    threads = [threading.Thread(target=intent, args=(n, 5 if n == 0 else 100 + n)) for n in range(6)]
    for thread in threads:
        thread.start()
    while len(store._queue) < 6:
        threading.Event().wait(0.01)
    store._lead()
    for thread in threads:
        thread.join()
    assert isinstance(outcome.pop(0), JournalError)
    assert sorted(outcome.values()) == list(range(101, 106))

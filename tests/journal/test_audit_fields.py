"""What the journal keeps for the audit trail (`report audit`), in both stores: the caller of an
operation and of each change it journals, a change's first outcome and when (kept once it is
compensated), and the AWS request ids of the writes its call sent."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

from awsideman.journal import ChangeState, Journal
from awsideman.journal.db import MIGRATIONS, SCHEMA_VERSION
from tests.journal.conftest import Clock

ALICE = {"arn": "arn:aws:sts::111122223333:assumed-role/Ops/alice", "account": "111122223333"}
BOB = {"arn": "arn:aws:iam::111122223333:user/bob", "account": "111122223333"}
CALLS = [{"api": "identitystore:CreateUser", "request_id": "5f0c6a5e-1111-4a4a-9e9e-000000000001"}]


def test_the_caller_is_recorded_on_the_operation_and_on_every_change_journaled_after(journal: Journal):
    op = journal.start_operation("restore", {})
    before = journal.record_intent(op.id, "user:create", {"address": "user:early"}, None)
    journal.record_instance(op.id, "arn:aws:sso:::instance/ssoins-1", caller=ALICE)
    after = journal.record_intent(op.id, "user:create", {"address": "user:later"}, None)
    mine = dict(ALICE, host=socket.gethostname())
    assert journal.get_operation(op.id).caller == mine
    assert journal.list_operations()[0].caller == mine
    assert {r.seq: r.caller for r in journal.changes(op.id)} == {before: None, after: mine}


def test_a_resumed_run_records_its_own_caller_and_keeps_who_made_the_earlier_changes(open_journal, clock: Clock):
    first = open_journal(clock)
    op = first.start_operation("restore", {})
    first.record_instance(op.id, "arn:aws:sso:::instance/ssoins-1", caller=ALICE)
    seq = first.record_intent(op.id, "user:create", {}, None)
    first.finish_operation(op.id, "failed")
    second = open_journal(clock)
    second.claim_operation(op.id, claimable=["failed"])
    second.record_instance(op.id, "arn:aws:sso:::instance/ssoins-1", caller=BOB)
    later = second.record_intent(op.id, "user:create", {}, None)
    assert second.get_operation(op.id).caller["arn"] == BOB["arn"]
    assert {r.seq: r.caller["arn"] for r in second.changes(op.id)} == {seq: ALICE["arn"], later: BOB["arn"]}


def test_outcome_settled_at_and_calls_survive_the_compensation(journal: Journal, clock: Clock):
    op = journal.start_operation("restore", {})
    applied = journal.record_intent(op.id, "user:create", {}, {})
    failed = journal.record_intent(op.id, "permission_set:create", {}, {})
    unknown = journal.record_intent(op.id, "user:update", {}, {})
    clock.advance(seconds=2)
    journal.mark_change(op.id, applied, ChangeState.APPLIED, calls=CALLS)
    refused = [{"api": "sso-admin:PutInlinePolicyToPermissionSet", "request_id": "r-2", "error": "ValidationException"}]
    journal.mark_change(op.id, failed, ChangeState.FAILED, calls=refused, error={"code": "ValidationException"})
    settled = {r.seq: r.updated_at for r in journal.changes(op.id)}
    clock.advance(seconds=5)
    for seq in (applied, failed, unknown):
        journal.mark_change(op.id, seq, ChangeState.COMPENSATED)
    records = {r.seq: r for r in journal.changes(op.id)}
    assert all(r.state is ChangeState.COMPENSATED for r in records.values())
    assert (records[applied].outcome, records[applied].settled_at, records[applied].calls) == (
        "APPLIED", settled[applied], CALLS)
    assert (records[failed].outcome, records[failed].calls) == ("FAILED", refused)
    assert records[applied].updated_at > records[applied].settled_at  # the compensation did not move it
    assert (records[unknown].outcome, records[unknown].settled_at, records[unknown].calls) == (None, None, None)


def test_an_asynchronous_request_keeps_the_calls_that_started_it_when_it_settles_later(journal: Journal):
    op = journal.start_operation("restore", {})
    seq = journal.record_intent(op.id, "assignment:create", {}, {})
    sent = [{"api": "sso-admin:CreateAccountAssignment", "request_id": "aws-1"}]
    journal.record_request(op.id, seq, "async-1", calls=sent)
    journal.mark_change(op.id, seq, ChangeState.APPLIED, detail="request async-1 SUCCEEDED")
    record = journal.changes(op.id)[0]
    assert (record.request_id, record.calls, record.outcome) == ("async-1", sent, "APPLIED")


def test_a_version_3_journal_gains_the_audit_columns_keeping_its_rows(db_path: Path):
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    for version in (1, 2, 3):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO operations (id, kind, status, started_at, updated_at, pid) VALUES"
                 " ('op-20240301T080000Z-000000', 'restore', 'failed', '2024-03-01T08:00:00.000Z',"
                 " '2024-03-01T08:00:00.000Z', 1)")
    conn.execute("INSERT INTO changes (operation_id, seq, kind, forward_json, state, created_at, updated_at) VALUES"
                 " ('op-20240301T080000Z-000000', 1, 'user:create', '{}', 'APPLIED', '2024-03-01T08:00:00.000Z',"
                 " '2024-03-01T08:00:01.000Z')")
    conn.close()
    with Journal.open(db_path) as journal:
        assert journal.get_operation("op-20240301T080000Z-000000").caller is None
        record = journal.changes("op-20240301T080000Z-000000")[0]
        assert (record.state, record.outcome, record.calls, record.caller) == (ChangeState.APPLIED, None, None, None)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    conn.close()

"""The inverse retention (`rollback.inverse_retention_days`): once a restore ended that long ago,
the retention pass purges the previous attribute values its changes hold (their inverses and the
before/after of the forward records), in the SQLite file and in the shared table (large values in
S3 included); what the audit trail shows (address, action, attribute names, request ids) stays."""

from __future__ import annotations

import json

from awsideman.core.changes import Change
from awsideman.journal import ChangeState
from awsideman.services.audit import audit_trail
from tests.journal.conftest import BUCKET, gateway

SECRET = "previous-value-of-a-person"


def _update(name: str, size: int = 0) -> Change:
    before = {"user_name": name, "attributes": {"DisplayName": SECRET, "Notes": "x" * size}}
    after = {"user_name": name, "attributes": {"DisplayName": "New Name", "Notes": "x" * size}}
    return Change(resource="user", action="update", key=(name,), before=before, after=after,
                  diff={"DisplayName": {"before": SECRET, "after": "New Name"}})


def _restore(journal, changes):
    op = journal.start_operation("restore", {"backup_id": "bk-20240301T090000Z-abcdef"})
    for change in changes:
        seq = journal.record_intent(op.id, f"user:{change.action}", change.to_dict(), change.inverse().to_dict(),
                                    address=change.address)
        journal.mark_change(op.id, seq, ChangeState.APPLIED, calls=[{"api": "UpdateUser", "request_id": "req-1"}])
    journal.finish_operation(op.id, "failed")
    return op


def test_inverses_are_kept_within_the_window_and_purged_after_it(journal, clock):
    op = _restore(journal, [_update("alice"), _update("bob")])
    before_audit = audit_trail(journal, operation_id=op.id).entries
    clock.advance(days=29)
    assert journal.purge_inverses(30) == []
    assert SECRET in json.dumps([c.forward for c in journal.changes(op.id)])

    clock.advance(days=2)
    assert journal.purge_inverses(30) == [op.id]
    records = journal.changes(op.id)
    assert [r.inverse for r in records] == [None, None]
    assert SECRET not in json.dumps([(r.forward, r.inverse) for r in records])
    assert records[0].forward["address"] == "user:alice" and records[0].forward["diff"] == {"DisplayName": None}
    summary = journal.get_operation(op.id).summary
    assert summary["inverses_purged_at"].startswith("2024-04-01") and summary["inverse_retention_days"] == 30
    # The audit record stays, entry for entry.
    assert audit_trail(journal, operation_id=op.id).entries == before_audit
    assert journal.purge_inverses(30) == []  # once is enough


def test_a_zero_day_window_purges_every_finished_restore_but_not_a_running_one(journal, clock):
    done = _restore(journal, [_update("carol")])
    running = journal.start_operation("restore", {})
    journal.record_intent(running.id, "user:update", _update("dave").to_dict(), _update("dave").inverse().to_dict(),
                          address="user:dave")
    clock.advance(seconds=1)
    assert journal.purge_inverses(0) == [done.id]
    assert journal.changes(running.id)[0].inverse is not None


def test_a_large_inverse_kept_in_s3_is_deleted_with_it(journal, clock, backend):
    op = _restore(journal, [_update("erin", size=80 * 1024)])  # beyond an item's inline limit
    if backend == "dynamodb":
        objects = gateway().call("s3", "ListObjectsV2", Bucket=BUCKET).get("Contents") or []
        assert any("/changes/" in o["Key"] for o in objects)
    clock.advance(days=1)
    assert journal.purge_inverses(0) == [op.id]
    record = journal.changes(op.id)[0]
    assert record.inverse is None and "Notes" not in json.dumps(record.forward)
    if backend == "dynamodb":
        objects = gateway().call("s3", "ListObjectsV2", Bucket=BUCKET).get("Contents") or []
        assert not [o["Key"] for o in objects if f"/{op.id}/" in o["Key"]]

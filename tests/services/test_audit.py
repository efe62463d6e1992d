"""The audit trail's pure parts: `--since` and one journaled change as an entry."""

from __future__ import annotations

import pytest

from awsideman.core.exceptions import UsageError
from awsideman.journal import ChangeRecord, ChangeState, Operation
from awsideman.services.audit import CSV_COLUMNS, AuditTrail, audit_entry, parse_since

RESTORE = Operation("op-20261128T101500Z-3f2a9c", "restore", "rolled_back", host="runner-1",
                    caller={"arn": "arn:aws:iam::111122223333:user/ops", "account": "111122223333", "host": "runner-1"})
ROLLBACK = Operation("op-20261128T110000Z-aaaaaa", "rollback", "succeeded",
                     params={"restore_operation_id": RESTORE.id})
UPDATE = {"address": "user:alice", "resource": "user", "action": "update", "key": ["alice"],
          "before": {"attributes": {"Title": "Old title", "Emails": [{"Value": "alice@example.com"}]}},
          "after": {"attributes": {"Title": "New title"}},
          "diff": {"Title": {"before": "Old title", "after": "New title"}, "Emails": {}}}


def _record(**fields) -> ChangeRecord:
    base = {"operation_id": RESTORE.id, "seq": 1, "kind": "user:update", "forward": UPDATE,
            "inverse": {"before": {"attributes": {"Title": "New title"}}}, "state": ChangeState.COMPENSATED,
            "request_id": None, "detail": None, "created_at": "2026-11-28T10:15:01.000Z",
            "updated_at": "2026-11-28T10:15:09.000Z", "address": "user:alice"}
    return ChangeRecord(**{**base, **fields})


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-28", "2026-11-28T00:00:00.000Z"), ("2026-11-28T10:15", "2026-11-28T10:15:00.000Z"),
    ("2026-11-28T10:15:07Z", "2026-11-28T10:15:07.000Z"), ("2026-11-28 10:15:07.25", "2026-11-28T10:15:07.250Z"),
    ("2026-11-28T12:15:07+02:00", "2026-11-28T10:15:07.000Z")])
def test_since_takes_a_date_or_a_utc_date_and_time(text, expected):
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-02-30", "20261128", "2026-11-28T25:00", "1700000000",
                                  "2026-11-28T10:15:07Z junk"])
def test_since_refuses_anything_else_as_a_usage_error(text):
    with pytest.raises(UsageError, match="--since must be a date"):
        parse_since(text)


def test_an_applied_then_compensated_update_is_applied_naming_attributes_only():
    entry = audit_entry(RESTORE, _record(outcome="APPLIED", settled_at="2026-11-28T10:15:02.000Z", calls=[
        {"api": "identitystore:UpdateUser", "request_id": "r-1"}]))
    assert (entry["event"], entry["at"], entry["reverts"]) == ("applied", "2026-11-28T10:15:02.000Z", None)
    assert entry["attributes"] == ["Emails", "Title"]
    assert entry["requests"] == [{"api": "identitystore:UpdateUser", "request_id": "r-1"}]
    assert (entry["caller_arn"], entry["host"]) == ("arn:aws:iam::111122223333:user/ops", "runner-1")
    text = repr(entry) + repr(AuditTrail([entry]).csv_rows())
    assert "title" not in text.replace("Title", "") and "alice@example.com" not in text


def test_an_inverse_of_a_rollback_reverts_its_restore_and_an_unknown_outcome_is_unsettled():
    inverse = audit_entry(ROLLBACK, _record(operation_id=ROLLBACK.id, kind="compensate:user:update",
                                            state=ChangeState.APPLIED))  # journaled before outcomes were kept
    assert (inverse["event"], inverse["reverts"], inverse["at"]) == ("compensated", RESTORE.id,
                                                                     "2026-11-28T10:15:09.000Z")
    assert inverse["caller_arn"] is None and inverse["error"] is None
    unsettled = audit_entry(RESTORE, _record())  # INTENT -> COMPENSATED: nobody knows if the call landed
    assert (unsettled["event"], unsettled["at"]) == ("unsettled", "2026-11-28T10:15:01.000Z")
    failed = audit_entry(RESTORE, _record(state=ChangeState.FAILED, error={"category": "validation",
                                                                           "code": "ValidationException",
                                                                           "message": "Title 'x' is invalid"}))
    assert failed["event"] == "failed" and failed["error"] == {"category": "validation", "code": "ValidationException"}


def test_csv_rows_follow_the_columns():
    entry = audit_entry(RESTORE, _record(outcome="APPLIED", calls=[{"api": "identitystore:UpdateUser",
                                                                     "request_id": "r-1"},
                                                                    {"api": "identitystore:UpdateUser",
                                                                     "request_id": "r-2"}]))
    row = dict(zip(CSV_COLUMNS, AuditTrail([entry]).csv_rows()[0], strict=True))
    assert (row["event"], row["request_ids"], row["attributes"], row["reverts"], row["seq"]) == (
        "applied", "r-1 r-2", "Emails Title", "", "1")

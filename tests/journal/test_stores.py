"""The record store contract, the same on both stores: what the journal's rules rely on.

Each test runs against the SQLite store and the DynamoDB store (in-process emulator, real boto3).
"""

from __future__ import annotations

from typing import Any

import pytest

from awsideman.journal.store import Check, Delete, FenceLost, OneOf, Put, Update

OP = "op-20240301T090000Z-aaaaaa"
OTHER = "op-20240301T090001Z-bbbbbb"
LOCK = "arn:aws:sso:::instance/ssoins-1"


@pytest.fixture
def store(journal: Any) -> Any:
    return journal.store


def operation(op_id: str = OP, **fields: Any) -> dict[str, Any]:
    return {"id": op_id, "kind": "restore", "status": "running", "params": "{}", "started_at": op_id[3:19],
            "updated_at": "t0", "owner": "me", **fields}


def test_a_put_if_absent_creates_once_and_reports_which_action_failed(store):
    assert store.write([Put("operation", operation(), if_absent=True)]) is None
    assert store.write([Put("operation", operation(OTHER), if_absent=True),
                        Put("operation", operation(), if_absent=True)]) == 1
    assert store.get("operation", (OTHER,)) is None  # nothing of a refused transaction is applied
    assert store.get("operation", (OP,))["status"] == "running"


def test_an_update_is_a_compare_and_set_and_none_removes_a_field(store):
    store.write([Put("operation", operation(finished_at="t1"), if_absent=True)])
    assert store.write([Update("operation", (OP,), {"status": "failed"}, expect={"owner": "someone"})]) == 0
    assert store.write([Update("operation", (OP,), {"status": "failed", "finished_at": None},
                               expect={"owner": "me", "status": OneOf(("running", "interrupted"))})]) is None
    row = store.get("operation", (OP,))
    assert row["status"] == "failed" and row.get("finished_at") is None
    assert store.write([Update("operation", (OTHER,), {"status": "failed"})]) == 0  # must exist
    assert store.write([Update("operation", (OP,), {"status": "x"}, expect={"status": OneOf(())})]) == 0
    assert store.write([Update("operation", (OP,), {"updated_at": "t2"}, expect={"lease_until": None})]) is None


def test_children_are_read_by_operation_in_order_and_purged(store):
    store.write([Put("operation", operation(), if_absent=True)])
    for seq in (2, 1, 10):
        store.write([Put("change", {"operation_id": OP, "seq": seq, "kind": "k", "state": "INTENT",
                                    "forward": "{}", "inverse": "{}", "created_at": "t", "updated_at": "t"},
                         if_absent=True), Check("operation", (OP,))])
    assert [row["seq"] for row in store.query("change", OP)] == [1, 2, 10]
    assert [row["seq"] for row in store.query("change", OP, limit=1)] == [1]
    big = "x" * 200_000  # beyond an item's inline limit: the DynamoDB store keeps it in S3
    store.write([Put("checkpoint", {"operation_id": OP, "step": "users", "data": big, "sealed": False,
                                    "created_at": "t"})])
    assert store.query("checkpoint", OP)[0]["data"] == big
    store.purge(OP, "checkpoint")
    assert store.query("checkpoint", OP) == [] and len(store.query("change", OP)) == 3
    store.purge(OP)
    assert store.query("change", OP) == [] and store.get("operation", (OP,)) is not None


def test_a_child_needs_its_operation(store):
    failed = store.write([Put("error", {"operation_id": OTHER, "id": 1, "message": "m", "remediation": "[]",
                                        "created_at": "t"}, if_absent=True), Check("operation", (OTHER,))])
    assert failed == 1 and store.query("error", OTHER) == []


def test_operations_are_listed_newest_first_and_by_kind(store):
    store.write([Put("operation", operation(OP), if_absent=True)])
    store.write([Put("operation", operation(OTHER, kind="backup"), if_absent=True)])
    assert [row["id"] for row in store.query("operation")] == [OTHER, OP]
    assert [row["id"] for row in store.query("operation", filter_kind="restore")] == [OP]
    assert [row["id"] for row in store.query("operation", limit=1)] == [OTHER]


def test_every_write_carries_the_fence_once_set(store):
    store.write([Put("operation", operation(), if_absent=True)])
    store.write([Put("lock", {"instance_arn": LOCK, "operation_id": OP, "owner": "me", "acquired_at": "t"},
                     if_absent=True)], fence=False)
    store.set_fence(Check("lock", (LOCK,), {"owner": "me", "operation_id": OP}))
    assert store.write([Update("operation", (OP,), {"updated_at": "t1"})]) is None
    # Another runner takes the lock over (its own write on the lock, unfenced).
    assert store.write([Update("lock", (LOCK,), {"owner": "them", "operation_id": OTHER},
                               expect={"owner": "me"})], fence=False) is None
    with pytest.raises(FenceLost):
        store.write([Update("operation", (OP,), {"updated_at": "t2"})])
    assert store.get("operation", (OP,))["updated_at"] == "t1"  # refused: nothing landed
    store.set_fence(None)
    assert store.write([Delete("lock", (LOCK,), {"owner": "me"})], fence=False) == 0
    assert store.write([Delete("lock", (LOCK,), {"owner": "them"})], fence=False) is None
    assert store.get("lock", (LOCK,)) is None

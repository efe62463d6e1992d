"""The journal's rules as pure functions (``journal/rules.py``): no store, no clock, no process."""

from __future__ import annotations

import pytest

from awsideman.core.exceptions import LockHeldError, OperationBusyError, OperationStateError
from awsideman.journal import rules
from awsideman.journal.records import ChangeState, Operation

OP = "op-20240301T090000Z-aaaaaa"


def op(status: str = "running", owner: str | None = "them", **fields) -> Operation:
    return Operation(id=OP, kind="restore", status=status, owner=owner, pid=7, host="vm", started_at="t0", **fields)


def test_claim_refuses_a_live_runner_and_a_status_it_may_not_continue():
    with pytest.raises(OperationBusyError, match=r"still running \(pid 7\)"):
        rules.claim(op(), me="me", alive=True, claimable=["interrupted"])
    with pytest.raises(OperationBusyError, match="on vm, lease until 2024-03-01T09:00:30.000Z"):
        rules.claim(op(lease_until=1709283630), me="me", alive=True, claimable=["interrupted"])
    rules.claim(op(), me="me", alive=False, claimable=["interrupted"])  # a dead runner's is interrupted
    rules.claim(op(owner="me"), me="me", alive=True, claimable=[])  # our own, again
    with pytest.raises(OperationStateError, match="is succeeded"):
        rules.claim(op("succeeded"), me="me", alive=False, claimable=["interrupted", "failed"])


def test_a_running_operation_is_interrupted_only_when_nobody_runs_it():
    assert rules.interrupted(op(), alive=False, ours=False)
    assert not rules.interrupted(op(), alive=True, ours=False)
    assert not rules.interrupted(op(), alive=False, ours=True)
    assert not rules.interrupted(op("failed"), alive=False, ours=False)


def test_a_lock_is_taken_from_nobody_from_ourselves_or_from_the_dead():
    lock = {"instance_arn": "arn:i", "operation_id": "op-x", "owner": "them", "pid": 7, "host": "vm",
            "acquired_at": "t0", "lease_until": 1709283630}
    assert rules.take_lock(None, me="me", operation_id=OP, alive=False) is None
    assert rules.take_lock({**lock, "owner": ""}, me="me", operation_id=OP, alive=False) is None
    assert rules.take_lock({**lock, "owner": "me", "operation_id": OP}, me="me", operation_id=OP, alive=True) is None
    with pytest.raises(LockHeldError, match=r"op-x \(pid 7 on vm, since t0, lease until 2024-03-01T09:00:30"):
        rules.take_lock(lock, me="me", operation_id=OP, alive=True)
    stale = rules.take_lock(lock, me="me", operation_id=OP, alive=False)
    assert stale is not None and stale.operation_id == "op-x" and not stale.alive


def test_the_fence_names_the_holder_and_its_operation():
    fence = rules.fence("arn:i", OP, "me")
    assert (fence.kind, fence.key, dict(fence.expect)) == ("lock", ("arn:i",), {"owner": "me", "operation_id": OP})


def test_changes_move_only_forward():
    assert set(rules.transition_sources(ChangeState.COMPENSATED).values) == {"INTENT", "APPLIED", "FAILED"}
    assert rules.transition_sources(ChangeState.APPLIED).values == ("INTENT",)
    assert rules.transition_sources(ChangeState.INTENT).values == ()


def test_retention_keeps_what_a_rollback_may_need():
    old = op("failed", finished_at="2024-01-01T00:00:00.000Z")
    assert rules.retained(old, cutoff="2024-02-01", open_changes=lambda: True)
    assert not rules.retained(old, cutoff="2024-02-01", open_changes=lambda: False)
    assert rules.retained(op("failed", finished_at="2024-03-01T00:00:00Z"), cutoff="2024-02-01",
                          open_changes=lambda: False)
    assert rules.retained(op("running"), cutoff="2099", open_changes=lambda: False)
    assert not rules.retained(op("succeeded", finished_at="2024-01-01T00:00:00Z"), cutoff="2024-02-01",
                              open_changes=lambda: pytest.fail("a succeeded one needs no look at its changes"))


def test_a_rollback_links_the_restore_and_leaves_a_running_one_alone():
    summary = rules.rolled_back(op("succeeded", summary={"rollbacks": ["op-1"]}), "op-2", "rolled_back")
    assert summary == {"rollbacks": ["op-1", "op-2"], "rolled_back_by": "op-2", "ended_as": "succeeded"}
    assert rules.rolled_back(op("running"), "op-2", "rolled_back") is None
    with pytest.raises(ValueError):
        rules.rolled_back(op("succeeded"), "op-2", "failed")


def test_waiting_ends_at_the_timeout_or_when_the_attempt_succeeds():
    slept: list[float] = []
    attempts = iter([LockHeldError("held"), LockHeldError("held"), "taken"])

    def attempt():
        result = next(attempts)
        if isinstance(result, Exception):
            raise result
        return result

    assert rules.wait(attempt, 5.0, slept.append, 0.5) == "taken" and slept == [0.5, 0.5]
    slept.clear()
    with pytest.raises(LockHeldError):
        rules.wait(lambda: (_ for _ in ()).throw(LockHeldError("held")), 1.2, slept.append, 0.5)
    assert slept == [0.5, 0.5, pytest.approx(0.2)]

"""Rollback's hard paths against the in-process emulator: a failure at several points of the
plan, a failure inside the compensation (the leftover is exactly what differs), the access check
before reverting, resume after a failure, and a hypothesis property over random drifts and
random failure points."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awsideman.core.exceptions import UsageError
from awsideman.services.account import operation_account
from awsideman.services.backup import BackupRequest, BackupService
from awsideman.services.restore import RestoreRequest, RestoreService, mutating_calls
from awsideman.services.rollback import RollbackService
from tests.drift import differences, differing_addresses, drift, records
from tests.helpers import make_context

ASYNC_FAILURE = {"operation": "CreateAccountAssignment", "async_fail_after": 1, "failure_reason": "quota reached"}


def _now():
    return records(BackupService(make_context()))


@pytest.fixture
def drifted(sandbox):
    """(backup id, the backed-up state, the drifted state) of a seeded `tiny` instance."""
    sandbox.seed("tiny", seed=73)
    backup = BackupService(make_context()).create(BackupRequest())
    expected = _now()
    drift(sandbox.client)
    return backup.backup_id, expected, _now()


# Without --prune the forward changes are creates and updates and their inverses deletes and
# updates, so a permanent error on a create fails the restore but not its rollback.
@pytest.mark.parametrize("rule", [
    {"operation": "CreateUser", "fail_after": 0, "error": "AccessDeniedException"},  # the first calls
    {"operation": "CreateGroupMembership", "fail_after": 3, "error": "AccessDeniedException"},  # the middle
    {"operation": "CreatePermissionSet", "fail_after": 0, "error": "ValidationException"},
    {"operation": "ProvisionPermissionSet", "async_fail_after": 0, "failure_reason": "policy too large"},  # last
])
def test_a_failure_anywhere_in_the_plan_is_rolled_back_exactly(sandbox, drifted, rule):
    backup_id, _, before = drifted
    sandbox.set_faults({"rules": [rule]})
    result = RestoreService(make_context()).run(RestoreRequest(backup_id))
    sandbox.set_faults({})
    assert result.errors and result.leftover == []
    assert result.status == ("rolled_back" if result.applied else "failed"), result.errors
    assert set(result.applied) <= set(result.compensated)
    diffs = differences(_now(), before)
    assert not diffs, "\n".join(diffs)


def test_a_failure_inside_the_rollback_leaves_exactly_what_differs(sandbox, drifted):
    backup_id, _, before = drifted
    sandbox.set_faults({"rules": [
        ASYNC_FAILURE, {"operation": "DeleteGroupMembership", "fail_after": 0, "error": "AccessDeniedException"}]})
    result = RestoreService(make_context()).run(RestoreRequest(backup_id))
    sandbox.set_faults({})
    assert result.status == "rollback_failed"
    assert any(e.get("during") == "rollback" and e["code"] == "AccessDeniedException" for e in result.errors)
    left = {item["resource"] for item in result.leftover if not item["resource"].startswith("provision:")}
    assert left and left == differing_addresses(_now(), before)
    assert all(item["why"] and item["remediation"] for item in result.leftover)
    # Fixed: `rollback OP_ID` reverts exactly what was left, and the instance is as before.
    rolled = RollbackService(make_context()).run(result.operation_id)
    assert rolled.status == "succeeded" and set(rolled.compensated) >= left
    assert not differences(_now(), before)


def test_the_access_check_stops_a_rollback_before_any_revert(sandbox, drifted):
    backup_id, _, before = drifted
    sandbox.set_faults({"rules": [ASYNC_FAILURE]})
    failed = RestoreService(make_context()).run(RestoreRequest(backup_id, prune=True, auto_rollback=False))
    assert failed.status == "failed" and failed.leftover
    sandbox.set_faults({"rules": [{"operation": "ListUsers", "fail_after": 0, "error": "AccessDeniedException"}]})
    context = make_context()
    denied = RollbackService(context).run(failed.operation_id)
    assert denied.status == "rollback_failed" and denied.compensated == []
    assert mutating_calls(context.gateway.calls_by_operation()) == 0
    error = denied.errors[0]
    assert "Checking access before reverting user changes" in error["message"]
    assert any("identitystore:DeleteUser" in step for step in error["remediation"])
    assert {item["resource"] for item in denied.leftover} == {item["resource"] for item in failed.leftover}
    # Finding 1 of issue 20: its account (analyze-error --operation, report show) names that error.
    account = operation_account(make_context().journal, denied.operation_id)
    assert account.status == "rollback_failed" and account.counts["leftover"] == len(denied.leftover)
    assert [e["category"] for e in account.errors] == ["authorization"]
    assert any("Checking access before reverting" in m for m in account.failures[0]["messages"])
    sandbox.set_faults({})
    assert RollbackService(make_context()).run(failed.operation_id).status == "succeeded"
    assert not differences(_now(), before)


def test_resume_after_a_failure_finishes_without_redoing_and_refuses_what_it_cannot_continue(sandbox, drifted):
    backup_id, expected, _ = drifted
    sandbox.set_faults({"rules": [ASYNC_FAILURE]})
    failed = RestoreService(make_context()).run(RestoreRequest(backup_id, prune=True, auto_rollback=False))
    assert failed.status == "failed" and failed.applied
    sandbox.set_faults({})
    resumed = RestoreService(make_context()).resume(failed.operation_id)
    assert resumed.status == "succeeded" and resumed.operation_id == failed.operation_id
    assert resumed.applied and not set(resumed.applied) & set(failed.applied)
    assert not differences(_now(), expected)
    again = RestoreService(make_context()).resume(failed.operation_id)
    assert "already finished" in again.notes[0] and again.mutating_calls == 0

    with pytest.raises(UsageError, match="not bk-"):
        RestoreService(make_context()).resume(failed.operation_id, backup_id="bk-20250101T000000Z-000000")
    backup_op = make_context().journal.list_operations(kind="backup")[0].id
    with pytest.raises(UsageError, match="continues a restore"):
        RestoreService(make_context()).resume(backup_op)


def test_restore_then_rollback_gives_back_the_drifted_state_for_random_drifts_and_failure_points(sandbox):
    """Hypothesis: random drift, random failing create (k-th call or asynchronous FAILED), with
    or without auto-rollback (then `rollback`): the instance is back to its drifted state."""
    sandbox.seed("tiny", seed=74)
    backup_id = BackupService(make_context()).create(BackupRequest()).backup_id
    failures = st.one_of(
        st.builds(lambda op, k: {"operation": op, "fail_after": k, "error": "AccessDeniedException"},
                  st.sampled_from(["CreateUser", "CreateGroup", "CreateGroupMembership", "CreatePermissionSet"]),
                  st.integers(0, 2)),
        st.builds(lambda op, k: {"operation": op, "async_fail_after": k},
                  st.sampled_from(["CreateAccountAssignment", "ProvisionPermissionSet"]), st.integers(0, 2)))

    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 10_000), failures, st.booleans())
    def property_(seed, rule, auto):
        drift(sandbox.client, seed=seed)
        drifted_state = _now()
        sandbox.set_faults({"rules": [rule]})
        result = RestoreService(make_context()).run(RestoreRequest(backup_id, auto_rollback=auto))
        sandbox.set_faults({})
        if result.status != "rolled_back":
            assert result.status in ("succeeded", "failed"), (result.status, result.errors)
            assert RollbackService(make_context()).run(result.operation_id).status == "succeeded"
        diffs = differences(_now(), drifted_state)
        assert not diffs, "\n".join(diffs)
        assert RestoreService(make_context()).run(RestoreRequest(backup_id, prune=True)).status == "succeeded"

    property_()

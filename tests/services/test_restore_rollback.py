"""Automatic rollback: a permanent failure at several points of the plan gives back exactly the
pre-restore state (issue "Rollback", first criterion), against the in-process emulator."""

from __future__ import annotations

import pytest

from awsideman.services.backup import BackupRequest, BackupService
from awsideman.services.restore import RestoreRequest, RestoreService
from tests.drift import differences, drift, records
from tests.helpers import make_context


@pytest.fixture
def drifted(sandbox):
    sandbox.seed("small", seed=71)
    service = BackupService(make_context())
    backup = service.create(BackupRequest())
    drift(sandbox.client)
    return backup.backup_id, records(BackupService(make_context()))


@pytest.mark.parametrize("rule", [
    {"operation": "CreateAccountAssignment", "async_fail_after": 0, "failure_reason": "IAM role quota reached"},
    {"operation": "CreateAccountAssignment", "async_fail_after": 2, "failure_reason": "IAM role quota reached"},
    {"operation": "ProvisionPermissionSet", "async_fail_after": 0, "failure_reason": "policy too large"},
])
def test_a_permanent_failure_is_rolled_back_to_the_pre_restore_state(sandbox, drifted, rule):
    backup_id, before = drifted
    sandbox.set_faults({"rules": [rule]})
    result = RestoreService(make_context()).run(RestoreRequest(backup_id, prune=True))
    sandbox.set_faults({})
    assert result.status == "rolled_back", (result.errors, result.leftover)
    assert result.errors and result.applied and sorted(result.compensated) == sorted(result.applied)
    assert result.leftover == []
    diffs = differences(records(BackupService(make_context())), before)
    assert not diffs, "\n".join(diffs)


def test_without_auto_rollback_the_applied_changes_stay_and_are_listed(sandbox, drifted):
    backup_id, before = drifted
    sandbox.set_faults({"rules": [{"operation": "CreateAccountAssignment", "fail_after": 1,
                                   "error": "AccessDeniedException"}]})
    result = RestoreService(make_context()).run(RestoreRequest(backup_id, prune=True, auto_rollback=False))
    assert result.status == "failed" and result.applied and not result.compensated
    assert {item["resource"] for item in result.leftover} == set(result.applied)
    journal = make_context().journal
    assert journal.get_operation(result.operation_id).status == "failed"


def test_expired_credentials_leave_exactly_the_applied_changes_as_leftover(sandbox, drifted):
    backup_id, _ = drifted
    sandbox.set_faults({"rules": [{"operation": "DeleteUser", "fail_after": 0, "error": "ExpiredTokenException"}]})
    result = RestoreService(make_context()).run(RestoreRequest(backup_id, prune=True))
    # Every compensation would need the same (expired) credentials: none is attempted, the run
    # stops resumable, and the result says exactly what is left changed.
    assert result.status == "failed" and result.resumable and not result.compensated
    assert result.errors[0]["category"] == "authentication"
    # Left: what was applied, any permission set change cut between its calls (it may be half-made)
    # and any assignment request sent before the refusal and left running (its outcome unknown).
    left = {item["resource"] for item in result.leftover}
    assert set(result.applied) <= left  # (how many were applied before the refusal is a matter of timing)
    unknown = {r.address for r in make_context().journal.changes(result.operation_id) if r.state.value == "INTENT"}
    assert all(r.startswith("permission_set:") or r in unknown for r in left - set(result.applied)), left

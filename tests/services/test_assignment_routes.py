"""Choosing how to list account assignments: priced from a sample, complete whichever route is
taken, and never silently short when a listing it depends on failed."""

from __future__ import annotations

import pytest

from awsideman.services.archive import BackupArchive
from awsideman.services.backup import BackupRequest, BackupService
from tests.helpers import make_context

ACCOUNT = "111122223333"


def _instance(sandbox, *, permission_sets: int, users: int, assigned: int) -> tuple[str, str]:
    """`permission_sets` sets, `users` users; the first `assigned` sets are each given to the
    first user in one account."""
    sso, ids = sandbox.client("sso-admin"), sandbox.client("identitystore")
    instance = sso.list_instances()["Instances"][0]
    arn, store = instance["InstanceArn"], instance["IdentityStoreId"]
    user_ids = [ids.create_user(IdentityStoreId=store, UserName=f"user{i}", DisplayName=f"User {i}",
                                Name={"GivenName": "U", "FamilyName": str(i)})["UserId"]
                for i in range(users)]
    for i in range(permission_sets):
        ps = sso.create_permission_set(InstanceArn=arn, Name=f"Set{i}")["PermissionSet"]["PermissionSetArn"]
        if i < assigned:
            sso.create_account_assignment(InstanceArn=arn, TargetId=ACCOUNT, TargetType="AWS_ACCOUNT",
                                          PermissionSetArn=ps, PrincipalType="USER", PrincipalId=user_ids[0])
    return arn, store


def _backup(sandbox, **settings):
    sandbox.reset_counters()
    service = BackupService(make_context(**settings))
    result = service.create(BackupRequest(allow_partial=True))
    _, snapshot = BackupArchive(service.context).load(result.backup_id, None)
    return result, snapshot, sandbox.counters()


def test_few_principals_are_listed_after_pricing_only_a_sample(sandbox):
    _instance(sandbox, permission_sets=30, users=3, assigned=30)
    result, snapshot, calls = _backup(sandbox)
    assert result.status == "succeeded" and len(snapshot.assignments) == 30
    assert calls["sso-admin:ListAccountsForProvisionedPermissionSet"] == 10  # not 30
    assert calls["sso-admin:ListAccountAssignmentsForPrincipal"] == 3
    assert "sso-admin:ListAccountAssignments" not in calls


def test_the_permission_set_route_lists_each_set_once_after_the_sample(sandbox):
    _instance(sandbox, permission_sets=30, users=60, assigned=0)
    result, snapshot, calls = _backup(sandbox)
    assert result.status == "succeeded" and snapshot.assignments == []
    assert calls["sso-admin:ListAccountsForProvisionedPermissionSet"] == 30
    assert "sso-admin:ListAccountAssignmentsForPrincipal" not in calls


def test_users_that_cannot_be_listed_send_assignments_by_permission_set(sandbox):
    """Listing by principal without the users would miss their assignments and say nothing."""
    seeded = sandbox.seed("small", seed=6)
    sandbox.set_faults({"rules": [{"operation": "ListUsers", "fail_after": 0, "error": "AccessDeniedException"}]})
    result, snapshot, calls = _backup(sandbox)
    assert result.status == "partial"
    assert {m["resource"] for m in result.missing} == {"users"}
    by_group = [a for a in seeded.assignments if a[0] == "GROUP"]
    assert 0 < len(by_group) < len(seeded.assignments)
    assert len(snapshot.assignments) == len(by_group)
    # The users' assignments were read but cannot be named: the backup says so.
    unnamed = len(seeded.assignments) - len(by_group)
    assert any(f"{unnamed} assignment(s) refer to a principal" in note for note in result.notes)
    assert "sso-admin:ListAccountAssignmentsForPrincipal" not in calls


def test_a_denied_pricing_listing_leaves_the_principal_route_and_a_complete_backup(sandbox):
    seeded = sandbox.seed("small", seed=7)
    sandbox.set_faults({"rules": [{"operation": "ListAccountsForProvisionedPermissionSet",
                                   "fail_after": 0, "error": "AccessDeniedException"}]})
    result, snapshot, calls = _backup(sandbox)
    assert result.status == "succeeded" and result.missing == []
    assert len(snapshot.assignments) == len(seeded.assignments)
    assert calls["sso-admin:ListAccountAssignmentsForPrincipal"] > 0


def test_an_unreadable_permission_set_list_still_reads_assignments_by_principal(sandbox):
    """They cannot be named without their permission sets, but the backup says how many there are."""
    seeded = sandbox.seed("small", seed=8)
    sandbox.set_faults({"rules": [{"operation": "ListPermissionSets", "fail_after": 0,
                                   "error": "AccessDeniedException"}]})
    result, snapshot, calls = _backup(sandbox)
    assert result.status == "partial" and {m["resource"] for m in result.missing} == {"permission-sets"}
    assert calls["sso-admin:ListAccountAssignmentsForPrincipal"] == len(seeded.users) + len(seeded.groups)
    assert any(f"{len(seeded.assignments)} assignment(s) refer to a principal" in note for note in result.notes)


@pytest.mark.parametrize("denied", ["ListUsers", "ListGroups", "ListPermissionSets",
                                    "ListAccountsForProvisionedPermissionSet",
                                    "ListAccountAssignmentsForPrincipal", "ListAccountAssignments"])
def test_whatever_listing_is_denied_no_assignment_goes_missing_silently(sandbox, denied):
    seeded = sandbox.seed("tiny", seed=9)
    sandbox.set_faults({"rules": [{"operation": denied, "fail_after": 0, "error": "AccessDeniedException"}]})
    result, snapshot, _ = _backup(sandbox)
    if "assignments" in {m["resource"] for m in result.missing}:
        assert result.status == "partial"
        return
    noted = sum(int(note.split()[0]) for note in result.notes if "assignment(s) refer to a principal" in note)
    assert len(snapshot.assignments) + noted == len(seeded.assignments), (result.missing, result.notes)

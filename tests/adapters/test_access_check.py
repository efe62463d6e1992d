"""Which writes a planned change makes, and what the preflight asks IAM about them (pure parts)."""

from __future__ import annotations

from awsideman.adapters import access_check, permissions
from awsideman.core.changes import Change

PS = {"name": "Admin", "description": "d", "session_duration": "PT1H", "relay_state": None,
      "inline_policy": '{"Statement": []}', "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
      "customer_managed_policies": [], "permissions_boundary": None, "tags": {"team": "a"}}
ASSIGNMENT = Change("assignment", "create", ("111122223333", "Admin", "GROUP", "Ops"),
                    after={"account_id": "111122223333"})


def test_a_permission_set_update_makes_only_the_calls_its_differences_need():
    after = {**PS, "inline_policy": None, "managed_policies": [*PS["managed_policies"],
                                                                "arn:aws:iam::aws:policy/AWSSupportAccess"]}
    change = Change("permission_set", "update", ("Admin",), before=PS, after=after)
    lookups = [("sso-admin", "ListPermissionSets"), ("sso-admin", "DescribePermissionSet")]
    assert access_check.change_calls(change) == [
        ("sso-admin", "DeleteInlinePolicyFromPermissionSet"), ("sso-admin", "AttachManagedPolicyToPermissionSet"),
        *lookups]
    assert access_check.change_calls(change.inverse()) == [
        ("sso-admin", "PutInlinePolicyToPermissionSet"), ("sso-admin", "DetachManagedPolicyFromPermissionSet"),
        *lookups]
    created = access_check.change_calls(Change("permission_set", "create", ("Admin",), after=PS))
    # Description, session duration, relay state and tags go with CreatePermissionSet itself.
    assert created == [("sso-admin", "CreatePermissionSet"), ("sso-admin", "PutInlinePolicyToPermissionSet"),
                       ("sso-admin", "AttachManagedPolicyToPermissionSet")]


def test_an_assignment_needs_its_instance_and_account_and_its_rollback_the_delete():
    scope = permissions.Scope(instance_id="ssoins-1", identity_store_id="d-1", caller_account="999988887777")
    needs = access_check.needs([ASSIGNMENT], scope=scope, compensate=True)
    by = {(n.action, n.resource): sorted(n.needed_for) for n in needs}
    assert by[("sso:CreateAccountAssignment", "arn:aws:sso:::account/111122223333")] == ["the restore"]
    assert by[("sso:CreateAccountAssignment", "arn:aws:sso:::instance/ssoins-1")] == ["the restore"]
    assert by[("sso:DeleteAccountAssignment", "arn:aws:sso:::account/111122223333")] == ["its rollback"]
    assert all(n.changes == (ASSIGNMENT.address,) for n in needs)
    without = access_check.needs([ASSIGNMENT], scope=scope, compensate=False)
    assert not any(n.action == "sso:DeleteAccountAssignment" for n in without)


def test_a_user_change_is_checked_against_the_identity_store_of_the_caller_account():
    scope = permissions.Scope(instance_id="ssoins-1", identity_store_id="d-1", caller_account="999988887777")
    needs = access_check.needs([Change("user", "delete", ("alice",), before={"user_name": "alice"})],
                               scope=scope, compensate=False)
    store = "arn:aws:identitystore::999988887777:identitystore/d-1"
    assert [(n.action, n.resource) for n in needs] == [("identitystore:DeleteUser", store),
                                                      ("identitystore:GetUserId", store)]


def test_what_denied_it_is_named_when_the_simulator_says():
    assert access_check._denied_by({"OrganizationsDecisionDetail": {"AllowedByOrganizations": False}}) == \
        "an organization SCP"
    assert access_check._denied_by({"PermissionsBoundaryDecisionDetail": {"AllowedByPermissionsBoundary": False}}) \
        == "a permissions boundary"
    assert access_check._denied_by({"EvalDecision": "implicitDeny"}) is None

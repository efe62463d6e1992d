"""The quirks `provisioning_conflicts` and `deny_accounts` through real boto3 clients: a busy
permission set refuses every write to it (and a second provisioning) with the service's own
ConflictException; an SCP-like denial refuses one account and no other. The emulator's clock is
advanced, never waited for."""

from __future__ import annotations

import json

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from awsideman.sandbox.gapfills.ssoadmin_refusals import BUSY_MESSAGE

NO_RETRY = Config(retries={"total_max_attempts": 1})
A, B, C = "111111111111", "222222222222", "333333333333"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
MANAGED = "arn:aws:iam::aws:policy/ReadOnlyAccess"
CUSTOMER = {"Name": "app", "Path": "/"}


class Instance:
    def __init__(self, emulator) -> None:
        self.sso = emulator.client("sso-admin", config=NO_RETRY)
        self.ids = emulator.client("identitystore", config=NO_RETRY)
        found = self.sso.list_instances()["Instances"][0]
        self.arn, self.store = found["InstanceArn"], found["IdentityStoreId"]
        self.user = self.ids.create_user(IdentityStoreId=self.store, UserName="ada", DisplayName="ada",
                                         Name={"GivenName": "ada", "FamilyName": "X"})["UserId"]

    def permission_set(self, name: str = "ps") -> str:
        return self.sso.create_permission_set(InstanceArn=self.arn, Name=name)["PermissionSet"]["PermissionSetArn"]

    def assign(self, ps: str, account: str = A, delete: bool = False) -> dict:
        call = self.sso.delete_account_assignment if delete else self.sso.create_account_assignment
        return call(InstanceArn=self.arn, TargetId=account, TargetType="AWS_ACCOUNT", PermissionSetArn=ps,
                    PrincipalType="USER", PrincipalId=self.user)

    def provision(self, ps: str, account: str = A) -> dict:
        return self.sso.provision_permission_set(InstanceArn=self.arn, PermissionSetArn=ps, TargetType="AWS_ACCOUNT",
                                                 TargetId=account)

    def writes(self, ps: str) -> dict:
        """Every write to a permission set the quirk refuses, by operation name."""
        ref = {"InstanceArn": self.arn, "PermissionSetArn": ps}
        sso = self.sso
        return {
            "UpdatePermissionSet": lambda: sso.update_permission_set(**ref, SessionDuration="PT2H"),
            "PutInlinePolicyToPermissionSet": lambda: sso.put_inline_policy_to_permission_set(**ref,
                                                                                              InlinePolicy=POLICY),
            "DeleteInlinePolicyFromPermissionSet": lambda: sso.delete_inline_policy_from_permission_set(**ref),
            "AttachManagedPolicyToPermissionSet": lambda: sso.attach_managed_policy_to_permission_set(
                **ref, ManagedPolicyArn=MANAGED),
            "DetachManagedPolicyFromPermissionSet": lambda: sso.detach_managed_policy_from_permission_set(
                **ref, ManagedPolicyArn=MANAGED),
            "AttachCustomerManagedPolicyReferenceToPermissionSet":
                lambda: sso.attach_customer_managed_policy_reference_to_permission_set(
                    **ref, CustomerManagedPolicyReference=CUSTOMER),
            "DetachCustomerManagedPolicyReferenceFromPermissionSet":
                lambda: sso.detach_customer_managed_policy_reference_from_permission_set(
                    **ref, CustomerManagedPolicyReference=CUSTOMER),
            "PutPermissionsBoundaryToPermissionSet": lambda: sso.put_permissions_boundary_to_permission_set(
                **ref, PermissionsBoundary={"ManagedPolicyArn": MANAGED}),
            "DeletePermissionsBoundaryFromPermissionSet":
                lambda: sso.delete_permissions_boundary_from_permission_set(**ref),
            "ProvisionPermissionSet": lambda: self.provision(ps, B),
        }


def _code(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_a_permission_set_with_a_request_in_progress_refuses_every_write_until_it_ends(sandbox):
    sandbox.set_faults({"async_seconds": 5, "quirks": {"provisioning_conflicts": True}})
    t = Instance(sandbox)
    ps, other = t.permission_set("busy"), t.permission_set("idle")
    assert t.assign(ps, A)["AccountAssignmentCreationStatus"]["Status"] == "IN_PROGRESS"
    for operation, write in t.writes(ps).items():
        assert _code(write) == ("ConflictException", BUSY_MESSAGE), operation
    faults = sandbox.fault_counters()
    assert {k for k in faults if k.endswith(":ps_conflict")} == {f"sso-admin:{op}:ps_conflict" for op in t.writes(ps)}
    assert t.assign(ps, C)["AccountAssignmentCreationStatus"]["Status"] == "IN_PROGRESS"  # assignments go on
    for write in t.writes(other).values():  # another permission set is not held up
        write()
    sandbox.advance(5)
    for write in t.writes(ps).values():  # the requests ended: every write goes through (provisioning last)
        write()


def test_one_provisioning_of_a_permission_set_at_a_time_and_deletion_waits_for_it(sandbox):
    sandbox.set_faults({"async_seconds": 5, "quirks": {"provisioning_conflicts": True}})
    t = Instance(sandbox)
    ps = t.permission_set()
    t.provision(ps, A)
    assert _code(lambda: t.provision(ps, B)) == ("ConflictException", BUSY_MESSAGE)
    assert _code(lambda: t.sso.delete_permission_set(InstanceArn=t.arn, PermissionSetArn=ps)) == (
        "ConflictException", BUSY_MESSAGE)
    assert sandbox.fault_counters() == {"sso-admin:ProvisionPermissionSet:ps_conflict": 1,
                                        "sso-admin:DeletePermissionSet:ps_conflict": 1}
    sandbox.advance(5)
    t.provision(ps, B)


def test_without_the_quirk_a_busy_permission_set_takes_writes(sandbox):
    sandbox.set_faults({"async_seconds": 5})
    t = Instance(sandbox)
    ps = t.permission_set()
    t.assign(ps, A)
    for write in t.writes(ps).values():
        write()
    assert not sandbox.fault_counters()


def test_a_denied_account_refuses_its_operation_as_an_scp_does_and_only_there(sandbox):
    sandbox.set_faults({"quirks": {"deny_accounts": [{"accounts": [B]},
                                                     {"operation": "ProvisionPermissionSet", "accounts": [C]}]}})
    t = Instance(sandbox)
    ps = t.permission_set()
    code, message = _code(lambda: t.assign(ps, B))
    assert code == "AccessDeniedException"
    assert "sso:CreateAccountAssignment" in message and f"account/{B}" in message
    assert "explicit deny in a service control policy" in message
    t.assign(ps, A)
    t.assign(ps, C)  # only provisioning is denied in C
    assert _code(lambda: t.provision(ps, C))[0] == "AccessDeniedException"
    t.provision(ps, A)
    t.assign(ps, A, delete=True)  # deletions are not denied in A
    assert sandbox.fault_counters() == {"sso-admin:CreateAccountAssignment:account_denied": 1,
                                        "sso-admin:ProvisionPermissionSet:account_denied": 1}
    assert t.sso.list_account_assignments(InstanceArn=t.arn, AccountId=B, PermissionSetArn=ps)[
        "AccountAssignments"] == []

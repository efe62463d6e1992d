"""Asynchronous sso-admin requests through real boto3 clients: time in IN_PROGRESS, the limit of
15 outstanding, injected FAILED statuses, conflicts per permission set and account, cascades.

Time never really passes here: requests take seconds on the emulator's clock and the tests
advance that clock (`emulator.advance`), so nothing depends on how fast the machine is.
"""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from awsideman.sandbox.gapfills.async_requests import TOO_MANY

NO_RETRY = Config(retries={"total_max_attempts": 1})
ACCOUNTS = [f"{n:012d}" for n in range(111111111111, 111111111111 + 20)]
A, B = ACCOUNTS[0], ACCOUNTS[1]


class Instance:
    """Clients and helpers for one emulator's instance."""

    def __init__(self, emulator) -> None:
        self.emulator = emulator
        self.sso = emulator.client("sso-admin", config=NO_RETRY)
        self.ids = emulator.client("identitystore", config=NO_RETRY)
        found = self.sso.list_instances()["Instances"][0]
        self.arn, self.store = found["InstanceArn"], found["IdentityStoreId"]

    def user(self, name: str = "ada") -> str:
        return self.ids.create_user(IdentityStoreId=self.store, UserName=name, DisplayName=name,
                                    Name={"GivenName": name, "FamilyName": "X"})["UserId"]

    def group(self, name: str = "ops") -> str:
        return self.ids.create_group(IdentityStoreId=self.store, DisplayName=name)["GroupId"]

    def permission_set(self, name: str = "ps") -> str:
        ps = self.sso.create_permission_set(InstanceArn=self.arn, Name=name)
        return ps["PermissionSet"]["PermissionSetArn"]

    def key(self, ps: str, principal: str, account: str = A, ptype: str = "USER") -> dict:
        return {"InstanceArn": self.arn, "TargetId": account, "TargetType": "AWS_ACCOUNT",
                "PermissionSetArn": ps, "PrincipalType": ptype, "PrincipalId": principal}

    def create(self, ps: str, principal: str, account: str = A, ptype: str = "USER") -> dict:
        answer = self.sso.create_account_assignment(**self.key(ps, principal, account, ptype))
        return answer["AccountAssignmentCreationStatus"]

    def delete(self, ps: str, principal: str, account: str = A, ptype: str = "USER") -> dict:
        answer = self.sso.delete_account_assignment(**self.key(ps, principal, account, ptype))
        return answer["AccountAssignmentDeletionStatus"]

    def provision(self, ps: str, account: str | None = A) -> dict:
        target = {"TargetType": "AWS_ACCOUNT", "TargetId": account} if account else {
            "TargetType": "ALL_PROVISIONED_ACCOUNTS"}
        answer = self.sso.provision_permission_set(InstanceArn=self.arn, PermissionSetArn=ps, **target)
        return answer["PermissionSetProvisioningStatus"]

    def creation(self, request_id: str) -> dict:
        return self.sso.describe_account_assignment_creation_status(
            InstanceArn=self.arn, AccountAssignmentCreationRequestId=request_id)["AccountAssignmentCreationStatus"]

    def deletion(self, request_id: str) -> dict:
        return self.sso.describe_account_assignment_deletion_status(
            InstanceArn=self.arn, AccountAssignmentDeletionRequestId=request_id)["AccountAssignmentDeletionStatus"]

    def provisioning(self, request_id: str) -> dict:
        return self.sso.describe_permission_set_provisioning_status(
            InstanceArn=self.arn, ProvisionPermissionSetRequestId=request_id)["PermissionSetProvisioningStatus"]

    def assigned(self, ps: str, account: str = A) -> list[str]:
        found = self.sso.list_account_assignments(InstanceArn=self.arn, AccountId=account, PermissionSetArn=ps)
        return [a["PrincipalId"] for a in found["AccountAssignments"]]

    def provisioned(self, ps: str) -> list[str]:
        return self.sso.list_accounts_for_provisioned_permission_set(
            InstanceArn=self.arn, PermissionSetArn=ps)["AccountIds"]

    def listed(self, operation: str, status: str | None = None) -> list[dict]:
        """Every item of a List*Status call (all pages), optionally filtered by status."""
        kwargs = {"InstanceArn": self.arn, **({"Filter": {"Status": status}} if status else {})}
        pages = self.sso.get_paginator(operation).paginate(**kwargs)
        key = {"list_account_assignment_creation_status": "AccountAssignmentsCreationStatus",
               "list_account_assignment_deletion_status": "AccountAssignmentsDeletionStatus",
               "list_permission_set_provisioning_status": "PermissionSetsProvisioningStatus"}[operation]
        return [item for page in pages for item in page[key]]


def code_of(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


# -- time in IN_PROGRESS -------------------------------------------------------------------
def test_assignment_appears_once_its_creation_succeeded(emulator) -> None:
    env = Instance(emulator)
    ps, user = env.permission_set(), env.user()
    emulator.set_faults({"async_seconds": 1.0})
    started = env.create(ps, user)
    assert started["Status"] == "IN_PROGRESS" and started["PrincipalId"] == user
    assert env.creation(started["RequestId"])["Status"] == "IN_PROGRESS"
    assert env.assigned(ps) == [] and env.provisioned(ps) == []
    emulator.advance(0.5)
    assert env.creation(started["RequestId"])["Status"] == "IN_PROGRESS"
    emulator.advance(0.5)
    done = env.creation(started["RequestId"])
    assert done["Status"] == "SUCCEEDED" and "FailureReason" not in done
    assert {k: done[k] for k in ("TargetId", "PermissionSetArn", "PrincipalType")} == {
        "TargetId": A, "PermissionSetArn": ps, "PrincipalType": "USER"}
    assert env.assigned(ps) == [user] and env.provisioned(ps) == [A]


def test_assignment_stays_until_its_deletion_succeeded(emulator) -> None:
    env = Instance(emulator)
    ps, user = env.permission_set(), env.user()
    env.create(ps, user)
    emulator.set_faults({"async_seconds": 2})
    deleting = env.delete(ps, user)
    assert deleting["Status"] == "IN_PROGRESS"
    assert env.assigned(ps) == [user]
    emulator.advance(2)
    assert env.deletion(deleting["RequestId"])["Status"] == "SUCCEEDED"
    assert env.assigned(ps) == [] and env.provisioned(ps) == []  # the last one deprovisions


def test_provisioning_takes_effect_when_it_succeeded(sandbox) -> None:
    env = Instance(sandbox)
    ps = env.permission_set()
    sandbox.set_faults({"async_seconds": 1, "rules": [
        {"operation": "ProvisionPermissionSet", "async_seconds": 5}]})  # a rule overrides the top level
    request = env.provision(ps)
    sandbox.advance(1)
    assert env.provisioning(request["RequestId"])["Status"] == "IN_PROGRESS"
    assert env.provisioned(ps) == []
    sandbox.advance(4)
    done = env.provisioning(request["RequestId"])
    assert (done["Status"], done["AccountId"], done["PermissionSetArn"]) == ("SUCCEEDED", A, ps)
    assert env.provisioned(ps) == [A]


def test_status_listings_filter_by_status_and_paginate(sandbox) -> None:
    env = Instance(sandbox)
    ps, users = env.permission_set(), [env.user(f"u{i}") for i in range(3)]
    sandbox.set_faults({"async_seconds": 1, "rules": [
        {"operation": "CreateAccountAssignment", "async_fail_after": 2, "failure_reason": "role quota"}]})
    first = [env.create(ps, u, account) for u, account in zip(users, ACCOUNTS, strict=False)]
    creations = "list_account_assignment_creation_status"
    in_progress = env.listed(creations, "IN_PROGRESS")
    assert [i["RequestId"] for i in in_progress] == [r["RequestId"] for r in first]
    assert set(in_progress[0]) == {"RequestId", "Status", "CreatedDate"}
    assert env.listed(creations, "SUCCEEDED") == []
    sandbox.advance(1)
    assert len(env.listed(creations, "SUCCEEDED")) == 2
    failed = env.listed(creations, "FAILED")
    assert [i["RequestId"] for i in failed] == [first[2]["RequestId"]]
    page = env.sso.list_account_assignment_creation_status(InstanceArn=env.arn, MaxResults=2)
    assert len(page["AccountAssignmentsCreationStatus"]) == 2 and page["NextToken"]
    assert len(env.listed(creations)) == 3
    assert env.listed("list_account_assignment_deletion_status") == []
    env.provision(ps, B)
    assert [i["Status"] for i in env.listed("list_permission_set_provisioning_status")] == ["IN_PROGRESS"]
    assert code_of(lambda: env.sso.list_account_assignment_creation_status(
        InstanceArn=env.arn, Filter={"Status": "DONE"})) == "ValidationException"


# -- at most 15 outstanding ----------------------------------------------------------------
def test_the_sixteenth_outstanding_request_is_throttled(emulator) -> None:
    env = Instance(emulator)
    ps, other, user = env.permission_set(), env.permission_set("other"), env.user()
    env.create(other, user, A)
    emulator.set_faults({"async_seconds": 10})
    for account in ACCOUNTS[:13]:
        env.create(ps, user, account)
    env.delete(other, user, A)
    env.provision(other, B)  # creations, deletions and provisionings count together: 15
    with pytest.raises(ClientError) as caught:
        env.create(ps, user, ACCOUNTS[13])
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ThrottlingException", TOO_MANY)
    assert TOO_MANY == "There are too many requests processing. Please try again later."
    assert emulator.fault_counters()["sso-admin:CreateAccountAssignment:async_cap"] == 1
    emulator.advance(10)
    assert env.create(ps, user, ACCOUNTS[13])["Status"] == "IN_PROGRESS"


def test_the_limit_is_configurable_and_can_be_off(sandbox) -> None:
    env = Instance(sandbox)
    ps, user = env.permission_set(), env.user()
    sandbox.set_faults({"async_seconds": 10, "async_max_outstanding": 2})
    env.create(ps, user, ACCOUNTS[0])
    env.create(ps, user, ACCOUNTS[1])
    assert code_of(lambda: env.create(ps, user, ACCOUNTS[2])) == "ThrottlingException"
    sandbox.set_faults({"async_seconds": 10, "async_max_outstanding": "off"})
    for account in ACCOUNTS[2:20]:
        env.create(ps, user, account)
    assert len(env.listed("list_account_assignment_creation_status", "IN_PROGRESS")) == 20


# -- injected FAILED -----------------------------------------------------------------------
def test_failed_creation_leaves_no_assignment(emulator) -> None:
    env = Instance(emulator)
    ps, ada, bob = env.permission_set(), env.user("ada"), env.user("bob")
    emulator.set_faults({"async_seconds": 1, "rules": [{
        "operation": "sso-admin:CreateAccountAssignment", "async_fail_after": 1,
        "failure_reason": "Cannot exceed quota for RolesPerAccount: 1000"}]})
    ok, bad = env.create(ps, ada, A), env.create(ps, bob, B)
    assert bad["Status"] == "IN_PROGRESS"  # the outcome shows only when the request ends
    emulator.advance(1)
    assert env.creation(ok["RequestId"])["Status"] == "SUCCEEDED"
    failed = env.creation(bad["RequestId"])
    assert (failed["Status"], failed["FailureReason"]) == ("FAILED", "Cannot exceed quota for RolesPerAccount: 1000")
    assert env.assigned(ps, A) == [ada] and env.assigned(ps, B) == []
    assert env.provisioned(ps) == [A]
    assert emulator.fault_counters() == {"sso-admin:CreateAccountAssignment:async_failed": 1}


def test_failed_deletion_keeps_the_assignment_and_default_reason(sandbox) -> None:
    env = Instance(sandbox)
    ps, user = env.permission_set(), env.user()
    env.create(ps, user)
    sandbox.set_faults({"rules": [{"operation": "DeleteAccountAssignment", "async_fail": 1}]})
    failed = env.deletion(env.delete(ps, user)["RequestId"])
    assert failed["Status"] == "FAILED" and "sandbox" in failed["FailureReason"]
    assert env.assigned(ps) == [user]


def test_failure_probability_replays_with_the_seed(sandbox) -> None:
    env = Instance(sandbox)
    ps = env.permission_set()
    rules = {"seed": 3, "async_max_outstanding": "off",
             "rules": [{"operation": "ProvisionPermissionSet", "async_fail": 0.5}]}

    def outcomes() -> list[str]:
        sandbox.set_faults(rules)
        requests = [env.provision(ps, account)["RequestId"] for account in ACCOUNTS]
        return [env.provisioning(r)["Status"] for r in requests]

    first = outcomes()
    assert outcomes() == first
    assert 3 <= first.count("FAILED") <= 17 and set(first) == {"FAILED", "SUCCEEDED"}


def test_failed_provisioning_changes_nothing(sandbox) -> None:
    env = Instance(sandbox)
    ps = env.permission_set()
    sandbox.set_faults({"rules": [{"operation": "ProvisionPermissionSet", "async_fail": 1,
                                   "failure_reason": "Received a 403 status error: Not authorized"}]})
    assert env.provisioning(env.provision(ps)["RequestId"])["FailureReason"].startswith("Received a 403")
    assert env.provisioned(ps) == []


# -- one operation per permission set and account ------------------------------------------
def test_concurrent_operations_on_one_permission_set_and_account_conflict(emulator) -> None:
    env = Instance(emulator)
    ps, ada, bob = env.permission_set(), env.user("ada"), env.user("bob")
    env.create(ps, ada, B)  # provisioned to B, finished
    emulator.set_faults({"async_seconds": 1})
    env.create(ps, ada, A)
    with pytest.raises(ClientError) as caught:
        env.create(ps, bob, A)
    assert caught.value.response["Error"]["Code"] == "ConflictException"
    assert "in progress" in caught.value.response["Error"]["Message"]
    assert code_of(lambda: env.delete(ps, ada, A)) == "ConflictException"  # not a misleading not-found
    assert code_of(lambda: env.provision(ps, A)) == "ConflictException"
    assert env.create(ps, bob, B)["Status"] == "IN_PROGRESS"  # another account is independent
    assert code_of(lambda: env.provision(ps, None)) == "ConflictException"  # all provisioned: A and B
    assert code_of(lambda: env.sso.delete_permission_set(InstanceArn=env.arn, PermissionSetArn=ps)) == \
        "ConflictException"
    assert emulator.fault_counters()["sso-admin:CreateAccountAssignment:async_conflict"] == 1
    emulator.advance(1)
    assert env.create(ps, bob, A)["Status"] == "IN_PROGRESS"
    assert sorted(env.assigned(ps, A)) == sorted([ada])  # bob's creation is still running


# -- deleting principals -------------------------------------------------------------------
def test_deleting_a_user_or_group_removes_its_assignments(emulator) -> None:
    env = Instance(emulator)
    ps, ada, bob, ops = env.permission_set(), env.user("ada"), env.user("bob"), env.group("ops")
    env.ids.create_group_membership(IdentityStoreId=env.store, GroupId=ops, MemberId={"UserId": ada})
    env.create(ps, ada, A)
    env.create(ps, bob, A)
    env.create(ps, ops, B, "GROUP")
    env.ids.delete_user(IdentityStoreId=env.store, UserId=ada)
    env.ids.delete_group(IdentityStoreId=env.store, GroupId=ops)
    assert env.assigned(ps, A) == [bob] and env.assigned(ps, B) == []
    assert env.provisioned(ps) == [A]  # B lost its last assignment
    by_principal = env.sso.list_account_assignments_for_principal(
        InstanceArn=env.arn, PrincipalId=ada, PrincipalType="USER")["AccountAssignments"]
    assert by_principal == []
    assert env.ids.list_group_memberships(IdentityStoreId=env.store, GroupId=ops)["GroupMemberships"] == []


def test_a_pending_creation_for_a_deleted_user_ends_failed(sandbox) -> None:
    env = Instance(sandbox)
    ps, user = env.permission_set(), env.user()
    sandbox.set_faults({"async_seconds": 1})
    request = env.create(ps, user)
    env.ids.delete_user(IdentityStoreId=env.store, UserId=user)
    sandbox.advance(1)
    failed = env.creation(request["RequestId"])
    assert failed["Status"] == "FAILED" and user in failed["FailureReason"]
    assert env.assigned(ps) == []


# -- lost responses and resets on the writes -----------------------------------------------
def test_lost_response_on_a_write_applies_it_once(emulator) -> None:
    env = Instance(emulator)
    ps, user = env.permission_set(), env.user()
    emulator.set_faults({"async_seconds": 1, "rules": [
        {"operation": "CreateAccountAssignment", "lost_response": 1}]})
    with pytest.raises(ConnectionClosedError):
        env.create(ps, user)
    [request] = env.listed("list_account_assignment_creation_status", "IN_PROGRESS")
    emulator.advance(1)
    assert env.creation(request["RequestId"])["Status"] == "SUCCEEDED"
    assert env.assigned(ps) == [user]
    emulator.set_faults({"rules": [{"operation": "DeleteAccountAssignment", "lost_response": 1}]})
    with pytest.raises(ConnectionClosedError):
        env.delete(ps, user)
    assert env.assigned(ps) == []
    assert [r["Status"] for r in env.listed("list_account_assignment_deletion_status")] == ["SUCCEEDED"]


def test_reset_on_a_write_applies_nothing(emulator) -> None:
    env = Instance(emulator)
    ps, user = env.permission_set(), env.user()
    emulator.set_faults({"rules": [{"operation": "ProvisionPermissionSet", "reset": 1},
                                   {"operation": "CreateAccountAssignment", "reset": 1}]})
    with pytest.raises(ConnectionClosedError):
        env.create(ps, user)
    with pytest.raises(ConnectionClosedError):
        env.provision(ps)
    assert env.listed("list_account_assignment_creation_status") == []
    assert env.listed("list_permission_set_provisioning_status") == []
    assert env.assigned(ps) == []

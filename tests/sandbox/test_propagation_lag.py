"""The quirks `propagation_lag_seconds` and `case_insensitive_user_names`, and the identity
store's maximum lengths, through real boto3 clients. Reads lag, writes do not: what was just
created is missing from listings and Get*Id lookups until the lag has passed on the emulator's
clock (advanced, never waited for), while a second create of the same name is refused at once."""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NO_RETRY = Config(retries={"total_max_attempts": 1})
ACCOUNT = "111111111111"


class Instance:
    def __init__(self, emulator) -> None:
        self.sso = emulator.client("sso-admin", config=NO_RETRY)
        self.ids = emulator.client("identitystore", config=NO_RETRY)
        found = self.sso.list_instances()["Instances"][0]
        self.arn, self.store = found["InstanceArn"], found["IdentityStoreId"]

    def user(self, name: str, **extra) -> str:
        return self.ids.create_user(IdentityStoreId=self.store, UserName=name, DisplayName=extra.pop("display", name),
                                    Name={"GivenName": name, "FamilyName": "X"}, **extra)["UserId"]

    def user_names(self) -> set[str]:
        return {u["UserName"] for u in self.ids.list_users(IdentityStoreId=self.store)["Users"]}

    def user_id(self, name: str) -> str:
        return self.ids.get_user_id(IdentityStoreId=self.store, AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": name}})["UserId"]

    def group_id(self, name: str) -> str:
        return self.ids.get_group_id(IdentityStoreId=self.store, AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": name}})["GroupId"]


def _code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_new_principals_and_memberships_are_unseen_by_reads_until_the_lag_has_passed(emulator):
    t = Instance(emulator)
    old = t.user("old")  # before the quirk: always visible
    emulator.set_faults({"quirks": {"propagation_lag_seconds": 2}})
    ada = t.user("ada")
    group = t.ids.create_group(IdentityStoreId=t.store, DisplayName="ops")["GroupId"]
    membership = t.ids.create_group_membership(IdentityStoreId=t.store, GroupId=group,
                                               MemberId={"UserId": ada})["MembershipId"]
    assert t.user_names() == {"old"}
    assert t.ids.list_groups(IdentityStoreId=t.store)["Groups"] == []
    assert t.ids.list_group_memberships(IdentityStoreId=t.store, GroupId=group)["GroupMemberships"] == []
    assert _code(lambda: t.user_id("ada")) == "ResourceNotFoundException"
    assert _code(lambda: t.group_id("ops")) == "ResourceNotFoundException"
    assert _code(lambda: t.ids.get_group_membership_id(IdentityStoreId=t.store, GroupId=group,
                                                       MemberId={"UserId": ada})) == "ResourceNotFoundException"
    assert t.user_id("old") == old
    # Writes see the truth: the name is taken, the membership exists, the id can be read.
    assert _code(lambda: t.user("ada")) == "ConflictException"
    assert _code(lambda: t.ids.create_group(IdentityStoreId=t.store, DisplayName="ops")) == "ConflictException"
    assert t.ids.describe_user(IdentityStoreId=t.store, UserId=ada)["UserName"] == "ada"
    emulator.advance(2)
    assert t.user_names() == {"old", "ada"}
    assert t.user_id("ada") == ada and t.group_id("ops") == group
    assert t.ids.get_group_membership_id(IdentityStoreId=t.store, GroupId=group,
                                         MemberId={"UserId": ada})["MembershipId"] == membership


def test_a_succeeded_assignment_is_listed_only_after_the_lag(emulator):
    t = Instance(emulator)
    emulator.set_faults({"quirks": {"propagation_lag_seconds": 2}})
    ada = t.user("ada")
    ps = t.sso.create_permission_set(InstanceArn=t.arn, Name="ps")["PermissionSet"]["PermissionSetArn"]
    status = t.sso.create_account_assignment(InstanceArn=t.arn, TargetId=ACCOUNT, TargetType="AWS_ACCOUNT",
                                             PermissionSetArn=ps, PrincipalType="USER", PrincipalId=ada)
    request = status["AccountAssignmentCreationStatus"]["RequestId"]
    assert t.sso.describe_account_assignment_creation_status(
        InstanceArn=t.arn, AccountAssignmentCreationRequestId=request)["AccountAssignmentCreationStatus"][
        "Status"] == "SUCCEEDED"

    def listed() -> tuple[list, list]:
        by_pair = t.sso.list_account_assignments(InstanceArn=t.arn, AccountId=ACCOUNT,
                                                 PermissionSetArn=ps)["AccountAssignments"]
        by_principal = t.sso.list_account_assignments_for_principal(
            InstanceArn=t.arn, PrincipalId=ada, PrincipalType="USER")["AccountAssignments"]
        return by_pair, by_principal

    assert listed() == ([], [])
    emulator.advance(2)
    by_pair, by_principal = listed()
    assert [a["PrincipalId"] for a in by_pair] == [ada] and len(by_principal) == 1


def test_without_the_quirk_every_read_sees_a_create_at_once(emulator):
    t = Instance(emulator)
    ada = t.user("ada")
    assert t.user_names() == {"ada"} and t.user_id("ada") == ada


def test_user_names_are_unique_ignoring_case_under_the_quirk(emulator):
    t = Instance(emulator)
    ada = t.user("Ada")
    t.user("ADA-2")
    t.user("ada")  # the emulator's default: names compare exactly
    emulator.set_faults({"quirks": {"case_insensitive_user_names": True}})
    assert _code(lambda: t.user("aDa-2")) == "ConflictException"
    assert _code(lambda: t.ids.update_user(IdentityStoreId=t.store, UserId=ada, Operations=[
        {"AttributePath": "userName", "AttributeValue": "ada-2"}])) == "ConflictException"
    assert t.user_id("ADA-2") == t.user_id("ada-2")


def test_attributes_longer_than_the_service_allows_are_refused(emulator):
    t = Instance(emulator)
    assert _code(lambda: t.user("u" * 129)) == "ValidationException"
    assert _code(lambda: t.user("ada", display="d" * 1025)) == "ValidationException"
    assert _code(lambda: t.ids.create_group(IdentityStoreId=t.store, DisplayName="g",
                                            Description="x" * 1025)) == "ValidationException"
    ada = t.user("u" * 128)
    assert _code(lambda: t.ids.update_user(IdentityStoreId=t.store, UserId=ada, Operations=[
        {"AttributePath": "title", "AttributeValue": "t" * 1025}])) == "ValidationException"

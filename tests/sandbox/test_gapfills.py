"""Each moto gap fill, exercised through real boto3 clients (in-process and served)."""

from __future__ import annotations

import json

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from awsideman.sandbox import patches

REGION = "us-east-1"
ACCOUNT_A, ACCOUNT_B, ACCOUNT_C = "111111111111", "222222222222", "333333333333"


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


class Env:
    """Clients plus the instance, and small helpers to make data through the API."""

    def __init__(self, session: boto3.Session) -> None:
        self.sso = session.client("sso-admin", region_name=REGION)
        self.ids = session.client("identitystore", region_name=REGION)
        instance = self.sso.list_instances()["Instances"][0]
        self.instance_arn = instance["InstanceArn"]
        self.store_id = instance["IdentityStoreId"]

    def user(self, name: str = "ada", **extra: object) -> str:
        args = {"DisplayName": name.title(), "Name": {"GivenName": name, "FamilyName": "X"}, **extra}
        return self.ids.create_user(IdentityStoreId=self.store_id, UserName=name, **args)["UserId"]

    def group(self, name: str = "admins") -> str:
        return self.ids.create_group(IdentityStoreId=self.store_id, DisplayName=name)["GroupId"]

    def permission_set(self, name: str = "ps", **extra: object) -> str:
        ps = self.sso.create_permission_set(InstanceArn=self.instance_arn, Name=name, **extra)
        return ps["PermissionSet"]["PermissionSetArn"]

    def assign(self, ps_arn: str, principal_id: str, account: str = ACCOUNT_A, ptype: str = "USER") -> dict:
        return self.sso.create_account_assignment(**self.key(ps_arn, principal_id, account, ptype))[
            "AccountAssignmentCreationStatus"
        ]

    def key(self, ps_arn: str, principal_id: str, account: str = ACCOUNT_A, ptype: str = "USER") -> dict:
        return {
            "InstanceArn": self.instance_arn,
            "TargetId": account,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": ps_arn,
            "PrincipalType": ptype,
            "PrincipalId": principal_id,
        }


@pytest.fixture
def env(fake_env: None):
    patches.apply()
    with mock_aws():
        yield Env(boto3.Session(region_name=REGION))


@pytest.fixture
def served_env(fake_env: None, monkeypatch: pytest.MonkeyPatch):
    patches.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # Served backends are process-global: start every test from a clean emulator.
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        yield Env(boto3.Session(region_name=REGION))
    finally:
        server.stop()


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> dict:
    return excinfo.value.response["Error"]


def status_of(describe, **kwargs) -> str:
    """The Status a Describe*Status call reports (the async time is 0 without fault rules:
    a request is done at the next call; time in IN_PROGRESS is tested in test_async_requests.py)."""
    answer = describe(**kwargs)
    return next(v for k, v in answer.items() if k != "ResponseMetadata")["Status"]


# ---------------------------------------------------------------- sso-admin: permission sets


def test_apply_is_idempotent(env: Env) -> None:
    patches.apply()
    patches.apply()
    assert patches.is_applied()
    ps = env.permission_set()
    env.sso.tag_resource(InstanceArn=env.instance_arn, ResourceArn=ps, Tags=[{"Key": "a", "Value": "1"}])
    tags = env.sso.list_tags_for_resource(InstanceArn=env.instance_arn, ResourceArn=ps)["Tags"]
    assert tags == [{"Key": "a", "Value": "1"}]


def test_permissions_boundary_put_get_delete(env: Env) -> None:
    ps = env.permission_set()
    target = {"InstanceArn": env.instance_arn, "PermissionSetArn": ps}
    with pytest.raises(ClientError) as missing:
        env.sso.get_permissions_boundary_for_permission_set(**target)
    assert error_of(missing)["Code"] == "ResourceNotFoundException"

    cmp = {"CustomerManagedPolicyReference": {"Name": "Boundary", "Path": "/teams/"}}
    env.sso.put_permissions_boundary_to_permission_set(PermissionsBoundary=cmp, **target)
    assert env.sso.get_permissions_boundary_for_permission_set(**target)["PermissionsBoundary"] == cmp

    managed = {"ManagedPolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}
    env.sso.put_permissions_boundary_to_permission_set(PermissionsBoundary=managed, **target)
    assert env.sso.get_permissions_boundary_for_permission_set(**target)["PermissionsBoundary"] == managed

    env.sso.delete_permissions_boundary_from_permission_set(**target)
    with pytest.raises(ClientError) as gone:
        env.sso.get_permissions_boundary_for_permission_set(**target)
    assert error_of(gone)["Code"] == "ResourceNotFoundException"


def test_permissions_boundary_needs_exactly_one_kind(env: Env) -> None:
    ps = env.permission_set()
    both = {
        "CustomerManagedPolicyReference": {"Name": "B"},
        "ManagedPolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
    }
    with pytest.raises(ClientError) as excinfo:
        env.sso.put_permissions_boundary_to_permission_set(
            InstanceArn=env.instance_arn, PermissionSetArn=ps, PermissionsBoundary=both
        )
    assert error_of(excinfo)["Code"] == "ValidationException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_tags_from_create_tag_untag_and_paginate(env: Env) -> None:
    ps = env.permission_set(Tags=[{"Key": "team", "Value": "data"}])
    target = {"InstanceArn": env.instance_arn, "ResourceArn": ps}
    more = [{"Key": f"k{i:02d}", "Value": str(i)} for i in range(24)]
    env.sso.tag_resource(Tags=[{"Key": "team", "Value": "platform"}, *more], **target)
    env.sso.untag_resource(TagKeys=["k00", "k01"], **target)

    pages, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        response = env.sso.list_tags_for_resource(**target, **kwargs)
        pages.append(response["Tags"])
        token = response.get("NextToken")
        if not token:
            break
    tags = {t["Key"]: t["Value"] for page in pages for t in page}
    assert len(pages) > 1
    assert tags["team"] == "platform"
    assert "k00" not in tags and "k01" not in tags
    assert len(tags) == 23


def test_update_permission_set_keeps_fields_not_given(env: Env) -> None:
    ps = env.permission_set(Description="d1", SessionDuration="PT8H", RelayState="https://x.example/")
    env.sso.update_permission_set(InstanceArn=env.instance_arn, PermissionSetArn=ps, Description="d2")
    described = env.sso.describe_permission_set(InstanceArn=env.instance_arn, PermissionSetArn=ps)
    assert described["PermissionSet"]["Description"] == "d2"
    assert described["PermissionSet"]["SessionDuration"] == "PT8H"
    assert described["PermissionSet"]["RelayState"] == "https://x.example/"


def test_create_permission_set_defaults_and_unique_name(env: Env) -> None:
    ps = env.permission_set("one")
    described = env.sso.describe_permission_set(InstanceArn=env.instance_arn, PermissionSetArn=ps)
    assert described["PermissionSet"]["SessionDuration"] == "PT1H"
    assert "Description" not in described["PermissionSet"]
    with pytest.raises(ClientError) as excinfo:
        env.permission_set("one")
    assert error_of(excinfo)["Code"] == "ConflictException"


def test_managed_policy_arns_keep_their_path(env: Env) -> None:
    ps = env.permission_set()
    target = {"InstanceArn": env.instance_arn, "PermissionSetArn": ps}
    job_function = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
    env.sso.attach_managed_policy_to_permission_set(ManagedPolicyArn=job_function, **target)
    attached = env.sso.list_managed_policies_in_permission_set(**target)["AttachedManagedPolicies"]
    assert attached == [{"Arn": job_function, "Name": "ViewOnlyAccess"}]

    with pytest.raises(ClientError) as wrong_path:
        env.sso.attach_managed_policy_to_permission_set(
            ManagedPolicyArn="arn:aws:iam::aws:policy/ViewOnlyAccess", **target
        )
    assert error_of(wrong_path)["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as customer:
        env.sso.attach_managed_policy_to_permission_set(
            ManagedPolicyArn="arn:aws:iam::123456789012:policy/Mine", **target
        )
    assert error_of(customer)["Code"] == "ValidationException"


def test_provisioning_status_and_listings(env: Env) -> None:
    ps = env.permission_set()
    target = {"InstanceArn": env.instance_arn, "PermissionSetArn": ps}
    started = env.sso.provision_permission_set(TargetType="AWS_ACCOUNT", TargetId=ACCOUNT_A, **target)
    status = started["PermissionSetProvisioningStatus"]
    assert status["Status"] == "IN_PROGRESS"
    described = status_of(
        env.sso.describe_permission_set_provisioning_status,
        InstanceArn=env.instance_arn,
        ProvisionPermissionSetRequestId=status["RequestId"],
    )
    assert described == "SUCCEEDED"
    assert env.sso.list_accounts_for_provisioned_permission_set(**target)["AccountIds"] == [ACCOUNT_A]

    # A policy change leaves the account on an old version until it is provisioned again.
    env.sso.put_inline_policy_to_permission_set(InlinePolicy=json.dumps({"Version": "2012-10-17"}), **target)
    stale = env.sso.list_accounts_for_provisioned_permission_set(
        ProvisioningStatus="LATEST_PERMISSION_SET_NOT_PROVISIONED", **target
    )
    assert stale["AccountIds"] == [ACCOUNT_A]
    env.sso.provision_permission_set(TargetType="ALL_PROVISIONED_ACCOUNTS", **target)
    latest = env.sso.list_accounts_for_provisioned_permission_set(
        ProvisioningStatus="LATEST_PERMISSION_SET_PROVISIONED", **target
    )
    assert latest["AccountIds"] == [ACCOUNT_A]


def test_delete_permission_set_with_assignments_conflicts(env: Env) -> None:
    ps, user = env.permission_set(), env.user()
    env.assign(ps, user)
    with pytest.raises(ClientError) as excinfo:
        env.sso.delete_permission_set(InstanceArn=env.instance_arn, PermissionSetArn=ps)
    assert error_of(excinfo)["Code"] == "ConflictException"
    env.sso.delete_account_assignment(**env.key(ps, user))
    env.sso.delete_permission_set(InstanceArn=env.instance_arn, PermissionSetArn=ps)
    assert env.sso.list_permission_sets(InstanceArn=env.instance_arn)["PermissionSets"] == []


# ---------------------------------------------------------------- sso-admin: assignments


def test_assignment_rejects_unknown_permission_set_and_principals(env: Env) -> None:
    ps, user, group = env.permission_set(), env.user(), env.group()
    cases = [
        (env.key(ps[:-4] + "zzzz", user), "ResourceNotFoundException"),
        (env.key(ps, "no-such-user"), "ResourceNotFoundException"),
        (env.key(ps, "no-such-group", ptype="GROUP"), "ResourceNotFoundException"),
        (env.key(ps, group, ptype="USER"), "ResourceNotFoundException"),  # a group id is not a user
        (env.key(ps, user, account="12345678901x"), "ValidationException"),
    ]
    for key, code in cases:
        with pytest.raises(ClientError) as excinfo:
            env.sso.create_account_assignment(**key)
        assert error_of(excinfo)["Code"] == code, key
        assert error_of(excinfo)["Message"]
    assert (
        env.sso.list_account_assignments(
            InstanceArn=env.instance_arn, AccountId=ACCOUNT_A, PermissionSetArn=ps
        )["AccountAssignments"]
        == []
    )


def test_duplicate_assignment_is_accepted_but_stored_once(env: Env) -> None:
    ps, user = env.permission_set(), env.user()
    first, second = env.assign(ps, user), env.assign(ps, user)
    assert first["RequestId"] != second["RequestId"]
    listed = env.sso.list_account_assignments(
        InstanceArn=env.instance_arn, AccountId=ACCOUNT_A, PermissionSetArn=ps
    )
    assert len(listed["AccountAssignments"]) == 1


def test_assignment_creation_and_deletion_status(env: Env) -> None:
    ps, group = env.permission_set(), env.group()
    created = env.assign(ps, group, ptype="GROUP")
    assert created["Status"] == "IN_PROGRESS"
    assert status_of(
        env.sso.describe_account_assignment_creation_status,
        InstanceArn=env.instance_arn,
        AccountAssignmentCreationRequestId=created["RequestId"],
    ) == "SUCCEEDED"

    deleted = env.sso.delete_account_assignment(**env.key(ps, group, ptype="GROUP"))
    request_id = deleted["AccountAssignmentDeletionStatus"]["RequestId"]
    assert deleted["AccountAssignmentDeletionStatus"]["Status"] == "IN_PROGRESS"
    assert status_of(
        env.sso.describe_account_assignment_deletion_status,
        InstanceArn=env.instance_arn,
        AccountAssignmentDeletionRequestId=request_id,
    ) == "SUCCEEDED"
    with pytest.raises(ClientError) as excinfo:
        env.sso.describe_account_assignment_creation_status(
            InstanceArn=env.instance_arn, AccountAssignmentCreationRequestId=request_id
        )
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"


def test_provisioned_listings_follow_assignments_and_paginate(env: Env) -> None:
    ps1, ps2, user = env.permission_set("one"), env.permission_set("two"), env.user()
    for account in (ACCOUNT_A, ACCOUNT_B, ACCOUNT_C):
        env.assign(ps1, user, account)
    env.assign(ps2, user, ACCOUNT_B)

    target = {"InstanceArn": env.instance_arn, "PermissionSetArn": ps1}
    page1 = env.sso.list_accounts_for_provisioned_permission_set(MaxResults=2, **target)
    page2 = env.sso.list_accounts_for_provisioned_permission_set(
        MaxResults=2, NextToken=page1["NextToken"], **target
    )
    assert page1["AccountIds"] + page2["AccountIds"] == [ACCOUNT_A, ACCOUNT_B, ACCOUNT_C]
    assert "NextToken" not in page2

    def provisioned_to(account: str) -> list[str]:
        return env.sso.list_permission_sets_provisioned_to_account(
            InstanceArn=env.instance_arn, AccountId=account
        )["PermissionSets"]

    assert provisioned_to(ACCOUNT_B) == [ps1, ps2]
    assert provisioned_to(ACCOUNT_A) == [ps1]
    env.sso.delete_account_assignment(**env.key(ps1, user, ACCOUNT_A))
    assert provisioned_to(ACCOUNT_A) == []
    assert ACCOUNT_A not in env.sso.list_accounts_for_provisioned_permission_set(**target)["AccountIds"]


def test_list_account_assignments_paginate_and_for_principal(env: Env) -> None:
    ps = env.permission_set()
    users = [env.user(f"u{i}") for i in range(5)]
    for user in users:
        env.assign(ps, user)
    env.assign(ps, users[0], ACCOUNT_B)

    paginator = env.sso.get_paginator("list_account_assignments")
    pages = list(
        paginator.paginate(
            InstanceArn=env.instance_arn,
            AccountId=ACCOUNT_A,
            PermissionSetArn=ps,
            PaginationConfig={"PageSize": 2},
        )
    )
    assert len(pages) == 3
    assert sorted(a["PrincipalId"] for p in pages for a in p["AccountAssignments"]) == sorted(users)

    def for_principal(**extra: object) -> list[dict]:
        return env.sso.list_account_assignments_for_principal(
            InstanceArn=env.instance_arn, PrincipalId=users[0], PrincipalType="USER", **extra
        )["AccountAssignments"]

    assert {a["AccountId"] for a in for_principal()} == {ACCOUNT_A, ACCOUNT_B}
    assert [a["AccountId"] for a in for_principal(Filter={"AccountId": ACCOUNT_B})] == [ACCOUNT_B]
    assert len(for_principal(MaxResults=1)) == 1


# ---------------------------------------------------------------- identitystore


def test_update_user_paths(env: Env) -> None:
    user = env.user("ada", Title="Engineer", NickName="A")
    operations = [
        {"AttributePath": "displayName", "AttributeValue": "Ada L."},
        {"AttributePath": "name.givenName", "AttributeValue": "Augusta"},
        {"AttributePath": "title", "AttributeValue": "Countess"},
        {
            "AttributePath": "emails",
            "AttributeValue": [{"value": "ada@example.com", "type": "work", "primary": True}],
        },
        {
            "AttributePath": "addresses",
            "AttributeValue": [{"Locality": "London", "Country": "GB", "Primary": True}],
        },
        {"AttributePath": "locale", "AttributeValue": "en-GB"},
        {"AttributePath": "nickName"},  # no value: the attribute is removed
    ]
    env.ids.update_user(IdentityStoreId=env.store_id, UserId=user, Operations=operations)
    described = env.ids.describe_user(IdentityStoreId=env.store_id, UserId=user)
    assert described["DisplayName"] == "Ada L."
    assert described["Name"] == {"GivenName": "Augusta", "FamilyName": "X"}
    assert described["Title"] == "Countess"
    assert described["Emails"] == [{"Value": "ada@example.com", "Type": "work", "Primary": True}]
    assert described["Addresses"] == [{"Locality": "London", "Country": "GB", "Primary": True}]
    assert described["Locale"] == "en-GB"
    assert "NickName" not in described


def test_update_user_rejects_bad_path_and_duplicate_name(env: Env) -> None:
    user = env.user("ada")
    env.user("grace")
    with pytest.raises(ClientError) as bad:
        env.ids.update_user(
            IdentityStoreId=env.store_id,
            UserId=user,
            Operations=[{"AttributePath": "shoeSize", "AttributeValue": "9"}],
        )
    assert error_of(bad)["Code"] == "ValidationException"
    with pytest.raises(ClientError) as dup:
        env.ids.update_user(
            IdentityStoreId=env.store_id,
            UserId=user,
            Operations=[{"AttributePath": "userName", "AttributeValue": "grace"}],
        )
    assert error_of(dup)["Code"] == "ConflictException"
    assert dup.value.response["Reason"] == "UNIQUENESS_CONSTRAINT_VIOLATION"


def test_update_group(env: Env) -> None:
    group = env.group("admins")
    env.group("devs")
    env.ids.update_group(
        IdentityStoreId=env.store_id,
        GroupId=group,
        Operations=[
            {"AttributePath": "displayName", "AttributeValue": "administrators"},
            {"AttributePath": "description", "AttributeValue": "The admins"},
        ],
    )
    described = env.ids.describe_group(IdentityStoreId=env.store_id, GroupId=group)
    assert (described["DisplayName"], described["Description"]) == ("administrators", "The admins")
    with pytest.raises(ClientError) as dup:
        env.ids.update_group(
            IdentityStoreId=env.store_id,
            GroupId=group,
            Operations=[{"AttributePath": "displayName", "AttributeValue": "devs"}],
        )
    assert dup.value.response["Reason"] == "UNIQUENESS_CONSTRAINT_VIOLATION"


def test_duplicate_membership_conflicts(env: Env) -> None:
    user, group = env.user(), env.group()
    member = {"IdentityStoreId": env.store_id, "GroupId": group, "MemberId": {"UserId": user}}
    env.ids.create_group_membership(**member)
    with pytest.raises(ClientError) as excinfo:
        env.ids.create_group_membership(**member)
    assert error_of(excinfo)["Code"] == "ConflictException"
    assert excinfo.value.response["Reason"] == "UNIQUENESS_CONSTRAINT_VIOLATION"
    listed = env.ids.list_group_memberships(IdentityStoreId=env.store_id, GroupId=group)
    assert len(listed["GroupMemberships"]) == 1


def test_duplicate_user_and_group_conflict(env: Env) -> None:
    env.user("ada")
    env.group("admins")
    with pytest.raises(ClientError) as user_dup:
        env.user("ada")
    with pytest.raises(ClientError) as group_dup:
        env.group("admins")
    for excinfo in (user_dup, group_dup):
        assert error_of(excinfo)["Code"] == "ConflictException"
        assert excinfo.value.response["Reason"] == "UNIQUENESS_CONSTRAINT_VIOLATION"


def test_delete_user_and_group_cascade_to_memberships(env: Env) -> None:
    ada, grace, admins, devs = env.user("ada"), env.user("grace"), env.group("admins"), env.group("devs")
    for group, user in ((admins, ada), (admins, grace), (devs, ada)):
        env.ids.create_group_membership(
            IdentityStoreId=env.store_id, GroupId=group, MemberId={"UserId": user}
        )
    env.ids.delete_user(IdentityStoreId=env.store_id, UserId=ada)
    env.ids.delete_group(IdentityStoreId=env.store_id, GroupId=devs)

    def members(group: str) -> list[str]:
        listed = env.ids.list_group_memberships(IdentityStoreId=env.store_id, GroupId=group)[
            "GroupMemberships"
        ]
        return [m["MemberId"]["UserId"] for m in listed]

    assert members(admins) == [grace]
    assert members(devs) == []
    for_member = env.ids.list_group_memberships_for_member(
        IdentityStoreId=env.store_id, MemberId={"UserId": ada}
    )
    assert for_member["GroupMemberships"] == []
    with pytest.raises(ClientError) as excinfo:
        env.ids.delete_user(IdentityStoreId=env.store_id, UserId=ada)
    assert error_of(excinfo)["Code"] == "ResourceNotFoundException"


def test_describe_and_list_user_return_every_attribute(env: Env) -> None:
    attributes = {
        "UserName": "ada",
        "DisplayName": "Ada Lovelace",
        "Name": {
            "GivenName": "Ada",
            "FamilyName": "Lovelace",
            "MiddleName": "Augusta",
            "Formatted": "Ada Lovelace",
            "HonorificPrefix": "Lady",
            "HonorificSuffix": "FRS",
        },
        "NickName": "Ada",
        "ProfileUrl": "https://example.com/ada",
        "Emails": [{"Value": "ada@example.com", "Type": "work", "Primary": True}],
        "PhoneNumbers": [{"Value": "+44 20 7946 0000", "Type": "work", "Primary": True}],
        "Addresses": [
            {"StreetAddress": "1 St James's Sq", "Locality": "London", "Country": "GB", "Primary": True}
        ],
        "Title": "Countess",
        "UserType": "Employee",
        "PreferredLanguage": "en",
        "Locale": "en-GB",
        "Timezone": "Europe/London",
        "Website": "https://ada.example.com",
    }
    user_id = env.ids.create_user(IdentityStoreId=env.store_id, **attributes)["UserId"]
    described = env.ids.describe_user(IdentityStoreId=env.store_id, UserId=user_id)
    listed = env.ids.list_users(IdentityStoreId=env.store_id)["Users"][0]
    for record in (described, listed):
        assert {k: record[k] for k in attributes} == attributes
        assert record["UserId"] == user_id


def test_one_email_address_and_phone_at_most(env: Env) -> None:
    two = [{"Value": "a@example.com", "Primary": True}, {"Value": "b@example.com"}]
    with pytest.raises(ClientError) as excinfo:
        env.user("ada", Emails=two)
    assert error_of(excinfo)["Code"] == "ValidationException"


# ---------------------------------------------------------------- server mode


def test_served_boundary_tags_and_assignment_status(served_env: Env) -> None:
    env = served_env
    assert env.sso.meta.endpoint_url.startswith("http://127.0.0.1:")
    ps = env.permission_set(Tags=[{"Key": "team", "Value": "ops"}])
    target = {"InstanceArn": env.instance_arn, "PermissionSetArn": ps}
    boundary = {"CustomerManagedPolicyReference": {"Name": "Boundary", "Path": "/"}}
    env.sso.put_permissions_boundary_to_permission_set(PermissionsBoundary=boundary, **target)
    assert env.sso.get_permissions_boundary_for_permission_set(**target)["PermissionsBoundary"] == boundary

    env.sso.tag_resource(InstanceArn=env.instance_arn, ResourceArn=ps, Tags=[{"Key": "env", "Value": "prod"}])
    tags = env.sso.list_tags_for_resource(InstanceArn=env.instance_arn, ResourceArn=ps)["Tags"]
    assert tags == [{"Key": "team", "Value": "ops"}, {"Key": "env", "Value": "prod"}]

    user = env.user()
    created = env.assign(ps, user)
    assert status_of(
        env.sso.describe_account_assignment_creation_status,
        InstanceArn=env.instance_arn,
        AccountAssignmentCreationRequestId=created["RequestId"],
    ) == "SUCCEEDED"
    assert env.sso.list_accounts_for_provisioned_permission_set(**target)["AccountIds"] == [ACCOUNT_A]


def test_served_errors_keep_their_shape(served_env: Env) -> None:
    env = served_env
    user, group = env.user(), env.group()
    member = {"IdentityStoreId": env.store_id, "GroupId": group, "MemberId": {"UserId": user}}
    env.ids.create_group_membership(**member)
    with pytest.raises(ClientError) as conflict:
        env.ids.create_group_membership(**member)
    assert error_of(conflict)["Code"] == "ConflictException"
    assert conflict.value.response["Reason"] == "UNIQUENESS_CONSTRAINT_VIOLATION"
    assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    ps = env.permission_set()
    with pytest.raises(ClientError) as missing:
        env.sso.get_permissions_boundary_for_permission_set(InstanceArn=env.instance_arn, PermissionSetArn=ps)
    assert error_of(missing)["Code"] == "ResourceNotFoundException"
    env.ids.update_user(
        IdentityStoreId=env.store_id,
        UserId=user,
        Operations=[{"AttributePath": "title", "AttributeValue": "CTO"}],
    )
    assert env.ids.describe_user(IdentityStoreId=env.store_id, UserId=user)["Title"] == "CTO"

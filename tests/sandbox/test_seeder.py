"""The deterministic seeder, checked through the same list/describe calls a backup makes."""

from __future__ import annotations

import random

import boto3
import pytest
import requests
from moto import mock_aws
from moto.server import ThreadedMotoServer

from awsideman.sandbox import patches
from awsideman.sandbox.seeder import SIZES, SeedResult, _plan, seed

REGION = "us-east-1"


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    patches.apply()


@pytest.fixture
def session(fake_env: None):
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def seed_fresh(size: str, seed_value: int) -> SeedResult:
    with mock_aws():
        return seed(boto3.Session(region_name=REGION), size, seed=seed_value)


def collect(pages) -> list:
    return [item for page in pages for item in page]


def test_same_seed_same_data(fake_env: None) -> None:
    first, second = seed_fresh("small", 7), seed_fresh("small", 7)
    assert first == second
    assert first.instance_arn and first.user_ids  # ids recorded, just not compared
    assert seed_fresh("small", 8) != first


def test_unknown_size_names_valid_sizes(session: boto3.Session) -> None:
    with pytest.raises(ValueError) as excinfo:
        seed(session, "enormous")
    message = str(excinfo.value)
    assert "enormous" in message
    assert all(size in message for size in SIZES)


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_counts_match_list_calls(session: boto3.Session, size: str) -> None:
    result = seed(session, size, seed=1)
    spec = SIZES[size]
    assert result.counts() == {
        "users": spec.users,
        "groups": spec.groups,
        "memberships": spec.memberships,
        "permission_sets": spec.permission_sets,
        "accounts": spec.accounts,
        "assignments": spec.assignments,
    }
    ids, sso = session.client("identitystore"), session.client("sso-admin")
    store, instance = result.identity_store_id, result.instance_arn

    users = collect(p["Users"] for p in ids.get_paginator("list_users").paginate(IdentityStoreId=store))
    groups = collect(p["Groups"] for p in ids.get_paginator("list_groups").paginate(IdentityStoreId=store))
    assert sorted(u["UserName"] for u in users) == sorted(result.users)
    assert sorted(g["DisplayName"] for g in groups) == sorted(result.groups)

    user_names = {u["UserId"]: u["UserName"] for u in users}
    memberships = []
    for group in groups:
        pages = ids.get_paginator("list_group_memberships").paginate(
            IdentityStoreId=store, GroupId=group["GroupId"]
        )
        memberships += [
            (group["DisplayName"], user_names[m["MemberId"]["UserId"]])
            for p in pages
            for m in p["GroupMemberships"]
        ]
    assert sorted(memberships) == result.memberships

    ps_arns = collect(
        p["PermissionSets"] for p in sso.get_paginator("list_permission_sets").paginate(InstanceArn=instance)
    )
    ps_names = {
        arn: sso.describe_permission_set(InstanceArn=instance, PermissionSetArn=arn)["PermissionSet"]["Name"]
        for arn in ps_arns
    }
    assert sorted(ps_names.values()) == sorted(result.permission_sets)

    group_names = {g["GroupId"]: g["DisplayName"] for g in groups}
    assignments, accounts = [], set()
    for arn, ps_name in ps_names.items():
        provisioned = sso.get_paginator("list_accounts_for_provisioned_permission_set").paginate(
            InstanceArn=instance, PermissionSetArn=arn
        )
        for account in collect(p["AccountIds"] for p in provisioned):
            accounts.add(account)
            pages = sso.get_paginator("list_account_assignments").paginate(
                InstanceArn=instance, AccountId=account, PermissionSetArn=arn
            )
            for a in collect(p["AccountAssignments"] for p in pages):
                names = user_names if a["PrincipalType"] == "USER" else group_names
                assignments.append((a["PrincipalType"], names[a["PrincipalId"]], ps_name, account))
    assert sorted(assignments) == result.assignments
    assert accounts <= set(result.accounts)
    assert accounts == {key[3] for key in result.assignments}


def test_users_have_every_attribute_that_was_set(session: boto3.Session) -> None:
    result = seed(session, "small", seed=2)
    ids = session.client("identitystore")
    for user_name, sent in result.users.items():
        described = ids.describe_user(
            IdentityStoreId=result.identity_store_id, UserId=result.user_ids[user_name]
        )
        assert {k: described.get(k) for k in sent} == sent
    every = {
        "UserName",
        "DisplayName",
        "Name",
        "Emails",
        "PhoneNumbers",
        "Addresses",
        "Title",
        "NickName",
        "ProfileUrl",
        "Locale",
        "Timezone",
        "UserType",
        "PreferredLanguage",
    }
    assert set().union(*(u.keys() for u in result.users.values())) == every
    # Optional attributes really vary: some users lack them.
    assert any("NickName" not in u for u in result.users.values())
    assert any("MiddleName" in u["Name"] for u in result.users.values())


def test_permission_sets_have_every_attribute_that_was_set(session: boto3.Session) -> None:
    result = seed(session, "small", seed=3)
    sso = session.client("sso-admin")
    for name, sent in result.permission_sets.items():
        target = {"InstanceArn": result.instance_arn, "PermissionSetArn": result.permission_set_arns[name]}
        described = sso.describe_permission_set(**target)["PermissionSet"]
        for field in ("Name", "Description", "SessionDuration", "RelayState"):
            assert described.get(field) == sent.get(field), (name, field)
        assert sso.get_inline_policy_for_permission_set(**target)["InlinePolicy"] == sent["InlinePolicy"]
        managed = sso.list_managed_policies_in_permission_set(**target)["AttachedManagedPolicies"]
        assert [m["Arn"] for m in managed] == sent["ManagedPolicyArns"]
        cmps = sso.list_customer_managed_policy_references_in_permission_set(**target)
        assert cmps["CustomerManagedPolicyReferences"] == sent["CustomerManagedPolicyReferences"]
        if sent["PermissionsBoundary"]:
            got = sso.get_permissions_boundary_for_permission_set(**target)["PermissionsBoundary"]
            assert got == sent["PermissionsBoundary"]
        tags = sso.list_tags_for_resource(
            InstanceArn=result.instance_arn, ResourceArn=target["PermissionSetArn"]
        )
        assert tags["Tags"] == sent["Tags"]


def test_large_plan_varies_every_optional_field(fake_env: None) -> None:
    # Drawing the large data set is pure; seeding it is benchmarked in bench/seed.py.
    plan = _plan(SIZES["large"], random.Random(0))
    sets = plan["permission_sets"].values()
    assert any("RelayState" in p for p in sets) and any("RelayState" not in p for p in sets)
    assert any(p["InlinePolicy"] for p in sets) and any(not p["InlinePolicy"] for p in sets)
    boundaries = [p["PermissionsBoundary"] for p in sets]
    assert any(b and "ManagedPolicyArn" in b for b in boundaries)
    assert any(b and "CustomerManagedPolicyReference" in b for b in boundaries)
    assert any(b is None for b in boundaries)
    assert any(p["Tags"] for p in sets) and any(not p["Tags"] for p in sets)
    assert all(len(a) == 12 and a.isdigit() for a in plan["accounts"])
    assert {key[0] for key in plan["assignments"]} == {"USER", "GROUP"}


def test_seed_accepts_clients_and_explicit_instance(session: boto3.Session) -> None:
    sso, ids = session.client("sso-admin"), session.client("identitystore")
    instance = sso.list_instances()["Instances"][0]
    result = seed(
        {"sso-admin": sso, "identitystore": ids},
        "tiny",
        instance_arn=instance["InstanceArn"],
        identity_store_id=instance["IdentityStoreId"],
    )
    assert result.instance_arn == instance["InstanceArn"]
    assert len(ids.list_users(IdentityStoreId=result.identity_store_id)["Users"]) == SIZES["tiny"].users


@pytest.mark.served
def test_seed_against_served_emulator(fake_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        requests.post(f"http://{host}:{port}/moto-api/reset", timeout=10).raise_for_status()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        result = seed(boto3.Session(region_name=REGION), "tiny", seed=5)
        sso = boto3.Session(region_name=REGION).client("sso-admin")
        listed = sso.list_permission_sets(InstanceArn=result.instance_arn)["PermissionSets"]
        assert sorted(listed) == sorted(result.permission_set_arns.values())
    finally:
        server.stop()

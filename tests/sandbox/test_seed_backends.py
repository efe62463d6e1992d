"""Seeding straight into the backends leaves what seeding call by call leaves, read back by API."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from awsideman.sandbox import patches
from awsideman.sandbox.seed_backends import seed_backends
from awsideman.sandbox.seeder import SIZES, SeedResult, seed
from awsideman.sandbox.server import SandboxClient, SandboxServer, sandbox_session

REGION = "us-east-1"


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    patches.apply()


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def read_back(session: boto3.Session, result: SeedResult) -> dict[str, Any]:
    """Everything a backup reads, by natural keys (ids differ between runs)."""
    ids, sso, org = (session.client(n) for n in ("identitystore", "sso-admin", "organizations"))
    store, instance = result.identity_store_id, result.instance_arn
    users = _pages(ids, "list_users", "Users", IdentityStoreId=store)
    groups = _pages(ids, "list_groups", "Groups", IdentityStoreId=store)
    user_names = {u["UserId"]: u["UserName"] for u in users}
    group_names = {g["GroupId"]: g["DisplayName"] for g in groups}
    names = {"USER": user_names, "GROUP": group_names}
    memberships = sorted(
        (g["DisplayName"], user_names[m["MemberId"]["UserId"]])
        for g in groups
        for m in _pages(ids, "list_group_memberships", "GroupMemberships", IdentityStoreId=store,
                        GroupId=g["GroupId"]))
    sets, assignments = {}, []
    for arn in _pages(sso, "list_permission_sets", "PermissionSets", InstanceArn=instance):
        target = {"InstanceArn": instance, "PermissionSetArn": arn}
        described = sso.describe_permission_set(**target)["PermissionSet"]
        for volatile in ("PermissionSetArn", "CreatedDate"):
            described.pop(volatile, None)
        accounts = _pages(sso, "list_accounts_for_provisioned_permission_set", "AccountIds", **target)
        sets[described["Name"]] = {
            **described,
            "inline": sso.get_inline_policy_for_permission_set(**target)["InlinePolicy"],
            "managed": _pages(sso, "list_managed_policies_in_permission_set", "AttachedManagedPolicies", **target),
            "customer": _pages(sso, "list_customer_managed_policy_references_in_permission_set",
                               "CustomerManagedPolicyReferences", **target),
            "tags": sso.list_tags_for_resource(InstanceArn=instance, ResourceArn=arn)["Tags"],
            "accounts": sorted(accounts),
            "current": sorted(a for a in accounts if a in _pages(
                sso, "list_accounts_for_provisioned_permission_set", "AccountIds",
                ProvisioningStatus="LATEST_PERMISSION_SET_PROVISIONED", **target)),
        }
        for account in accounts:
            assignments += [(a["PrincipalType"], names[a["PrincipalType"]][a["PrincipalId"]], described["Name"],
                             account)
                            for a in _pages(sso, "list_account_assignments", "AccountAssignments", AccountId=account,
                                            **target)]
    strip = ("UserId", "IdentityStoreId")
    return {
        "users": sorted(({k: v for k, v in u.items() if k not in strip} for u in users),
                        key=lambda u: u["UserName"]),
        "groups": sorted(({k: v for k, v in g.items() if k not in ("GroupId", "IdentityStoreId")} for g in groups),
                         key=lambda g: g["DisplayName"]),
        "memberships": memberships,
        "permission_sets": sets,
        "assignments": sorted(assignments),
        "accounts": sorted(a["Id"] for a in _pages(org, "list_accounts", "Accounts")),
    }


def test_backends_hold_what_api_seeding_leaves(fake_env: None) -> None:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        by_api = seed(session, "small", seed=4)
        expected = read_back(session, by_api)
    with mock_aws():
        direct = seed_backends("small", seed=4)
        found = read_back(boto3.Session(region_name=REGION), direct)
    assert direct == by_api  # the same draw, by natural keys
    assert found == expected
    assert found["accounts"] and found["assignments"]


def test_huge_spec_seeds_exactly_its_counts_in_process(fake_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The huge path at a tenth of its size in every dimension (huge itself is for bench/)."""
    import botocore.client

    huge = SIZES["huge"]
    tenth = replace(huge, **{name: count // 10 for name, count in vars(huge).items()})
    sent: list[str] = []
    real_call = botocore.client.BaseClient._make_api_call

    def counted(self: Any, operation: str, params: Any) -> Any:
        sent.append(operation)
        return real_call(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)  # observes, changes nothing
    with mock_aws():
        result = seed_backends("huge", spec=tenth)
        from moto.identitystore.models import identitystore_backends
        from moto.ssoadmin.models import ssoadmin_backends

        store = identitystore_backends["123456789012"][REGION].identity_stores[result.identity_store_id]
        sso = ssoadmin_backends["123456789012"][REGION]
        held = {"users": len(store.users), "groups": len(store.groups),
                "memberships": len(store.group_memberships), "permission_sets": len(sso.permission_sets),
                "assignments": len(sso.account_assignments)}
    assert result.counts() == vars(tenth)
    assert held == {k: v for k, v in vars(tenth).items() if k != "accounts"}
    assert sent == []  # straight into the backends: not one API call


def test_served_emulator_seeds_in_its_process() -> None:
    with SandboxServer() as server:
        counts = SandboxClient(server.endpoint_url).seed("tiny", 3)
        assert server.counters() == {}  # no API call was made (and counters start at zero)
        ids = sandbox_session().client("identitystore", endpoint_url=server.endpoint_url)
        sso = sandbox_session().client("sso-admin", endpoint_url=server.endpoint_url)
        store = sso.list_instances()["Instances"][0]["IdentityStoreId"]
        assert len(ids.list_users(IdentityStoreId=store)["Users"]) == counts["users"] == SIZES["tiny"].users
        with pytest.raises(Exception, match="size must be one of"):
            SandboxClient(server.endpoint_url).seed("enormous")


def test_indexed_listings_page_and_follow_deletes_and_renames(fake_env: None) -> None:
    """The identitystore indexes (gapfills/identitystore_indexes.py) answer as moto's scans did."""
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        result = seed(session, "small", seed=5)
        ids = session.client("identitystore")
        store = result.identity_store_id
        users = _pages(ids, "list_users", "Users", IdentityStoreId=store, PaginationConfig={"PageSize": 7})
        assert [u["UserName"] for u in users] == list(result.users)
        group, user = result.memberships[0]
        group_id, user_id = result.group_ids[group], result.user_ids[user]
        members = _pages(ids, "list_group_memberships", "GroupMemberships", IdentityStoreId=store,
                         GroupId=group_id, PaginationConfig={"PageSize": 2})
        assert sorted(m["MemberId"]["UserId"] for m in members) == sorted(
            result.user_ids[u] for g, u in result.memberships if g == group)
        with pytest.raises(ids.exceptions.ClientError):
            ids.list_users(IdentityStoreId=store, MaxResults=5, NextToken="not-a-token")

        ids.delete_user(IdentityStoreId=store, UserId=user_id)
        for_member = ids.list_group_memberships_for_member(IdentityStoreId=store, MemberId={"UserId": user_id})
        assert for_member["GroupMemberships"] == []
        left = _pages(ids, "list_group_memberships", "GroupMemberships", IdentityStoreId=store, GroupId=group_id)
        assert user_id not in {m["MemberId"]["UserId"] for m in left}
        with pytest.raises(ids.exceptions.ResourceNotFoundException):
            ids.get_group_membership_id(IdentityStoreId=store, GroupId=group_id, MemberId={"UserId": user_id})
        with pytest.raises(ids.exceptions.ResourceNotFoundException):
            ids.get_user_id(IdentityStoreId=store, AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": user}})

        other_name, other_id = list(result.user_ids.items())[-1]
        ids.update_user(IdentityStoreId=store, UserId=other_id,
                        Operations=[{"AttributePath": "userName", "AttributeValue": "renamed.user"}])
        found = ids.get_user_id(IdentityStoreId=store, AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "renamed.user"}})
        assert found["UserId"] == other_id
        created = ids.create_user(IdentityStoreId=store, UserName="new.user", DisplayName="New User",
                                  Name={"GivenName": "New", "FamilyName": "User"})
        found = ids.get_user_id(IdentityStoreId=store, AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "new.user"}})
        assert found["UserId"] == created["UserId"]

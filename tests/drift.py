"""Drift a seeded sandbox instance through real boto3 clients: deleted, changed and extra
resources of every kind and every attribute family (for restore and rollback tests)."""

from __future__ import annotations

import json
import random
from typing import Any

from awsideman.core.attributes import snapshot_records
from awsideman.services.archive import BackupArchive
from awsideman.services.backup import BackupRequest, BackupService


class Target:
    """The instance's ids and clients."""

    def __init__(self, client: Any) -> None:
        self.sso, self.ids = client("sso-admin"), client("identitystore")
        instance = self.sso.list_instances()["Instances"][0]
        self.arn, self.store = instance["InstanceArn"], instance["IdentityStoreId"]

    def users(self) -> list[dict[str, Any]]:
        return self.ids.list_users(IdentityStoreId=self.store, MaxResults=100)["Users"]

    def groups(self) -> list[dict[str, Any]]:
        return self.ids.list_groups(IdentityStoreId=self.store, MaxResults=100)["Groups"]

    def permission_sets(self) -> dict[str, str]:
        arns = self.sso.list_permission_sets(InstanceArn=self.arn, MaxResults=100)["PermissionSets"]
        return {self.sso.describe_permission_set(InstanceArn=self.arn, PermissionSetArn=a)["PermissionSet"]["Name"]: a
                for a in arns}

    def assignments(self, arn: str) -> list[dict[str, Any]]:
        found = []
        for account in self.sso.list_accounts_for_provisioned_permission_set(
                InstanceArn=self.arn, PermissionSetArn=arn)["AccountIds"]:
            found += self.sso.list_account_assignments(InstanceArn=self.arn, AccountId=account,
                                                      PermissionSetArn=arn)["AccountAssignments"]
        return found


def drift(client: Any, seed: int = 0) -> list[str]:
    """Change the instance in every way a restore must undo; return what was done."""
    rng = random.Random(seed)
    t = Target(client)
    done = []
    users, groups, sets = t.users(), t.groups(), t.permission_sets()
    victim = rng.choice(users)
    t.ids.delete_user(IdentityStoreId=t.store, UserId=victim["UserId"])
    done.append(f"deleted user {victim['UserName']}")
    changed = rng.choice([u for u in users if u is not victim])
    t.ids.update_user(IdentityStoreId=t.store, UserId=changed["UserId"], Operations=[
        {"AttributePath": "displayName", "AttributeValue": "Drifted Name"},
        {"AttributePath": "title", "AttributeValue": "Drifted Title"}])
    done.append(f"changed user {changed['UserName']}")
    t.ids.create_user(IdentityStoreId=t.store, UserName="extra.user", DisplayName="Extra User",
                      Name={"GivenName": "Extra", "FamilyName": "User"})
    group_victim, group_changed = groups[0], groups[1]
    t.ids.delete_group(IdentityStoreId=t.store, GroupId=group_victim["GroupId"])
    t.ids.update_group(IdentityStoreId=t.store, GroupId=group_changed["GroupId"],
                       Operations=[{"AttributePath": "description", "AttributeValue": "drifted"}])
    extra_group = t.ids.create_group(IdentityStoreId=t.store, DisplayName="Extra Group")["GroupId"]
    member = rng.choice([u for u in users if u is not victim])
    t.ids.create_group_membership(IdentityStoreId=t.store, GroupId=extra_group, MemberId={"UserId": member["UserId"]})
    done += [f"deleted group {group_victim['DisplayName']}", f"changed group {group_changed['DisplayName']}"]
    names = sorted(sets)
    _drift_permission_set(t, sets[names[0]])
    _delete_permission_set(t, sets[names[1]])
    done += [f"changed permission set {names[0]}", f"deleted permission set {names[1]}"]
    for assignment in t.assignments(sets[names[-1]])[:1] if len(names) > 2 else []:
        _delete_assignment(t, assignment)
        done.append(f"deleted an assignment of {names[-1]}")
    return done


def _drift_permission_set(t: Target, arn: str) -> None:
    ref = {"InstanceArn": t.arn, "PermissionSetArn": arn}
    described = t.sso.describe_permission_set(**ref)["PermissionSet"]
    # A relay state can be changed but not cleared through the API: drift it only where one is set.
    # A description or relay state can be changed but not cleared through the API: drift them
    # only where one is set.
    relay = {"RelayState": "https://drift.example"} if described.get("RelayState") else {}
    text = {"Description": "drifted"} if described.get("Description") else {}
    t.sso.update_permission_set(**ref, SessionDuration="PT2H", **text, **relay)
    t.sso.put_inline_policy_to_permission_set(**ref, InlinePolicy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    for policy in t.sso.list_managed_policies_in_permission_set(**ref)["AttachedManagedPolicies"]:
        t.sso.detach_managed_policy_from_permission_set(**ref, ManagedPolicyArn=policy["Arn"])
    t.sso.attach_managed_policy_to_permission_set(**ref, ManagedPolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    t.sso.tag_resource(InstanceArn=t.arn, ResourceArn=arn, Tags=[{"Key": "drift", "Value": "yes"}])


def _delete_assignment(t: Target, a: dict[str, Any]) -> None:
    t.sso.delete_account_assignment(InstanceArn=t.arn, TargetId=a["AccountId"], TargetType="AWS_ACCOUNT",
                                    PermissionSetArn=a["PermissionSetArn"], PrincipalType=a["PrincipalType"],
                                    PrincipalId=a["PrincipalId"])


def _delete_permission_set(t: Target, arn: str) -> None:
    for assignment in t.assignments(arn):
        _delete_assignment(t, assignment)
    t.sso.delete_permission_set(InstanceArn=t.arn, PermissionSetArn=arn)


def records(service: BackupService) -> dict[str, Any]:
    """The instance now, as id-free records by natural key (a fresh backup)."""
    result = service.create(BackupRequest())
    _, snapshot = BackupArchive(service.context).load(result.backup_id, None)
    return snapshot_records(snapshot)


def differences(now: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Readable differences between two `snapshot_records` results (empty when equal)."""
    found = []
    for kind in sorted(set(now) | set(expected)):
        got, want = now.get(kind, {}), expected.get(kind, {})
        for key in sorted(set(got) | set(want)):
            if got.get(key) != want.get(key):
                found.append(f"{kind} {key}: {got.get(key)!r} != {want.get(key)!r}")
    return found


def differing_addresses(now: dict[str, Any], expected: dict[str, Any]) -> set[str]:
    """The change addresses (``user:alice``...) of every record that differs between two states."""
    from awsideman.core.changes import address

    return {address(kind, key) for kind in set(now) | set(expected)
            for key in set(now.get(kind, {})) | set(expected.get(kind, {}))
            if now.get(kind, {}).get(key) != expected.get(kind, {}).get(key)}

"""An incident on a seeded sandbox: what `awsideman sandbox incident` (and the demo) breaks.

It picks its targets by name, not by id, so the same seed always loses the same group, policy
and assignments: a restore of a backup taken before it plans the same changes on any sandbox
seeded alike. Each change comes with the `aws` CLI command that would have made it (with this
sandbox's ids), so the reader sees what happened in the terms of the API.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

WIDE_OPEN_POLICY = json.dumps({"Version": "2012-10-17",
                               "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@dataclass(frozen=True)
class Damage:
    """One change the incident made."""

    what: str
    aws_command: str

    def to_dict(self) -> dict[str, str]:
        return {"what": self.what, "aws_command": self.aws_command}


class NothingToBreakError(RuntimeError):
    """The instance lacks what the incident needs (a group and two permission sets)."""


def break_instance(clients: dict[str, Any]) -> list[Damage]:
    """Delete the first group, open the inline policy of the first permission set that has one
    to everything, and remove every account assignment of the first other one (all by name)."""
    sso, ids = clients["sso-admin"], clients["identitystore"]
    instances = sso.list_instances()["Instances"]
    if not instances:
        raise NothingToBreakError("the sandbox has no Identity Center instance")
    arn, store = instances[0]["InstanceArn"], instances[0]["IdentityStoreId"]
    groups = sorted(_all(ids, "list_groups", "Groups", IdentityStoreId=store), key=lambda g: g["DisplayName"])
    sets = _permission_sets_by_name(sso, arn)
    if not groups or len(sets) < 2:
        raise NothingToBreakError(f"the sandbox has {len(groups)} group(s) and {len(sets)} permission set(s); "
                                  "the incident needs at least 1 and 2")
    with_policy = [s for s in sets if sso.get_inline_policy_for_permission_set(
        InstanceArn=arn, PermissionSetArn=s[1]).get("InlinePolicy")]
    opened = (with_policy or sets)[0]
    emptied = next(s for s in sets if s != opened)
    principals = _Principals(ids, store)
    return [_delete_group(ids, store, groups[0]),
            _open_inline_policy(sso, arn, *opened),
            *_remove_assignments(sso, arn, *emptied, principals)]


def _all(client: Any, method: str, key: str, **kwargs: Any) -> list[Any]:
    return [item for page in client.get_paginator(method).paginate(**kwargs) for item in page[key]]


def _permission_sets_by_name(sso: Any, arn: str) -> list[tuple[str, str]]:
    """(name, ARN) of every permission set, sorted by name (ARNs differ between sandboxes)."""
    named = [(sso.describe_permission_set(InstanceArn=arn, PermissionSetArn=ps)["PermissionSet"]["Name"], ps)
             for ps in _all(sso, "list_permission_sets", "PermissionSets", InstanceArn=arn)]
    return sorted(named)


def _delete_group(ids: Any, store: str, group: dict[str, Any]) -> Damage:
    ids.delete_group(IdentityStoreId=store, GroupId=group["GroupId"])
    return Damage(f"deleted group {group['DisplayName']} (with its memberships and assignments)",
                  _aws("identitystore", "delete-group", identity_store_id=store, group_id=group["GroupId"]))


def _open_inline_policy(sso: Any, arn: str, name: str, permission_set: str) -> Damage:
    sso.put_inline_policy_to_permission_set(InstanceArn=arn, PermissionSetArn=permission_set,
                                            InlinePolicy=WIDE_OPEN_POLICY)
    return Damage(f"replaced the inline policy of permission set {name} with Allow * on *",
                  _aws("sso-admin", "put-inline-policy-to-permission-set", instance_arn=arn,
                       permission_set_arn=permission_set, inline_policy=WIDE_OPEN_POLICY))


class _Principals:
    """Names of users and groups, for messages (the ids mean nothing to a reader)."""

    def __init__(self, ids: Any, store: str) -> None:
        self.ids, self.store = ids, store

    def name(self, kind: str, principal_id: str) -> str:
        if kind == "USER":
            return str(self.ids.describe_user(IdentityStoreId=self.store, UserId=principal_id)["UserName"])
        return str(self.ids.describe_group(IdentityStoreId=self.store, GroupId=principal_id)["DisplayName"])


def _remove_assignments(sso: Any, arn: str, name: str, permission_set: str, principals: _Principals) -> list[Damage]:
    removed = []
    for account in sorted(_all(sso, "list_accounts_for_provisioned_permission_set", "AccountIds",
                               InstanceArn=arn, PermissionSetArn=permission_set)):
        for item in _all(sso, "list_account_assignments", "AccountAssignments", InstanceArn=arn,
                         AccountId=account, PermissionSetArn=permission_set):
            target = {"target_id": account, "target_type": "AWS_ACCOUNT", "permission_set_arn": permission_set,
                      "principal_type": item["PrincipalType"], "principal_id": item["PrincipalId"]}
            who = f"{item['PrincipalType'].lower()} {principals.name(item['PrincipalType'], item['PrincipalId'])}"
            sso.delete_account_assignment(InstanceArn=arn, TargetId=account, TargetType="AWS_ACCOUNT",
                                          PermissionSetArn=permission_set, PrincipalType=item["PrincipalType"],
                                          PrincipalId=item["PrincipalId"])
            removed.append(Damage(f"removed the assignment of {name} in account {account} to {who}",
                                  _aws("sso-admin", "delete-account-assignment", instance_arn=arn, **target)))
    return removed


def _aws(service: str, operation: str, **options: str) -> str:
    words = ["aws", service, operation]
    for key, value in options.items():
        words += [f"--{key.replace('_', '-')}", value]
    return shlex.join(words)

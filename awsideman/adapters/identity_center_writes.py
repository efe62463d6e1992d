"""Writes to an Identity Center instance for restore and rollback, one logical change a call.

The write side of `identity_center.py`, and what the services hold: one object per instance
whose methods take the planner's id-free records (`core/attributes.py`) and the ids resolved
with its lookups. It writes users, groups, memberships and assignments itself and hands each
other job to the module that owns it:

- `lookups`: ids by natural key (user name, group name, permission set name, assignment);
- `patch_builders`: request bodies built from diffs (pure);
- `idempotent_writes`: creates and deletes that survive a lost answer without a duplicate;
- `async_requests`: starting and polling assignment and provisioning requests;
- `permission_set_writes`: a permission set with its policies, boundary and tags;
- `revert_access`: the access a rollback checks before it starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from awsideman.adapters import idempotent_writes as idempotent
from awsideman.adapters import patch_builders as patches
from awsideman.adapters import revert_access
from awsideman.adapters.async_requests import (
    ASSIGNMENT_CREATE,
    ASSIGNMENT_DELETE,
    PROVISION,
    SUCCEEDED,
    AsyncRequest,
    AsyncRequests,
)
from awsideman.adapters.aws import AwsGateway
from awsideman.adapters.idempotent_writes import ALREADY_ABSENT, WriteResult
from awsideman.adapters.identity_center import IDS, Instance
from awsideman.adapters.lookups import NaturalKeyLookups
from awsideman.adapters.patch_builders import Diff, Record
from awsideman.adapters.permission_set_writes import PermissionSetWrites


class IdentityCenterWriter:
    """Restore's writes and natural-key lookups for one instance; safe to share across threads."""

    def __init__(self, gateway: AwsGateway, instance: Instance) -> None:
        self.gateway = gateway
        self.instance = instance
        self.lookups = NaturalKeyLookups(gateway, instance)
        self.async_requests = AsyncRequests(gateway, instance)
        self.permission_sets = PermissionSetWrites(gateway, instance, self.lookups)

    def recording(self, calls: list[dict[str, Any]]) -> contextlib.AbstractContextManager[list[dict[str, Any]]]:
        """Note in ``calls`` the writes this thread sends meanwhile, with their AWS request ids
        (``AwsGateway.recording_writes``): what the journal keeps of a change for the audit trail."""
        return self.gateway.recording_writes(calls)

    def probe(self, resource: str) -> None:
        """The cheap read a rollback makes first for one resource kind (`revert_access`)."""
        revert_access.probe(self.gateway, self.instance, resource)

    # -- lookups by natural key (None when absent; the costs are in `lookups`) -------------------
    def user_id(self, user_name: str) -> str | None:
        return self.lookups.user_id(user_name)

    def group_id(self, display_name: str) -> str | None:
        return self.lookups.group_id(display_name)

    def membership_id(self, group_id: str, user_id: str) -> str | None:
        return self.lookups.membership_id(group_id, user_id)

    def prime_permission_sets(self, arns_by_name: dict[str, str]) -> None:
        self.lookups.prime_permission_sets(arns_by_name)

    def permission_set_arn(self, name: str) -> str | None:
        return self.lookups.permission_set_arn(name)

    def assignment_exists(self, account_id: str, permission_set_arn: str, principal_type: str,
                          principal_id: str) -> bool:
        return self.lookups.assignment_exists(account_id, permission_set_arn, principal_type, principal_id)

    # -- users, groups, memberships -------------------------------------------------------------
    def create_user(self, record: Record) -> WriteResult:
        """CreateUser with every attribute of the record: one call (plus a lookup after a lost answer)."""
        user_name = record["user_name"]
        return self._create_in_store("CreateUser", "UserId", lambda: self.user_id(user_name),
                                     UserName=user_name, **record.get("attributes", {}))

    def update_user(self, user_id: str, diff: Diff) -> None:
        """UpdateUser with one operation per changed attribute (name parts one by one): one call."""
        self._update("UpdateUser", patches.user_operations(diff), UserId=user_id)

    def delete_user(self, user_id: str) -> WriteResult:
        """DeleteUser: one call (plus a DescribeUser after a lost answer)."""
        return self._delete_in_store("DeleteUser", "DescribeUser", UserId=user_id)

    def create_group(self, record: Record) -> WriteResult:
        """CreateGroup (display name, description): one call (plus a lookup after a lost answer)."""
        display_name = record["display_name"]
        extra = {"Description": record["description"]} if record.get("description") else {}
        return self._create_in_store("CreateGroup", "GroupId", lambda: self.group_id(display_name),
                                     DisplayName=display_name, **extra)

    def update_group(self, group_id: str, diff: Diff) -> None:
        """UpdateGroup (description; None removes it): one call."""
        self._update("UpdateGroup", patches.group_operations(diff), GroupId=group_id)

    def delete_group(self, group_id: str) -> WriteResult:
        """DeleteGroup: one call (plus a DescribeGroup after a lost answer)."""
        return self._delete_in_store("DeleteGroup", "DescribeGroup", GroupId=group_id)

    def create_membership(self, group_id: str, user_id: str) -> WriteResult:
        """CreateGroupMembership: one call (plus a lookup after a lost answer or a conflict)."""
        return self._create_in_store("CreateGroupMembership", "MembershipId",
                                     lambda: self.membership_id(group_id, user_id),
                                     GroupId=group_id, MemberId={"UserId": user_id})

    def delete_membership(self, membership_id: str) -> WriteResult:
        """DeleteGroupMembership: one call (plus a DescribeGroupMembership after a lost answer)."""
        return self._delete_in_store("DeleteGroupMembership", "DescribeGroupMembership", MembershipId=membership_id)

    def _create_in_store(self, operation: str, id_key: str, lookup: Callable[[], str | None],
                         **params: Any) -> WriteResult:
        def send() -> str:
            answer = self.gateway.call(IDS, operation, idempotent=False,
                                       IdentityStoreId=self.instance.identity_store_id, **params)
            return str(answer[id_key])

        return idempotent.create(send, lookup, pause=self.gateway.pause)

    def _delete_in_store(self, operation: str, describe: str, **ref: Any) -> WriteResult:
        store = self.instance.identity_store_id
        return idempotent.delete(lambda: self.gateway.call(IDS, operation, idempotent=False, IdentityStoreId=store,
                                                           **ref),
                                 lambda: self.gateway.call(IDS, describe, IdentityStoreId=store, **ref))

    def _update(self, operation: str, operations: list[dict[str, Any]], **ids: Any) -> None:
        for chunk in patches.chunks(operations, patches.MAX_OPERATIONS):
            self.gateway.call(IDS, operation, IdentityStoreId=self.instance.identity_store_id, Operations=chunk,
                              **ids)

    # -- permission sets (`permission_set_writes`) ------------------------------------------------
    def create_permission_set(self, record: Record) -> WriteResult:
        return self.permission_sets.create(record)

    def update_permission_set(self, arn: str, diff: Diff) -> None:
        self.permission_sets.update(arn, diff)

    def delete_permission_set(self, arn: str) -> WriteResult:
        return self.permission_sets.delete(arn)

    # -- asynchronous: assignments and provisioning (`async_requests`) ----------------------------
    def create_assignment(self, account_id: str, permission_set_arn: str, principal_type: str,
                          principal_id: str) -> AsyncRequest:
        """CreateAccountAssignment: one call; its request is IN_PROGRESS until `poll` settles it.

        After a lost answer: the request already in flight for this assignment is adopted, else
        an existing assignment counts as done, else it is sent again.
        """
        target = self._assignment_target(account_id, permission_set_arn, principal_type, principal_id)
        return self.async_requests.start(ASSIGNMENT_CREATE, target, _assignment_fields(target),
                                         lambda: self.assignment_exists(
                                             account_id, permission_set_arn, principal_type, principal_id))

    def delete_assignment(self, account_id: str, permission_set_arn: str, principal_type: str,
                          principal_id: str) -> AsyncRequest:
        """DeleteAccountAssignment: one call; an assignment that is already gone is SUCCEEDED at once."""
        target = self._assignment_target(account_id, permission_set_arn, principal_type, principal_id)
        try:
            return self.async_requests.start(ASSIGNMENT_DELETE, target, _assignment_fields(target),
                                       lambda: not self.assignment_exists(
                                           account_id, permission_set_arn, principal_type, principal_id))
        except Exception as exc:
            if idempotent.not_found(exc):
                return AsyncRequest(ASSIGNMENT_DELETE, None, SUCCEEDED, outcome=ALREADY_ABSENT)
            raise

    def provision(self, permission_set_arn: str, account_id: str) -> AsyncRequest:
        """ProvisionPermissionSet to one account: one call; IN_PROGRESS until `poll` settles it."""
        target = {"InstanceArn": self.instance.instance_arn, "PermissionSetArn": permission_set_arn,
                  "TargetType": "AWS_ACCOUNT", "TargetId": account_id}
        identity = {"PermissionSetArn": permission_set_arn, "AccountId": account_id}
        return self.async_requests.start(PROVISION, target, identity,
                                   lambda: self.lookups.provisioned_latest(permission_set_arn, account_id))

    def poll(self, requests: Iterable[AsyncRequest]) -> dict[str, AsyncRequest]:
        """The latest status of every request with an id (`AsyncRequests.poll` gives the cost)."""
        return self.async_requests.poll(requests)

    def running(self, kind: str) -> int:
        """How many requests of ``kind`` the instance has IN_PROGRESS (one listing)."""
        return self.async_requests.running(kind)

    def _assignment_target(self, account_id: str, permission_set_arn: str, principal_type: str,
                           principal_id: str) -> dict[str, Any]:
        return {"InstanceArn": self.instance.instance_arn, "TargetId": account_id, "TargetType": "AWS_ACCOUNT",
                "PermissionSetArn": permission_set_arn, "PrincipalType": principal_type,
                "PrincipalId": principal_id}


def _assignment_fields(target: dict[str, Any]) -> dict[str, str]:
    """The fields of an assignment request's status that name its assignment."""
    return {key: target[key] for key in ("TargetId", "PermissionSetArn", "PrincipalType", "PrincipalId")}

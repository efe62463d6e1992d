"""Identity Center resources found by natural key: the names a backup carries, not ids.

Ids differ between instances, so a restore names users by userName, groups by displayName,
permission sets by name and assignments by (account, permission set, principal), and asks here
for the id before it writes. Every lookup answers None (or False) when the resource is absent;
its cost in calls is in its docstring. The creates of `idempotent_writes` use the same lookups
to tell, after a lost answer, whether their write landed.
"""

from __future__ import annotations

import threading
from functools import partial

from awsideman.adapters.aws import AwsGateway
from awsideman.adapters.idempotent_writes import unless_absent
from awsideman.adapters.identity_center import IDS, PAGE, SSO, Instance


class NaturalKeyLookups:
    """Lookups for one instance; safe to share across threads (the name -> ARN map is locked)."""

    def __init__(self, gateway: AwsGateway, instance: Instance) -> None:
        self.gateway = gateway
        self.instance = instance
        self._arns: dict[str, str] = {}  # permission set name -> ARN (no by-name API exists)
        self._arns_lock = threading.Lock()
        self._listing_lock = threading.Lock()

    def user_id(self, user_name: str) -> str | None:
        """The user's id (GetUserId on the unique attribute userName): one call."""
        return self._identity_id("GetUserId", "UserId", "userName", user_name)

    def group_id(self, display_name: str) -> str | None:
        """The group's id (GetGroupId on the unique attribute displayName): one call."""
        return self._identity_id("GetGroupId", "GroupId", "displayName", display_name)

    def membership_id(self, group_id: str, user_id: str) -> str | None:
        """The membership id of a user in a group (GetGroupMembershipId): one call."""
        answer = unless_absent(lambda: self.gateway.call(
            IDS, "GetGroupMembershipId", IdentityStoreId=self.instance.identity_store_id,
            GroupId=group_id, MemberId={"UserId": user_id}))
        return None if answer is None else str(answer["MembershipId"])

    def _identity_id(self, operation: str, key: str, path: str, value: str) -> str | None:
        answer = unless_absent(lambda: self.gateway.call(
            IDS, operation, IdentityStoreId=self.instance.identity_store_id,
            AlternateIdentifier={"UniqueAttribute": {"AttributePath": path, "AttributeValue": value}}))
        return None if answer is None else str(answer[key])

    # -- permission sets: a name -> ARN map ------------------------------------------------------
    def prime_permission_sets(self, arns_by_name: dict[str, str]) -> None:
        """Seed the name -> ARN map from a live read the caller already did (no calls)."""
        with self._arns_lock:
            self._arns.update(arns_by_name)

    def remember(self, name: str, arn: str) -> None:
        """A permission set this run created or found (no calls)."""
        with self._arns_lock:
            self._arns[name] = arn

    def forget(self, arn: str) -> None:
        """A permission set this run deleted: its name no longer answers (no calls)."""
        with self._arns_lock:
            for name in [n for n, a in self._arns.items() if a == arn]:
                del self._arns[name]

    def permission_set_arn(self, name: str) -> str | None:
        """The ARN of the permission set called ``name``.

        A hit in the map costs nothing. A miss lists the instance's permission sets (one call
        per 100) and describes only the ARNs the map does not know yet (one call each).
        """
        with self._arns_lock:
            if name in self._arns:
                return self._arns[name]
        # One listing at a time: workers that miss together wait for it instead of each
        # listing and describing every permission set again.
        with self._listing_lock:
            with self._arns_lock:
                if name in self._arns:
                    return self._arns[name]
                known = set(self._arns.values())
            self._list_permission_sets(known)
        with self._arns_lock:
            return self._arns.get(name)

    def _list_permission_sets(self, known: set[str]) -> None:
        for arn in self.gateway.pages(SSO, "ListPermissionSets", "PermissionSets", MaxResults=PAGE,
                                      InstanceArn=self.instance.instance_arn):
            if arn in known:
                continue
            # Absent: deleted since the listing (a concurrent change of this run).
            described = unless_absent(partial(self.gateway.call, SSO, "DescribePermissionSet",
                                              InstanceArn=self.instance.instance_arn, PermissionSetArn=arn))
            if described is not None:
                self.remember(str(described["PermissionSet"]["Name"]), arn)

    # -- assignments and provisioning ------------------------------------------------------------
    def assignment_exists(self, account_id: str, permission_set_arn: str, principal_type: str,
                          principal_id: str) -> bool:
        """Whether the principal is assigned the permission set in the account.

        ListAccountAssignments for (account, permission set): one call per 100 assignments.
        """
        return any(a["PrincipalType"] == principal_type and a["PrincipalId"] == principal_id
                   for a in self.gateway.pages(SSO, "ListAccountAssignments", "AccountAssignments",
                                               MaxResults=PAGE, InstanceArn=self.instance.instance_arn,
                                               AccountId=account_id, PermissionSetArn=permission_set_arn))

    def provisioned_latest(self, permission_set_arn: str, account_id: str) -> bool:
        """Whether the account has the permission set's latest version (one call per 100 accounts)."""
        return account_id in self.gateway.pages(
            SSO, "ListAccountsForProvisionedPermissionSet", "AccountIds", MaxResults=PAGE,
            InstanceArn=self.instance.instance_arn, PermissionSetArn=permission_set_arn,
            ProvisioningStatus="LATEST_PERMISSION_SET_PROVISIONED")

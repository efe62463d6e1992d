"""Writes to an Identity Center instance for restore, in the service's own vocabulary.

The write side of `identity_center.py`: thin methods over `AwsGateway.call`/`pages`, one
logical resource change each, taking the planner's id-free records (`core/attributes.py`) and
the ids the apply engine resolved with the lookups here.

Idempotency (DESIGN section 3). No Create* call here takes an idempotency token, so every
create is sent with ``idempotent=False``: the retry policy re-sends it only when the service
provably did not apply it, and otherwise raises `AmbiguousWriteError`. The writer then looks
the resource up by its natural key: present -> it is returned as if created, marked
``found_after_lost_response``; absent -> sent again (at most `MAX_SENDS` sends in all). An
"already exists" ConflictException is resolved by the same lookup and never creates a
duplicate. Deletes are sent the same way; after a lost answer, a read by id tells whether the
delete landed. Updates, puts, attach/detach and tag/untag are idempotent in effect and keep
the policy's ordinary retries; "already attached" / "not attached" answers mean done.

Asynchronous writes (CreateAccountAssignment, DeleteAccountAssignment, ProvisionPermissionSet)
return an `AsyncRequest` from their first response; `poll` settles many of them cheaply with
the List*Status calls (see `IdentityCenterWriter.poll` for the call cost of a round).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from awsideman.adapters.aws import AwsGateway, client_error_code, client_error_message, client_error_reason
from awsideman.adapters.identity_center import IDS, PAGE, SSO, Instance
from awsideman.core.exceptions import AmbiguousWriteError, UnsupportedChangeError

Record = dict[str, Any]
Diff = dict[str, dict[str, Any]]

# Sends of one create/delete in all, the first included, when answers keep getting lost and
# the lookup keeps finding nothing: beyond this the service is not healthy enough to go on.
MAX_SENDS = 3

# How a create or delete ended (`WriteResult.outcome`, `AsyncRequest.outcome`).
APPLIED = "applied"  # this call's answer said it was done
FOUND_AFTER_LOST_RESPONSE = "found_after_lost_response"  # answer lost; a lookup showed it done
ALREADY_EXISTED = "already_existed"  # the service said it existed before this call; nothing written
ALREADY_ABSENT = "already_absent"  # the service said it was gone before this call

IN_PROGRESS, SUCCEEDED, FAILED = "IN_PROGRESS", "SUCCEEDED", "FAILED"
ASSIGNMENT_CREATE, ASSIGNMENT_DELETE, PROVISION = "assignment-create", "assignment-delete", "provision"


@dataclass(frozen=True)
class WriteResult:
    """What a create or delete did: the resource id (creates) and how it ended (`outcome`)."""

    id: str | None
    outcome: str = APPLIED

    @property
    def found_after_lost_response(self) -> bool:
        """The answer was lost and a lookup found the change in place (for the journal)."""
        return self.outcome == FOUND_AFTER_LOST_RESPONSE

    @property
    def existed(self) -> bool:
        """Found by natural key rather than made by this call's answer (lost answer or conflict)."""
        return self.outcome in (FOUND_AFTER_LOST_RESPONSE, ALREADY_EXISTED, ALREADY_ABSENT)


@dataclass(frozen=True)
class AsyncRequest:
    """One asynchronous sso-admin request and its latest known status.

    ``request_id`` is None only when a lost answer was settled by reading the result (the
    assignment exists, the account is provisioned): there is then nothing left to poll.
    """

    kind: str  # ASSIGNMENT_CREATE | ASSIGNMENT_DELETE | PROVISION
    request_id: str | None
    status: str  # IN_PROGRESS | SUCCEEDED | FAILED
    failure_reason: str | None = None
    outcome: str = APPLIED

    @property
    def done(self) -> bool:
        return self.status != IN_PROGRESS

    @property
    def found_after_lost_response(self) -> bool:
        return self.outcome == FOUND_AFTER_LOST_RESPONSE


@dataclass(frozen=True)
class _AsyncApi:
    """The status calls of one kind of asynchronous request."""

    operation: str  # the write itself
    status_key: str  # its status object, in the write's and Describe's answers
    list_operation: str
    list_key: str
    describe_operation: str
    describe_id: str


_ASYNC: dict[str, _AsyncApi] = {
    ASSIGNMENT_CREATE: _AsyncApi(
        "CreateAccountAssignment", "AccountAssignmentCreationStatus", "ListAccountAssignmentCreationStatus",
        "AccountAssignmentsCreationStatus", "DescribeAccountAssignmentCreationStatus",
        "AccountAssignmentCreationRequestId"),
    ASSIGNMENT_DELETE: _AsyncApi(
        "DeleteAccountAssignment", "AccountAssignmentDeletionStatus", "ListAccountAssignmentDeletionStatus",
        "AccountAssignmentsDeletionStatus", "DescribeAccountAssignmentDeletionStatus",
        "AccountAssignmentDeletionRequestId"),
    PROVISION: _AsyncApi(
        "ProvisionPermissionSet", "PermissionSetProvisioningStatus", "ListPermissionSetProvisioningStatus",
        "PermissionSetsProvisioningStatus", "DescribePermissionSetProvisioningStatus",
        "ProvisionPermissionSetRequestId"),
}

# -- error meanings ---------------------------------------------------------------------------


def _not_found(exc: BaseException) -> bool:
    return client_error_code(exc) == "ResourceNotFoundException"


def _already_exists(exc: BaseException) -> bool:
    """A permanent "already exists" ConflictException (not a transient concurrent modification).

    identitystore says so in ``Reason``; sso-admin only in its message ("... already exists").
    """
    if client_error_code(exc) != "ConflictException":
        return False
    reason = client_error_reason(exc)
    if reason is not None:
        return reason == "UNIQUENESS_CONSTRAINT_VIOLATION"
    message = client_error_message(exc).lower()
    return "already exist" in message or "duplicate" in message


def _already_attached(exc: BaseException) -> bool:
    """sso-admin's answer to attaching a policy that is attached ("already attached" / "already has")."""
    return client_error_code(exc) == "ConflictException" and "already" in client_error_message(exc).lower()


# -- identity store attribute operations -------------------------------------------------------

# UpdateUser's AttributePath for each attribute ListUsers returns: SCIM names, lower camel case.
USER_PATHS = {
    "DisplayName": "displayName", "NickName": "nickName", "ProfileUrl": "profileUrl",
    "UserType": "userType", "Title": "title", "PreferredLanguage": "preferredLanguage",
    "Locale": "locale", "Timezone": "timezone", "Website": "website", "Birthdate": "birthdate",
    # Multi-valued attributes only take a full replacement ("emails[0].value" is refused).
    "Emails": "emails", "Addresses": "addresses", "PhoneNumbers": "phoneNumbers",
    "Photos": "photos", "Roles": "roles",
}
NAME_PATHS = {
    "GivenName": "name.givenName", "FamilyName": "name.familyName", "MiddleName": "name.middleName",
    "Formatted": "name.formatted", "HonorificPrefix": "name.honorificPrefix",
    "HonorificSuffix": "name.honorificSuffix",
}
GROUP_PATHS = {"description": "description", "display_name": "displayName"}
MAX_OPERATIONS = 100  # UpdateUser / UpdateGroup take at most 100 operations per call


def _scim(value: Any) -> Any:
    """Items of multi-valued attributes as UpdateUser takes them: SCIM keys (streetAddress, primary)."""
    if isinstance(value, list):
        return [_scim(item) for item in value]
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: item for key, item in value.items()}
    return value


def _operation(path: str, value: Any) -> dict[str, Any]:
    # The service stores no empty values; removing is AttributePath without AttributeValue.
    if value is None or value == "" or value == [] or value == {}:
        return {"AttributePath": path}
    return {"AttributePath": path, "AttributeValue": value}


def user_operations(diff: Diff) -> list[dict[str, Any]]:
    """UpdateUser operations for a user diff ``{Attribute: {"before", "after"}}``.

    Name parts are set one by one (``name.givenName``), so only the changed parts are sent;
    Emails/Addresses/PhoneNumbers/Photos/Roles are replaced whole.
    """
    operations = []
    for attribute in sorted(diff):
        before, after = diff[attribute].get("before"), diff[attribute].get("after")
        if attribute == "Name":
            operations += _name_operations(before or {}, after or {})
        elif attribute in USER_PATHS:
            operations.append(_operation(USER_PATHS[attribute], _scim(after)))
        else:
            raise UnsupportedChangeError(
                f"No UpdateUser attribute path is known for user attribute {attribute!r}",
                remediation=["Change it in the IAM Identity Center console, or restore without users."])
    return operations


def _name_operations(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    operations = []
    for part in sorted(set(before) | set(after)):
        if before.get(part) == after.get(part):
            continue
        if part not in NAME_PATHS:
            raise UnsupportedChangeError(f"No UpdateUser attribute path is known for Name.{part}")
        operations.append(_operation(NAME_PATHS[part], after.get(part)))
    return operations


def group_operations(diff: Diff) -> list[dict[str, Any]]:
    """UpdateGroup operations for a group diff (``description``; ``display_name`` if renamed)."""
    unknown = sorted(set(diff) - set(GROUP_PATHS))
    if unknown:
        raise UnsupportedChangeError(f"No UpdateGroup attribute path is known for {', '.join(unknown)}")
    return [_operation(GROUP_PATHS[name], diff[name].get("after")) for name in sorted(diff)]


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _added_removed(change: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """``added``/``removed`` of a set-like diff entry, computed from before/after when absent."""
    before, after = change.get("before") or [], change.get("after") or []
    added = change["added"] if "added" in change else [i for i in after if i not in before]
    removed = change["removed"] if "removed" in change else [i for i in before if i not in after]
    return list(added), list(removed)


def _tag_changes(change: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    before, after = change.get("before") or {}, change.get("after") or {}
    added = change["added"] if "added" in change else {k: v for k, v in after.items() if before.get(k) != v}
    removed = change["removed"] if "removed" in change else sorted(k for k in before if k not in after)
    return dict(added), list(removed)


def _assignment_fields(target: dict[str, Any]) -> dict[str, str]:
    """The fields of an assignment request's status that name its assignment."""
    return {key: target[key] for key in ("TargetId", "PermissionSetArn", "PrincipalType", "PrincipalId")}


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


TAGS_PER_CALL = 50  # TagResource / UntagResource limit per request
# UpdatePermissionSet fields; none of them can be cleared (the API only sets non-empty values).
# Before a rollback reverts anything: one cheap read per kind of resource its inverses touch
# (a denial, wrong account or expired credentials show here, not half-way through), and the
# permissions the inverses of that kind need, for the message when the read is refused.
ACCESS_PROBES: dict[str, tuple[str, str]] = {
    "user": (IDS, "ListUsers"), "group": (IDS, "ListGroups"), "membership": (IDS, "ListGroups"),
    "permission_set": (SSO, "ListPermissionSets"),
    "assignment": (SSO, "ListAccountAssignmentCreationStatus"),
    "provision": (SSO, "ListPermissionSetProvisioningStatus"),
}
REVERT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "user": ("identitystore:GetUserId", "identitystore:CreateUser", "identitystore:UpdateUser",
             "identitystore:DeleteUser"),
    "group": ("identitystore:GetGroupId", "identitystore:CreateGroup", "identitystore:UpdateGroup",
              "identitystore:DeleteGroup"),
    "membership": ("identitystore:GetGroupMembershipId", "identitystore:CreateGroupMembership",
                   "identitystore:DeleteGroupMembership"),
    "permission_set": ("sso:ListPermissionSets", "sso:DescribePermissionSet", "sso:CreatePermissionSet",
                       "sso:UpdatePermissionSet", "sso:DeletePermissionSet", "sso:PutInlinePolicyToPermissionSet",
                       "sso:DeleteInlinePolicyFromPermissionSet", "sso:AttachManagedPolicyToPermissionSet",
                       "sso:DetachManagedPolicyFromPermissionSet",
                       "sso:AttachCustomerManagedPolicyReferenceToPermissionSet",
                       "sso:DetachCustomerManagedPolicyReferenceFromPermissionSet",
                       "sso:PutPermissionsBoundaryToPermissionSet", "sso:DeletePermissionsBoundaryFromPermissionSet",
                       "sso:TagResource", "sso:UntagResource"),
    "assignment": ("sso:ListAccountAssignments", "sso:CreateAccountAssignment", "sso:DeleteAccountAssignment",
                   "sso:ListAccountAssignmentCreationStatus", "sso:ListAccountAssignmentDeletionStatus",
                   "sso:DescribeAccountAssignmentCreationStatus", "sso:DescribeAccountAssignmentDeletionStatus"),
    "provision": ("sso:ProvisionPermissionSet", "sso:ListPermissionSetProvisioningStatus",
                  "sso:DescribePermissionSetProvisioningStatus"),
}
ASYNC_KIND = {("assignment", "create"): ASSIGNMENT_CREATE, ("assignment", "delete"): ASSIGNMENT_DELETE,
              ("provision", "provision"): PROVISION}


PERMISSION_SET_FIELDS = {"description": "Description", "session_duration": "SessionDuration",
                         "relay_state": "RelayState"}


class IdentityCenterWriter:
    """Restore's writes and natural-key lookups for one instance; safe to share across threads."""

    def __init__(self, gateway: AwsGateway, instance: Instance) -> None:
        self.gateway = gateway
        self.instance = instance
        self._arns: dict[str, str] = {}  # permission set name -> ARN (no by-name API exists)
        self._arns_lock = threading.Lock()
        self._listing_lock = threading.Lock()

    def probe(self, resource: str) -> None:
        """The cheap read of ``ACCESS_PROBES`` for one resource kind (raises what the service says)."""
        service, operation = ACCESS_PROBES[resource]
        ids: dict[str, Any] = ({"IdentityStoreId": self._store} if service == IDS
                               else {"InstanceArn": self.instance.instance_arn})
        self.gateway.call(service, operation, MaxResults=1, **ids)

    # -- lookups by natural key (None when absent) ----------------------------------------------
    def user_id(self, user_name: str) -> str | None:
        """The user's id (GetUserId on the unique attribute userName): one call."""
        return self._identity_id("GetUserId", "UserId", "userName", user_name)

    def group_id(self, display_name: str) -> str | None:
        """The group's id (GetGroupId on the unique attribute displayName): one call."""
        return self._identity_id("GetGroupId", "GroupId", "displayName", display_name)

    def membership_id(self, group_id: str, user_id: str) -> str | None:
        """The membership id of a user in a group (GetGroupMembershipId): one call."""
        try:
            return str(self.gateway.call(IDS, "GetGroupMembershipId", IdentityStoreId=self._store,
                                         GroupId=group_id, MemberId={"UserId": user_id})["MembershipId"])
        except Exception as exc:
            if _not_found(exc):
                return None
            raise

    def prime_permission_sets(self, arns_by_name: dict[str, str]) -> None:
        """Seed the name -> ARN map from a live read the caller already did (no calls)."""
        with self._arns_lock:
            self._arns.update(arns_by_name)

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
            try:
                described = self.gateway.call(SSO, "DescribePermissionSet", InstanceArn=self.instance.instance_arn,
                                              PermissionSetArn=arn)["PermissionSet"]
            except Exception as exc:
                if _not_found(exc):  # deleted since the listing (a concurrent change of this run)
                    continue
                raise
            self._remember(str(described["Name"]), arn)

    def assignment_exists(self, account_id: str, permission_set_arn: str, principal_type: str,
                          principal_id: str) -> bool:
        """Whether the principal is assigned the permission set in the account.

        ListAccountAssignments for (account, permission set): one call per 100 assignments.
        """
        return any(a["PrincipalType"] == principal_type and a["PrincipalId"] == principal_id
                   for a in self.gateway.pages(SSO, "ListAccountAssignments", "AccountAssignments",
                                               MaxResults=PAGE, InstanceArn=self.instance.instance_arn,
                                               AccountId=account_id, PermissionSetArn=permission_set_arn))

    # -- users, groups, memberships -------------------------------------------------------------
    def create_user(self, record: Record) -> WriteResult:
        """CreateUser with every attribute of the record: one call (plus a lookup after a lost answer)."""
        user_name = record["user_name"]

        def send() -> str:
            return str(self.gateway.call(IDS, "CreateUser", idempotent=False, IdentityStoreId=self._store,
                                         UserName=user_name, **record.get("attributes", {}))["UserId"])

        return self._create(send, lambda: self.user_id(user_name))

    def update_user(self, user_id: str, diff: Diff) -> None:
        """UpdateUser with one operation per changed attribute (name parts one by one): one call."""
        self._update(IDS, "UpdateUser", user_operations(diff), UserId=user_id)

    def delete_user(self, user_id: str) -> WriteResult:
        """DeleteUser: one call (plus a DescribeUser after a lost answer)."""
        return self._delete(lambda: self.gateway.call(IDS, "DeleteUser", idempotent=False,
                                                      IdentityStoreId=self._store, UserId=user_id),
                            lambda: self.gateway.call(IDS, "DescribeUser", IdentityStoreId=self._store,
                                                      UserId=user_id))

    def create_group(self, record: Record) -> WriteResult:
        """CreateGroup (display name, description): one call (plus a lookup after a lost answer)."""
        display_name = record["display_name"]
        extra = {"Description": record["description"]} if record.get("description") else {}

        def send() -> str:
            return str(self.gateway.call(IDS, "CreateGroup", idempotent=False, IdentityStoreId=self._store,
                                         DisplayName=display_name, **extra)["GroupId"])

        return self._create(send, lambda: self.group_id(display_name))

    def update_group(self, group_id: str, diff: Diff) -> None:
        """UpdateGroup (description; None removes it): one call."""
        self._update(IDS, "UpdateGroup", group_operations(diff), GroupId=group_id)

    def delete_group(self, group_id: str) -> WriteResult:
        """DeleteGroup: one call (plus a DescribeGroup after a lost answer)."""
        return self._delete(lambda: self.gateway.call(IDS, "DeleteGroup", idempotent=False,
                                                      IdentityStoreId=self._store, GroupId=group_id),
                            lambda: self.gateway.call(IDS, "DescribeGroup", IdentityStoreId=self._store,
                                                      GroupId=group_id))

    def create_membership(self, group_id: str, user_id: str) -> WriteResult:
        """CreateGroupMembership: one call (plus a lookup after a lost answer or a conflict)."""
        def send() -> str:
            return str(self.gateway.call(IDS, "CreateGroupMembership", idempotent=False,
                                         IdentityStoreId=self._store, GroupId=group_id,
                                         MemberId={"UserId": user_id})["MembershipId"])

        return self._create(send, lambda: self.membership_id(group_id, user_id))

    def delete_membership(self, membership_id: str) -> WriteResult:
        """DeleteGroupMembership: one call (plus a DescribeGroupMembership after a lost answer)."""
        return self._delete(
            lambda: self.gateway.call(IDS, "DeleteGroupMembership", idempotent=False,
                                      IdentityStoreId=self._store, MembershipId=membership_id),
            lambda: self.gateway.call(IDS, "DescribeGroupMembership", IdentityStoreId=self._store,
                                      MembershipId=membership_id))

    # -- permission sets ----------------------------------------------------------------------
    def create_permission_set(self, record: Record) -> WriteResult:
        """CreatePermissionSet (with description, session duration, relay state and tags), then
        PutInlinePolicy, one Attach per managed policy and per customer managed reference, and
        PutPermissionsBoundary, each only when the record has it.

        Calls: 1 + [inline] + managed + customer managed + [boundary]. When the set already
        existed (``ALREADY_EXISTED``) nothing else is written: it is not ours to overwrite here;
        the caller compares it and updates. After a lost answer the set is ours and is completed.
        """
        name = record["name"]
        created = self._create(lambda: self._send_create_permission_set(record),
                               lambda: self.permission_set_arn(name))
        arn = str(created.id)
        self._remember(name, arn)
        if created.outcome != ALREADY_EXISTED:
            self._fill_permission_set(arn, record)
        return created

    def _send_create_permission_set(self, record: Record) -> str:
        params: dict[str, Any] = {PERMISSION_SET_FIELDS[k]: record[k] for k in PERMISSION_SET_FIELDS
                                  if record.get(k)}
        if record.get("tags"):
            params["Tags"] = _tags(record["tags"])
        answer = self.gateway.call(SSO, "CreatePermissionSet", idempotent=False,
                                   InstanceArn=self.instance.instance_arn, Name=record["name"], **params)
        return str(answer["PermissionSet"]["PermissionSetArn"])

    def _fill_permission_set(self, arn: str, record: Record) -> None:
        if record.get("inline_policy"):
            self._ps_call("PutInlinePolicyToPermissionSet", arn, InlinePolicy=record["inline_policy"])
        for policy_arn in record.get("managed_policies") or []:
            self._attach("AttachManagedPolicyToPermissionSet", arn, ManagedPolicyArn=policy_arn)
        for reference in record.get("customer_managed_policies") or []:
            self._attach("AttachCustomerManagedPolicyReferenceToPermissionSet", arn,
                         CustomerManagedPolicyReference=reference)
        if record.get("permissions_boundary"):
            self._ps_call("PutPermissionsBoundaryToPermissionSet", arn,
                          PermissionsBoundary=record["permissions_boundary"])

    def update_permission_set(self, arn: str, diff: Diff) -> None:
        """Make only the calls the diff needs.

        Calls: [1 UpdatePermissionSet for description/session duration/relay state]
        + [1 Put/DeleteInlinePolicy] + 1 per managed policy and customer managed reference
        added or removed + [1 Put/DeletePermissionsBoundary] + [1 UntagResource] + [1 TagResource]
        (per 50 tags). Detaches run before attaches so the per-set policy quota is never
        exceeded on the way. Raises `UnsupportedChangeError` before any call when the diff
        clears description, session duration or relay state (the API cannot).
        """
        fields = self._permission_set_fields(diff)
        if fields:
            self._ps_call("UpdatePermissionSet", arn, **fields)
        if "inline_policy" in diff:
            self._set_inline_policy(arn, diff["inline_policy"].get("after"))
        if "managed_policies" in diff:
            added, removed = _added_removed(diff["managed_policies"])
            for policy_arn in removed:
                self._detach("DetachManagedPolicyFromPermissionSet", arn, ManagedPolicyArn=policy_arn)
            for policy_arn in added:
                self._attach("AttachManagedPolicyToPermissionSet", arn, ManagedPolicyArn=policy_arn)
        if "customer_managed_policies" in diff:
            added, removed = _added_removed(diff["customer_managed_policies"])
            for reference in removed:
                self._detach("DetachCustomerManagedPolicyReferenceFromPermissionSet", arn,
                             CustomerManagedPolicyReference=reference)
            for reference in added:
                self._attach("AttachCustomerManagedPolicyReferenceToPermissionSet", arn,
                             CustomerManagedPolicyReference=reference)
        if "permissions_boundary" in diff:
            self._set_boundary(arn, diff["permissions_boundary"].get("after"))
        if "tags" in diff:
            self._set_tags(arn, *_tag_changes(diff["tags"]))

    def delete_permission_set(self, arn: str) -> WriteResult:
        """DeletePermissionSet: one call (plus a DescribePermissionSet after a lost answer).

        The service refuses while assignments use the set: delete those first.
        """
        ref: dict[str, Any] = {"InstanceArn": self.instance.instance_arn, "PermissionSetArn": arn}
        result = self._delete(lambda: self.gateway.call(SSO, "DeletePermissionSet", idempotent=False, **ref),
                              lambda: self.gateway.call(SSO, "DescribePermissionSet", **ref))
        with self._arns_lock:
            for name in [n for n, a in self._arns.items() if a == arn]:
                del self._arns[name]
        return result

    def _permission_set_fields(self, diff: Diff) -> dict[str, Any]:
        fields = {}
        for name, param in PERMISSION_SET_FIELDS.items():
            if name not in diff:
                continue
            after = diff[name].get("after")
            if after is None or after == "":
                raise UnsupportedChangeError(
                    f"UpdatePermissionSet cannot clear {param} (it was {diff[name].get('before')!r})",
                    remediation=["Clear it in the IAM Identity Center console, or accept the difference."])
            fields[param] = after
        return fields

    def _set_inline_policy(self, arn: str, policy: str | None) -> None:
        if policy:
            self._ps_call("PutInlinePolicyToPermissionSet", arn, InlinePolicy=policy)
        else:
            self._ps_call("DeleteInlinePolicyFromPermissionSet", arn)

    def _set_boundary(self, arn: str, boundary: dict[str, Any] | None) -> None:
        if boundary:
            self._ps_call("PutPermissionsBoundaryToPermissionSet", arn, PermissionsBoundary=boundary)
        else:
            self._detach("DeletePermissionsBoundaryFromPermissionSet", arn)

    def _set_tags(self, arn: str, added: dict[str, str], removed: list[str]) -> None:
        # Untag first: a set at its tag limit could not take the new tags before the old go.
        ref: dict[str, Any] = {"InstanceArn": self.instance.instance_arn, "ResourceArn": arn}
        for keys in _chunks(removed, TAGS_PER_CALL):
            self.gateway.call(SSO, "UntagResource", TagKeys=keys, **ref)
        for tags in _chunks(_tags(added), TAGS_PER_CALL):
            self.gateway.call(SSO, "TagResource", Tags=tags, **ref)

    def _ps_call(self, operation: str, arn: str, **params: Any) -> dict[str, Any]:
        return self.gateway.call(SSO, operation, InstanceArn=self.instance.instance_arn,
                                 PermissionSetArn=arn, **params)

    def _attach(self, operation: str, arn: str, **params: Any) -> None:
        try:
            self._ps_call(operation, arn, **params)
        except Exception as exc:
            if not _already_attached(exc):  # attached already (maybe by our lost first try): done
                raise

    def _detach(self, operation: str, arn: str, **params: Any) -> None:
        try:
            self._ps_call(operation, arn, **params)
        except Exception as exc:
            if not _not_found(exc):  # not attached (any more): done
                raise

    def _remember(self, name: str, arn: str) -> None:
        with self._arns_lock:
            self._arns[name] = arn

    # -- asynchronous: assignments and provisioning ---------------------------------------------
    def create_assignment(self, account_id: str, permission_set_arn: str, principal_type: str,
                          principal_id: str) -> AsyncRequest:
        """CreateAccountAssignment: one call; its request is IN_PROGRESS until `poll` settles it.

        After a lost answer: the request already in flight for this assignment is adopted, else
        an existing assignment counts as done, else it is sent again.
        """
        target = self._assignment_target(account_id, permission_set_arn, principal_type, principal_id)
        return self._start_async(ASSIGNMENT_CREATE, target, _assignment_fields(target), lambda: self.assignment_exists(
            account_id, permission_set_arn, principal_type, principal_id))

    def delete_assignment(self, account_id: str, permission_set_arn: str, principal_type: str,
                          principal_id: str) -> AsyncRequest:
        """DeleteAccountAssignment: one call; an assignment that is already gone is SUCCEEDED at once."""
        target = self._assignment_target(account_id, permission_set_arn, principal_type, principal_id)
        try:
            return self._start_async(ASSIGNMENT_DELETE, target, _assignment_fields(target),
                                     lambda: not self.assignment_exists(
                                         account_id, permission_set_arn, principal_type, principal_id))
        except Exception as exc:
            if _not_found(exc):
                return AsyncRequest(ASSIGNMENT_DELETE, None, SUCCEEDED, outcome=ALREADY_ABSENT)
            raise

    def provision(self, permission_set_arn: str, account_id: str) -> AsyncRequest:
        """ProvisionPermissionSet to one account: one call; IN_PROGRESS until `poll` settles it."""
        target = {"InstanceArn": self.instance.instance_arn, "PermissionSetArn": permission_set_arn,
                  "TargetType": "AWS_ACCOUNT", "TargetId": account_id}
        identity = {"PermissionSetArn": permission_set_arn, "AccountId": account_id}
        return self._start_async(PROVISION, target, identity,
                                 lambda: self._provisioned_latest(permission_set_arn, account_id))

    def poll(self, requests: Iterable[AsyncRequest]) -> dict[str, AsyncRequest]:
        """The latest status of every request with an id, settling as many as possible at once.

        Per kind with requests still IN_PROGRESS, one round costs:
        - 1 List*Status filtered on IN_PROGRESS (one page: an instance has at most 15
          outstanding): the requests it lists are still running;
        - only if some of ours are no longer listed: List*Status filtered on FAILED, page by
          page until all of them are found or the pages read reach the number still unknown
          (then one Describe*Status each is no dearer); the ones it lists failed, the others
          SUCCEEDED (the only other status);
        - 1 Describe*Status per FAILED request, for its FailureReason (the listing has none).
        So a round is at most 2 calls per kind (6 in all) plus one per failure, whatever the
        number of requests, against one Describe per request per round when polled one by one.
        Requests already settled are returned unchanged and cost nothing.
        """
        latest = {r.request_id: r for r in requests if r.request_id is not None}
        for kind, api in _ASYNC.items():
            pending = {rid for rid, r in latest.items() if r.kind == kind and not r.done}
            if pending:
                latest.update(self._settle(kind, api, pending))
        return latest

    def running(self, kind: str) -> int:
        """How many requests of ``kind`` the instance has IN_PROGRESS (one listing: at most 15 exist)."""
        return len(self._statuses(_ASYNC[kind], IN_PROGRESS))

    def _settle(self, kind: str, api: _AsyncApi, pending: set[str]) -> dict[str, AsyncRequest]:
        running = {s["RequestId"] for s in self._statuses(api, IN_PROGRESS)}
        finished = pending - running
        if not finished:
            return {}
        failed, unknown = self._failed_among(api, finished)
        settled = {rid: AsyncRequest(kind, rid, SUCCEEDED) for rid in finished - failed - unknown}
        for rid in failed | unknown:
            status = self._describe(api, rid)
            settled[rid] = AsyncRequest(kind, rid, str(status["Status"]), status.get("FailureReason"))
        return settled

    def _failed_among(self, api: _AsyncApi, finished: set[str]) -> tuple[set[str], set[str]]:
        """(ids listed FAILED, ids the listing was not read far enough to tell)."""
        failed: set[str] = set()
        token: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"NextToken": token} if token else {}
            answer = self.gateway.call(SSO, api.list_operation, InstanceArn=self.instance.instance_arn,
                                       MaxResults=PAGE, Filter={"Status": FAILED}, **params)
            pages += 1
            failed |= {s["RequestId"] for s in answer.get(api.list_key, [])} & finished
            token = answer.get("NextToken")
            unknown = finished - failed
            if not token or not unknown:
                return failed, set()
            if pages >= len(unknown):  # a long failure history: describing the rest is cheaper
                return failed, unknown

    def _statuses(self, api: _AsyncApi, status: str) -> list[dict[str, Any]]:
        return list(self.gateway.pages(SSO, api.list_operation, api.list_key, MaxResults=PAGE,
                                       InstanceArn=self.instance.instance_arn, Filter={"Status": status}))

    def _describe(self, api: _AsyncApi, request_id: str) -> dict[str, Any]:
        request: dict[str, Any] = {api.describe_id: request_id}
        answer = self.gateway.call(SSO, api.describe_operation, InstanceArn=self.instance.instance_arn, **request)
        return dict(answer[api.status_key])

    def _start_async(self, kind: str, target: dict[str, Any], identity: dict[str, str],
                     done: Callable[[], bool]) -> AsyncRequest:
        """Send an asynchronous write; after a lost answer, find its request or its result first.

        ``identity``: the status fields naming this write's target; ``done``: whether its
        effect is already in place (read from live state).
        """
        api = _ASYNC[kind]
        lost: AmbiguousWriteError | None = None
        for _ in range(MAX_SENDS):
            try:
                status = self.gateway.call(SSO, api.operation, idempotent=False, **target)[api.status_key]
            except AmbiguousWriteError as exc:
                lost = exc
                found = self._in_flight(kind, api, identity)
                if found is None and done():
                    found = AsyncRequest(kind, None, SUCCEEDED, outcome=FOUND_AFTER_LOST_RESPONSE)
                if found is not None:
                    return found
                continue
            # A resend that is answered applied it: the lookup had shown the first one had not.
            return AsyncRequest(kind, str(status["RequestId"]), str(status["Status"]), status.get("FailureReason"))
        assert lost is not None
        raise lost

    def _in_flight(self, kind: str, api: _AsyncApi, identity: dict[str, str]) -> AsyncRequest | None:
        """The IN_PROGRESS request for this target, if any (1 listing + 1 Describe per running request)."""
        for listed in self._statuses(api, IN_PROGRESS):
            status = self._describe(api, listed["RequestId"])
            if all(status.get(key) == value for key, value in identity.items()):
                return AsyncRequest(kind, str(status["RequestId"]), str(status["Status"]),
                                    status.get("FailureReason"), FOUND_AFTER_LOST_RESPONSE)
        return None

    def _provisioned_latest(self, permission_set_arn: str, account_id: str) -> bool:
        return account_id in self.gateway.pages(
            SSO, "ListAccountsForProvisionedPermissionSet", "AccountIds", MaxResults=PAGE,
            InstanceArn=self.instance.instance_arn, PermissionSetArn=permission_set_arn,
            ProvisioningStatus="LATEST_PERMISSION_SET_PROVISIONED")

    def _assignment_target(self, account_id: str, permission_set_arn: str, principal_type: str,
                           principal_id: str) -> dict[str, Any]:
        return {"InstanceArn": self.instance.instance_arn, "TargetId": account_id, "TargetType": "AWS_ACCOUNT",
                "PermissionSetArn": permission_set_arn, "PrincipalType": principal_type,
                "PrincipalId": principal_id}

    # -- shared machinery ---------------------------------------------------------------------
    @property
    def _store(self) -> str:
        return self.instance.identity_store_id

    def _identity_id(self, operation: str, key: str, path: str, value: str) -> str | None:
        try:
            answer = self.gateway.call(IDS, operation, IdentityStoreId=self._store, AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": path, "AttributeValue": value}})
        except Exception as exc:
            if _not_found(exc):
                return None
            raise
        return str(answer[key])

    def _create(self, send: Callable[[], str], lookup: Callable[[], str | None]) -> WriteResult:
        """Send a create; resolve a lost answer or an "already exists" by `lookup`, never a duplicate."""
        lost: AmbiguousWriteError | None = None
        for _ in range(MAX_SENDS):
            try:
                return WriteResult(send(), APPLIED)
            except AmbiguousWriteError as exc:
                lost = exc
                found = lookup()
                if found is not None:
                    return WriteResult(found, FOUND_AFTER_LOST_RESPONSE)
            except Exception as exc:
                if not _already_exists(exc):
                    raise
                found = lookup()
                if found is None:  # exists yet cannot be found: report the service's own answer
                    raise
                # After a lost answer, "already exists" is most likely our own first send.
                return WriteResult(found, FOUND_AFTER_LOST_RESPONSE if lost else ALREADY_EXISTED)
        assert lost is not None
        raise lost

    def _delete(self, send: Callable[[], Any], read: Callable[[], Any]) -> WriteResult:
        """Send a delete; after a lost answer, `read` (by id) tells whether it landed."""
        lost: AmbiguousWriteError | None = None
        for _ in range(MAX_SENDS):
            try:
                send()
                return WriteResult(None, APPLIED)
            except AmbiguousWriteError as exc:
                lost = exc
                if not self._exists(read):
                    return WriteResult(None, FOUND_AFTER_LOST_RESPONSE)
            except Exception as exc:
                if not _not_found(exc):
                    raise
                return WriteResult(None, FOUND_AFTER_LOST_RESPONSE if lost else ALREADY_ABSENT)
        assert lost is not None
        raise lost

    @staticmethod
    def _exists(read: Callable[[], Any]) -> bool:
        try:
            read()
        except Exception as exc:
            if _not_found(exc):
                return False
            raise
        return True

    def _update(self, service: str, operation: str, operations: list[dict[str, Any]], **ids: Any) -> None:
        for chunk in _chunks(operations, MAX_OPERATIONS):
            self.gateway.call(service, operation, IdentityStoreId=self._store, Operations=chunk, **ids)

"""Writes to an Identity Center instance, in the service's own vocabulary (restore's side of
``identity_center.py``).

Records come in the planner's shapes (``core/attributes.py``): natural keys, no ids. None of
the Create* calls has an idempotency token (DESIGN section 3), so every create is sent with
``idempotent=False``: the retry policy re-sends it only when the service provably did not
apply it, and otherwise raises ``AmbiguousWriteError``; then the resource is looked up by
natural key, and sent again only when it is not there. "Already exists" is resolved the same
way. Deleting what is already gone is done, not an error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

from awsideman.adapters.aws import AwsGateway, client_error_code
from awsideman.adapters.identity_center import IDS, PAGE, SSO, Instance
from awsideman.core.exceptions import AmbiguousWriteError

RESENDS = 3  # a create whose answer was lost and that is not found is sent at most this often

# Asynchronous request kinds: (create call's response key, Describe*, List*Status, its items key).
_ASYNC = {
    "assignment-create": ("AccountAssignmentCreationStatus", "DescribeAccountAssignmentCreationStatus",
                          "ListAccountAssignmentCreationStatus", "AccountAssignmentsCreationStatus",
                          "AccountAssignmentCreationRequestId"),
    "assignment-delete": ("AccountAssignmentDeletionStatus", "DescribeAccountAssignmentDeletionStatus",
                          "ListAccountAssignmentDeletionStatus", "AccountAssignmentsDeletionStatus",
                          "AccountAssignmentDeletionRequestId"),
    "provision": ("PermissionSetProvisioningStatus", "DescribePermissionSetProvisioningStatus",
                  "ListPermissionSetProvisioningStatus", "PermissionSetsProvisioningStatus",
                  "ProvisionPermissionSetRequestId"),
}


@dataclass(frozen=True)
class Created:
    """The id of a created resource, and whether it was found by natural key instead."""

    id: str
    existed: bool = False


@dataclass(frozen=True)
class AsyncRequest:
    """An asynchronous request: IN_PROGRESS until ``poll`` settles it to SUCCEEDED or FAILED."""

    kind: str
    request_id: str
    status: str
    failure_reason: str | None = None


class IdentityCenterWriter:
    """Create, update and delete users, groups, memberships, permission sets and assignments."""

    def __init__(self, gateway: AwsGateway, instance: Instance) -> None:
        self.gateway = gateway
        self.instance = instance
        self._sets: dict[str, str] | None = None
        self._lock = threading.Lock()

    # -- lookups by natural key ----------------------------------------------------------------
    def user_id(self, user_name: str) -> str | None:
        return self._get_id("GetUserId", "userName", user_name, "UserId")

    def group_id(self, display_name: str) -> str | None:
        return self._get_id("GetGroupId", "displayName", display_name, "GroupId")

    def _get_id(self, operation: str, path: str, value: str, key: str) -> str | None:
        try:
            found = self.gateway.call(IDS, operation, IdentityStoreId=self.instance.identity_store_id,
                                      AlternateIdentifier={"UniqueAttribute": {"AttributePath": path,
                                                                                "AttributeValue": value}})
        except Exception as exc:
            if client_error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        return str(found[key])

    def membership_id(self, group_id: str, user_id: str) -> str | None:
        try:
            found = self.gateway.call(IDS, "GetGroupMembershipId", IdentityStoreId=self.instance.identity_store_id,
                                      GroupId=group_id, MemberId={"UserId": user_id})
        except Exception as exc:
            if client_error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        return str(found["MembershipId"])

    def prime_permission_sets(self, by_name: dict[str, str]) -> None:
        """Permission set name -> ARN as the live read saw it (there is no lookup by name)."""
        with self._lock:
            self._sets = dict(by_name)

    def permission_set_arn(self, name: str, *, refresh: bool = False) -> str | None:
        with self._lock:
            known = None if self._sets is None or refresh else self._sets.get(name)
        if known is not None or (self._sets is not None and not refresh):
            return known
        arns = list(self.gateway.pages(SSO, "ListPermissionSets", "PermissionSets", MaxResults=PAGE,
                                       InstanceArn=self.instance.instance_arn))
        by_name = {self._describe(arn)["Name"]: arn for arn in arns}
        self.prime_permission_sets(by_name)
        return by_name.get(name)

    def _describe(self, arn: str) -> dict[str, Any]:
        return dict(self.gateway.call(SSO, "DescribePermissionSet", InstanceArn=self.instance.instance_arn,
                                      PermissionSetArn=arn)["PermissionSet"])

    def assignment_exists(self, account_id: str, arn: str, principal_type: str, principal_id: str) -> bool:
        items = self.gateway.pages(SSO, "ListAccountAssignments", "AccountAssignments", MaxResults=PAGE,
                                   InstanceArn=self.instance.instance_arn, AccountId=account_id, PermissionSetArn=arn)
        return any(a["PrincipalType"] == principal_type and a["PrincipalId"] == principal_id for a in items)

    # -- users and groups ------------------------------------------------------------------------
    def create_user(self, record: dict[str, Any]) -> Created:
        name = record["user_name"]
        return self._create(lambda: self.gateway.call(
            IDS, "CreateUser", idempotent=False, IdentityStoreId=self.instance.identity_store_id, UserName=name,
            **record["attributes"])["UserId"], lambda: self.user_id(name))

    def update_user(self, user_id: str, diff: dict[str, Any]) -> None:
        operations = [_operation(_path(attr), values.get("after")) for attr, values in sorted(diff.items())]
        if operations:
            self.gateway.call(IDS, "UpdateUser", IdentityStoreId=self.instance.identity_store_id, UserId=user_id,
                              Operations=operations)

    def delete_user(self, user_id: str) -> None:
        self._gone_ok(lambda: self.gateway.call(IDS, "DeleteUser", IdentityStoreId=self.instance.identity_store_id,
                                                UserId=user_id))

    def create_group(self, record: dict[str, Any]) -> Created:
        name = record["display_name"]
        extra = {"Description": record["description"]} if record.get("description") else {}
        return self._create(lambda: self.gateway.call(
            IDS, "CreateGroup", idempotent=False, IdentityStoreId=self.instance.identity_store_id, DisplayName=name,
            **extra)["GroupId"], lambda: self.group_id(name))

    def update_group(self, group_id: str, diff: dict[str, Any]) -> None:
        if "description" in diff:
            self.gateway.call(IDS, "UpdateGroup", IdentityStoreId=self.instance.identity_store_id, GroupId=group_id,
                              Operations=[_operation("description", diff["description"].get("after"))])

    def delete_group(self, group_id: str) -> None:
        self._gone_ok(lambda: self.gateway.call(IDS, "DeleteGroup", IdentityStoreId=self.instance.identity_store_id,
                                                GroupId=group_id))

    def create_membership(self, group_id: str, user_id: str) -> Created:
        return self._create(lambda: self.gateway.call(
            IDS, "CreateGroupMembership", idempotent=False, IdentityStoreId=self.instance.identity_store_id,
            GroupId=group_id, MemberId={"UserId": user_id})["MembershipId"],
            lambda: self.membership_id(group_id, user_id))

    def delete_membership(self, membership_id: str) -> None:
        self._gone_ok(lambda: self.gateway.call(IDS, "DeleteGroupMembership", MembershipId=membership_id,
                                                IdentityStoreId=self.instance.identity_store_id))

    # -- permission sets ---------------------------------------------------------------------------
    def create_permission_set(self, record: dict[str, Any]) -> Created:
        name = record["name"]
        params = _permission_set_params(record)
        tags = [{"Key": k, "Value": v} for k, v in sorted((record.get("tags") or {}).items())]
        created = self._create(lambda: self.gateway.call(
            SSO, "CreatePermissionSet", idempotent=False, InstanceArn=self.instance.instance_arn, Name=name,
            **params, **({"Tags": tags} if tags else {}))["PermissionSet"]["PermissionSetArn"],
            lambda: self.permission_set_arn(name, refresh=True))
        with self._lock:
            if self._sets is not None:
                self._sets[name] = created.id
        # Policies and the boundary are separate calls; on a found (existing) set they are
        # idempotent: a put replaces, an attach of what is attached is a conflict we ignore.
        policies = {"inline_policy": {"after": record.get("inline_policy")},
                    "managed_policies": {"added": record.get("managed_policies") or []},
                    "customer_managed_policies": {"added": record.get("customer_managed_policies") or []},
                    "permissions_boundary": {"after": record.get("permissions_boundary")}}
        self.update_permission_set(created.id, {k: v for k, v in policies.items() if any(v.values())})
        return created

    def update_permission_set(self, arn: str, diff: dict[str, Any]) -> None:
        ref: dict[str, Any] = {"InstanceArn": self.instance.instance_arn, "PermissionSetArn": arn}
        # Known limit: UpdatePermissionSet keeps a field it is not given and refuses "" (minimum
        # length 1), so a description or relay state cannot be cleared through the API.
        described: dict[str, Any] = {k: diff[k]["after"] for k in ("description", "session_duration", "relay_state")
                                     if k in diff}
        params = _permission_set_params(described)
        if params:
            self.gateway.call(SSO, "UpdatePermissionSet", **ref, **params)
        if "inline_policy" in diff:
            policy = diff["inline_policy"]["after"]
            if policy:
                self.gateway.call(SSO, "PutInlinePolicyToPermissionSet", **ref, InlinePolicy=policy)
            else:
                self._gone_ok(lambda: self.gateway.call(SSO, "DeleteInlinePolicyFromPermissionSet", **ref))
        self._managed(ref, diff.get("managed_policies"))
        self._customer_managed(ref, diff.get("customer_managed_policies"))
        if "permissions_boundary" in diff:
            boundary = diff["permissions_boundary"]["after"]
            if boundary:
                self.gateway.call(SSO, "PutPermissionsBoundaryToPermissionSet", **ref, PermissionsBoundary=boundary)
            else:
                self._gone_ok(lambda: self.gateway.call(SSO, "DeletePermissionsBoundaryFromPermissionSet", **ref))
        self._tags(arn, diff.get("tags"))

    def _managed(self, ref: dict[str, Any], change: dict[str, Any] | None) -> None:
        for arn in (change or {}).get("removed", []):
            self._gone_ok(lambda a=arn: self.gateway.call(SSO, "DetachManagedPolicyFromPermissionSet", **ref,
                                                          ManagedPolicyArn=a))
        for arn in (change or {}).get("added", []):
            self._exists_ok(lambda a=arn: self.gateway.call(SSO, "AttachManagedPolicyToPermissionSet", **ref,
                                                            ManagedPolicyArn=a))

    def _customer_managed(self, ref: dict[str, Any], change: dict[str, Any] | None) -> None:
        for item in (change or {}).get("removed", []):
            self._gone_ok(lambda i=item: self.gateway.call(
                SSO, "DetachCustomerManagedPolicyReferenceFromPermissionSet", **ref, CustomerManagedPolicyReference=i))
        for item in (change or {}).get("added", []):
            self._exists_ok(lambda i=item: self.gateway.call(
                SSO, "AttachCustomerManagedPolicyReferenceToPermissionSet", **ref, CustomerManagedPolicyReference=i))

    def _tags(self, arn: str, change: dict[str, Any] | None) -> None:
        if not change:
            return
        ref: dict[str, Any] = {"InstanceArn": self.instance.instance_arn, "ResourceArn": arn}
        if change.get("removed"):
            self.gateway.call(SSO, "UntagResource", **ref, TagKeys=list(change["removed"]))
        if change.get("added"):
            self.gateway.call(SSO, "TagResource", **ref,
                              Tags=[{"Key": k, "Value": v} for k, v in sorted(change["added"].items())])

    def delete_permission_set(self, arn: str) -> None:
        self._gone_ok(lambda: self.gateway.call(SSO, "DeletePermissionSet", InstanceArn=self.instance.instance_arn,
                                                PermissionSetArn=arn))
        with self._lock:
            if self._sets is not None:
                self._sets = {n: a for n, a in self._sets.items() if a != arn}

    # -- asynchronous: assignments and provisioning --------------------------------------------------
    def create_assignment(self, account_id: str, arn: str, principal_type: str, principal_id: str) -> AsyncRequest:
        params = self._assignment(account_id, arn, principal_type, principal_id)
        for _ in range(RESENDS):
            try:
                response = self.gateway.call(SSO, "CreateAccountAssignment", idempotent=False, **params)
                return _request("assignment-create", response)
            except AmbiguousWriteError:
                if self.assignment_exists(account_id, arn, principal_type, principal_id):
                    return AsyncRequest("assignment-create", f"found:{account_id}:{principal_id}", "SUCCEEDED")
        return _request("assignment-create", self.gateway.call(SSO, "CreateAccountAssignment", **params))

    def delete_assignment(self, account_id: str, arn: str, principal_type: str, principal_id: str) -> AsyncRequest:
        response = self.gateway.call(SSO, "DeleteAccountAssignment",
                                     **self._assignment(account_id, arn, principal_type, principal_id))
        return _request("assignment-delete", response)

    def provision(self, arn: str, account_id: str) -> AsyncRequest:
        response = self.gateway.call(SSO, "ProvisionPermissionSet", InstanceArn=self.instance.instance_arn,
                                     PermissionSetArn=arn, TargetType="AWS_ACCOUNT", TargetId=account_id)
        return _request("provision", response)

    def _assignment(self, account_id: str, arn: str, principal_type: str, principal_id: str) -> dict[str, Any]:
        return {"InstanceArn": self.instance.instance_arn, "TargetId": account_id, "TargetType": "AWS_ACCOUNT",
                "PermissionSetArn": arn, "PrincipalType": principal_type, "PrincipalId": principal_id}

    def poll(self, requests: list[AsyncRequest]) -> dict[str, AsyncRequest]:
        """Settle outstanding requests: per kind, one IN_PROGRESS listing and one FAILED listing
        (paginated) however many are outstanding; a Describe only for each FAILED one (its reason)."""
        result = {r.request_id: r for r in requests}
        open_by_kind: dict[str, list[AsyncRequest]] = {}
        for request in requests:
            if request.status == "IN_PROGRESS":
                open_by_kind.setdefault(request.kind, []).append(request)
        for kind, open_requests in open_by_kind.items():
            running = self._listed(kind, "IN_PROGRESS")
            finished = [r for r in open_requests if r.request_id not in running]
            failed = self._listed(kind, "FAILED") if finished else set()
            for request in finished:
                if request.request_id in failed:
                    result[request.request_id] = self._described(request)
                else:
                    result[request.request_id] = replace(request, status="SUCCEEDED")
        return result

    def _listed(self, kind: str, status: str) -> set[str]:
        _, _, operation, key, _ = _ASYNC[kind]
        items = self.gateway.pages(SSO, operation, key, MaxResults=PAGE, InstanceArn=self.instance.instance_arn,
                                   Filter={"Status": status})
        return {item["RequestId"] for item in items}

    def _described(self, request: AsyncRequest) -> AsyncRequest:
        response_key, describe, _, _, id_param = _ASYNC[request.kind]
        ids: dict[str, Any] = {id_param: request.request_id}
        response = self.gateway.call(SSO, describe, InstanceArn=self.instance.instance_arn, **ids)
        return _request(request.kind, response)

    # -- idempotency helpers -----------------------------------------------------------------------------
    def _create(self, send: Any, lookup: Any) -> Created:
        for _ in range(RESENDS):
            try:
                return Created(str(send()))
            except AmbiguousWriteError:
                found = lookup()
            except Exception as exc:
                if client_error_code(exc) != "ConflictException":
                    raise
                found = lookup()
                if found is None:
                    raise
            if found is not None:
                return Created(found, existed=True)
        return Created(str(send()))

    @staticmethod
    def _gone_ok(call: Any) -> None:
        try:
            call()
        except Exception as exc:
            if client_error_code(exc) != "ResourceNotFoundException":
                raise

    @staticmethod
    def _exists_ok(call: Any) -> None:
        try:
            call()
        except Exception as exc:
            if client_error_code(exc) != "ConflictException":
                raise


def _request(kind: str, response: dict[str, Any]) -> AsyncRequest:
    status = response[_ASYNC[kind][0]]
    return AsyncRequest(kind, str(status["RequestId"]), str(status["Status"]), status.get("FailureReason"))


def _path(attribute: str) -> str:
    """identitystore attribute paths are the attribute names in camelCase (``displayName``)."""
    return attribute[:1].lower() + attribute[1:]


def _operation(path: str, value: Any) -> dict[str, Any]:
    # No AttributeValue removes the attribute.
    return {"AttributePath": path} if value is None else {"AttributePath": path, "AttributeValue": value}


_API_NAMES = {"description": "Description", "session_duration": "SessionDuration", "relay_state": "RelayState"}


def _permission_set_params(record: dict[str, Any]) -> dict[str, Any]:
    return {api: record[key] for key, api in _API_NAMES.items() if record.get(key)}

"""Creating, changing and deleting a permission set with everything attached to it.

A permission set is one resource to the planner but a dozen calls to sso-admin: the set, its
inline policy, managed policies, customer managed references, permissions boundary and tags.
This module turns one create/update/delete into those calls, in an order the service accepts
(detach before attach, untag before tag, so no per-set quota is exceeded on the way), and
treats "already attached" / "not attached" answers as done.
"""

from __future__ import annotations

from typing import Any

from awsideman.adapters import idempotent_writes as idempotent
from awsideman.adapters import patch_builders as patches
from awsideman.adapters.aws import AwsGateway
from awsideman.adapters.idempotent_writes import ALREADY_EXISTED, WriteResult
from awsideman.adapters.identity_center import SSO, Instance
from awsideman.adapters.lookups import NaturalKeyLookups
from awsideman.adapters.patch_builders import Diff, Record

# The set-like attachments of a permission set: record/diff key -> (attach, detach, parameter).
_ATTACHMENTS = {
    "managed_policies": ("AttachManagedPolicyToPermissionSet", "DetachManagedPolicyFromPermissionSet",
                         "ManagedPolicyArn"),
    "customer_managed_policies": ("AttachCustomerManagedPolicyReferenceToPermissionSet",
                                  "DetachCustomerManagedPolicyReferenceFromPermissionSet",
                                  "CustomerManagedPolicyReference"),
}


class PermissionSetWrites:
    """The permission-set writes of one instance; ARNs it learns go to the shared lookups."""

    def __init__(self, gateway: AwsGateway, instance: Instance, lookups: NaturalKeyLookups) -> None:
        self.gateway = gateway
        self.instance = instance
        self.lookups = lookups

    def create(self, record: Record) -> WriteResult:
        """CreatePermissionSet (with description, session duration, relay state and tags), then
        PutInlinePolicy, one Attach per managed policy and per customer managed reference, and
        PutPermissionsBoundary, each only when the record has it.

        Calls: 1 + [inline] + managed + customer managed + [boundary]. When the set already
        existed (``ALREADY_EXISTED``) nothing else is written: it is not ours to overwrite here;
        the caller compares it and updates. After a lost answer the set is ours and is completed.
        """
        name = record["name"]
        created = idempotent.create(lambda: self._send_create(record), lambda: self.lookups.permission_set_arn(name))
        arn = str(created.id)
        self.lookups.remember(name, arn)
        if created.outcome != ALREADY_EXISTED:
            self._fill(arn, record)
        return created

    def update(self, arn: str, diff: Diff) -> None:
        """Make only the calls the diff needs.

        Calls: [1 UpdatePermissionSet for description/session duration/relay state]
        + [1 Put/DeleteInlinePolicy] + 1 per managed policy and customer managed reference
        added or removed + [1 Put/DeletePermissionsBoundary] + [1 UntagResource] + [1 TagResource]
        (per 50 tags). Detaches run before attaches so the per-set policy quota is never
        exceeded on the way. Raises `UnsupportedChangeError` before any call when the diff
        clears description, session duration or relay state (the API cannot).
        """
        fields = patches.permission_set_update_fields(diff)
        if fields:
            self._call("UpdatePermissionSet", arn, **fields)
        if "inline_policy" in diff:
            self._set_inline_policy(arn, diff["inline_policy"].get("after"))
        for key, (attach, detach, param) in _ATTACHMENTS.items():
            if key in diff:
                added, removed = patches.added_removed(diff[key])
                for item in removed:
                    self._detach(detach, arn, **{param: item})
                for item in added:
                    self._attach(attach, arn, **{param: item})
        if "permissions_boundary" in diff:
            self._set_boundary(arn, diff["permissions_boundary"].get("after"))
        if "tags" in diff:
            self._set_tags(arn, *patches.tag_changes(diff["tags"]))

    def delete(self, arn: str) -> WriteResult:
        """DeletePermissionSet: one call (plus a DescribePermissionSet after a lost answer).

        The service refuses while assignments use the set: delete those first.
        """
        ref: dict[str, Any] = {"InstanceArn": self.instance.instance_arn, "PermissionSetArn": arn}
        result = idempotent.delete(lambda: self.gateway.call(SSO, "DeletePermissionSet", idempotent=False, **ref),
                                   lambda: self.gateway.call(SSO, "DescribePermissionSet", **ref))
        self.lookups.forget(arn)
        return result

    def _send_create(self, record: Record) -> str:
        answer = self.gateway.call(SSO, "CreatePermissionSet", idempotent=False, InstanceArn=self.instance.instance_arn,
                                   Name=record["name"], **patches.permission_set_create_fields(record))
        return str(answer["PermissionSet"]["PermissionSetArn"])

    def _fill(self, arn: str, record: Record) -> None:
        if record.get("inline_policy"):
            self._call("PutInlinePolicyToPermissionSet", arn, InlinePolicy=record["inline_policy"])
        for key, (attach, _, param) in _ATTACHMENTS.items():
            for item in record.get(key) or []:
                self._attach(attach, arn, **{param: item})
        if record.get("permissions_boundary"):
            self._call("PutPermissionsBoundaryToPermissionSet", arn, PermissionsBoundary=record["permissions_boundary"])

    def _set_inline_policy(self, arn: str, policy: str | None) -> None:
        if policy:
            self._call("PutInlinePolicyToPermissionSet", arn, InlinePolicy=policy)
        else:
            self._call("DeleteInlinePolicyFromPermissionSet", arn)

    def _set_boundary(self, arn: str, boundary: dict[str, Any] | None) -> None:
        if boundary:
            self._call("PutPermissionsBoundaryToPermissionSet", arn, PermissionsBoundary=boundary)
        else:
            self._detach("DeletePermissionsBoundaryFromPermissionSet", arn)

    def _set_tags(self, arn: str, added: dict[str, str], removed: list[str]) -> None:
        # Untag first: a set at its tag limit could not take the new tags before the old go.
        ref: dict[str, Any] = {"InstanceArn": self.instance.instance_arn, "ResourceArn": arn}
        for keys in patches.chunks(removed, patches.TAGS_PER_CALL):
            self.gateway.call(SSO, "UntagResource", TagKeys=keys, **ref)
        for tags in patches.chunks(patches.tags(added), patches.TAGS_PER_CALL):
            self.gateway.call(SSO, "TagResource", Tags=tags, **ref)

    def _call(self, operation: str, arn: str, **params: Any) -> dict[str, Any]:
        return self.gateway.call(SSO, operation, InstanceArn=self.instance.instance_arn,
                                 PermissionSetArn=arn, **params)

    def _attach(self, operation: str, arn: str, **params: Any) -> None:
        try:
            self._call(operation, arn, **params)
        except Exception as exc:
            if not idempotent.already_attached(exc):  # attached already (maybe by our lost first try): done
                raise

    def _detach(self, operation: str, arn: str, **params: Any) -> None:
        # Not attached (any more): done.
        idempotent.unless_absent(lambda: self._call(operation, arn, **params))

"""Records and attribute diffs: what the planner compares, and what a change carries.

A *record* is the plain, JSON-able, id-free form of one resource, by natural keys: exactly the
attributes a restore can write. Both the planner (to compare backup and live) and `Change`
(to recompute the diff of an inverse) use these functions, so a change and its inverse always
describe their difference the same way.

Record shapes (`before`/`after` of a `Change`):

- user: ``{"user_name", "attributes": {AttributeName: value}}``. ``attributes`` holds every
  attribute the identity store returned except :data:`USER_READ_ONLY`, and no empty values.
- group: ``{"display_name", "description"}``.
- membership: ``{"group_name", "user_name"}``.
- permission_set: ``{"name", "description", "session_duration", "relay_state", "inline_policy",
  "managed_policies" (sorted ARNs), "customer_managed_policies" (sorted ``{"Name", "Path"}``),
  "permissions_boundary", "tags" ({key: value})}``.
- assignment: ``{"account_id", "permission_set_name", "principal_type", "principal_name"}``.
- provision: ``{"permission_set_name", "account_id"}``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from awsideman.core.model import Assignment, Group, Membership, PermissionSet, Snapshot, User

Record = dict[str, Any]
Diff = dict[str, dict[str, Any]]

# Attributes the identity store sets itself or takes only from the identity provider (SCIM):
# CreateUser/UpdateUser cannot write them, so comparing them would plan updates that can never
# land (and a second restore would not be empty). ExternalIds link a user to the IdP.
USER_READ_ONLY = frozenset({
    "IdentityStoreId", "UserId", "UserName", "UserArn", "Revision", "ExternalIds", "UserStatus",
    "CreatedAt", "CreatedBy", "UpdatedAt", "UpdatedBy",
})

# Permission set attributes whose change reaches accounts only after ProvisionPermissionSet.
# UpdatePermissionSet (description, session duration, relay state) and every policy call leave
# the provisioned accounts at an older version (LATEST_PERMISSION_SET_NOT_PROVISIONED); the
# console re-provisions after editing any of them. Tags live on the permission set alone.
PROVISIONED_ATTRIBUTES = (
    "description", "session_duration", "relay_state", "inline_policy", "managed_policies",
    "customer_managed_policies", "permissions_boundary",
)
PERMISSION_SET_ATTRIBUTES = (*PROVISIONED_ATTRIBUTES, "tags")
_SET_ATTRIBUTES = ("managed_policies", "customer_managed_policies")


def _empty(value: Any) -> bool:
    # The service stores no empty values: "" / [] / {} read back as absent.
    return value is None or value == "" or value == [] or value == {}


def _or_none(value: Any) -> Any:
    return None if _empty(value) else value


# -- records from the snapshot model ----------------------------------------------------------
def user_record(user: User) -> Record:
    # `user.attributes` is a fresh dict at each read (see `User`): nothing to copy.
    attributes = {k: v for k, v in user.attributes.items() if k not in USER_READ_ONLY and not _empty(v)}
    return {"user_name": user.user_name, "attributes": attributes}


def group_record(group: Group) -> Record:
    return {"display_name": group.display_name, "description": _or_none(group.description)}


def membership_record(membership: Membership) -> Record:
    return {"group_name": membership.group_name, "user_name": membership.user_name}


def _policy_ref(ref: dict[str, Any]) -> dict[str, str]:
    return {"Name": ref["Name"], "Path": ref.get("Path") or "/"}


def _boundary(boundary: dict[str, Any] | None) -> dict[str, Any] | None:
    if _empty(boundary):
        return None
    assert boundary is not None
    if "CustomerManagedPolicyReference" in boundary:
        return {"CustomerManagedPolicyReference": _policy_ref(boundary["CustomerManagedPolicyReference"])}
    return copy.deepcopy(boundary)


def permission_set_record(ps: PermissionSet) -> Record:
    refs = sorted((_policy_ref(r) for r in ps.customer_managed_policies), key=lambda r: (r["Path"], r["Name"]))
    return {
        "name": ps.name,
        "description": _or_none(ps.description),
        "session_duration": _or_none(ps.session_duration),
        "relay_state": _or_none(ps.relay_state),
        "inline_policy": _or_none(ps.inline_policy),
        "managed_policies": sorted(set(ps.managed_policies)),
        "customer_managed_policies": _unique(refs),
        "permissions_boundary": _boundary(ps.permissions_boundary),
        "tags": dict(sorted(ps.tags.items())),
    }


def assignment_record(assignment: Assignment) -> Record:
    return {"account_id": assignment.account_id, "permission_set_name": assignment.permission_set_name,
            "principal_type": assignment.principal_type, "principal_name": assignment.principal_name}


def provision_record(permission_set_name: str, account_id: str) -> Record:
    return {"permission_set_name": permission_set_name, "account_id": account_id}


def _unique(items: list[dict[str, str]]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def snapshot_records(snapshot: Snapshot) -> dict[str, dict[tuple[str, ...], Record]]:
    """Every record of a snapshot by change resource name and natural key (ids dropped)."""
    return {
        "user": {(u.user_name,): user_record(u) for u in snapshot.users},
        "group": {(g.display_name,): group_record(g) for g in snapshot.groups},
        "membership": {m.key: membership_record(m) for m in snapshot.memberships},
        "permission_set": {(p.name,): permission_set_record(p) for p in snapshot.permission_sets},
        "assignment": {a.key: assignment_record(a) for a in snapshot.assignments},
    }


# -- comparing ---------------------------------------------------------------------------------
def same_policy(a: str | None, b: str | None) -> bool:
    """Inline policies compare as JSON documents (whitespace and key order do not matter)."""
    if a is None or b is None:
        return a is b
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:  # not JSON: the text is all there is to compare
        return a == b


def diff_records(resource: str, before: Record | None, after: Record | None) -> Diff:
    """Attribute-level difference ``{attr: {"before": x, "after": y, ...}}``; {} when equal.

    Only users, groups and permission sets have attributes; membership, assignment and provision
    records are their keys, so they never differ. ``after: None`` means "remove the attribute".
    Set-like attributes add ``added``/``removed`` (managed and customer managed policies: the
    items to attach/detach; tags: ``added`` = {key: value} to tag, ``removed`` = keys to untag).
    """
    if before is None or after is None:
        return {}
    if resource == "user":
        return _plain_diff(before["attributes"], after["attributes"], sorted(
            set(before["attributes"]) | set(after["attributes"])))
    if resource == "group":
        return _plain_diff(before, after, ["description"])
    if resource == "permission_set":
        return _permission_set_diff(before, after)
    return {}


def _plain_diff(before: Record, after: Record, names: list[str]) -> Diff:
    return {name: {"before": before.get(name), "after": after.get(name)}
            for name in names if before.get(name) != after.get(name)}


def _permission_set_diff(before: Record, after: Record) -> Diff:
    diff: Diff = {}
    for name in PERMISSION_SET_ATTRIBUTES:
        old, new = before.get(name), after.get(name)
        if name == "inline_policy":
            if not same_policy(old, new):
                diff[name] = {"before": old, "after": new}
        elif name in _SET_ATTRIBUTES:
            old, new = old or [], new or []
            added = [item for item in new if item not in old]
            removed = [item for item in old if item not in new]
            if added or removed:
                diff[name] = {"before": old, "after": new, "added": added, "removed": removed}
        elif name == "tags":
            old, new = old or {}, new or {}
            added_tags = {k: v for k, v in new.items() if old.get(k) != v}
            removed_keys = sorted(k for k in old if k not in new)
            if added_tags or removed_keys:
                diff[name] = {"before": old, "after": new, "added": added_tags, "removed": removed_keys}
        elif old != new:
            diff[name] = {"before": old, "after": new}
    return diff


def comparable(resource: str, record: Record) -> Record:
    """A record in the form equality should see: inline policy parsed when it is JSON."""
    if resource != "permission_set" or record.get("inline_policy") is None:
        return record
    try:
        return dict(record, inline_policy=json.loads(record["inline_policy"]))
    except ValueError:
        return record


def comparable_snapshot(snapshot: Snapshot) -> dict[str, dict[tuple[str, ...], Record]]:
    """`snapshot_records` in comparable form: equal exactly when a full pruning plan is empty."""
    return {resource: {key: comparable(resource, rec) for key, rec in records.items()}
            for resource, records in snapshot_records(snapshot).items()}

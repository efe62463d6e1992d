"""Turns the collector's raw API results into a Snapshot keyed by natural keys.

Pure functions: no API calls. Anything that cannot be named (its principal or permission set
was not read) is reported back as missing rather than stored with a dangling reference; an
assignment whose principal is in neither complete listing is an orphan (its user or group was
deleted and AWS kept the assignment) and is kept apart, marked, for reports only.
"""

from __future__ import annotations

from typing import Any

from awsideman.core.compact import PACKED_ATTRIBUTES, USER_IDS
from awsideman.core.model import Assignment, Group, Membership, OrphanAssignment, PermissionSet, Snapshot, User


def build_snapshot(steps: dict[str, Any], resources: set[str]) -> tuple[Snapshot, list[str]]:
    """The snapshot for the chosen resources, and notes on anything left out."""
    users = _users(steps.get("users") or [])
    groups = [_group(g) for g in steps.get("groups") or []]
    sets = [_permission_set(v) for k, v in steps.items() if k.startswith("permission_set:")]
    notes: list[str] = []
    memberships = _memberships(steps, users, groups, notes) if {"users", "groups"} <= resources else []
    orphans: list[OrphanAssignment] = []
    assignments = _assignments(steps, users, groups, sets, notes, orphans) if "assignments" in resources else []
    snapshot = Snapshot(
        users=users if "users" in resources else [],
        groups=groups if "groups" in resources else [],
        memberships=memberships,
        permission_sets=sets if "permission-sets" in resources else [],
        assignments=assignments,
        orphan_assignments=orphans,
    )
    return snapshot, notes


def _users(raw: list[dict[str, Any]]) -> list[User]:
    """Users from the listing, emptying it as they are made: each raw record is freed once its
    user holds its attributes (as text), so an enterprise's users are never held twice. The
    emptied list stays in the steps: a listing that was read is still told from one that was not."""
    raw.reverse()
    made = []
    while raw:
        made.append(_user(raw.pop()))
    return made


def _user(raw: dict[str, Any]) -> User:
    """The raw record (its ids taken out) becomes the user's attributes; a compacted one
    (`core.compact`) holds them as text already."""
    user_name, user_id = raw["UserName"], raw["UserId"]
    if PACKED_ATTRIBUTES in raw:
        return User.from_json(user_name, user_id, raw[PACKED_ATTRIBUTES])
    for key in USER_IDS:
        raw.pop(key, None)
    return User(user_name=user_name, user_id=user_id, attributes=raw)


def _group(raw: dict[str, Any]) -> Group:
    return Group(display_name=raw["DisplayName"], group_id=raw["GroupId"],
                 description=raw.get("Description"), external_ids=list(raw.get("ExternalIds") or []))


def _permission_set(raw: dict[str, Any]) -> PermissionSet:
    described = raw["PermissionSet"]
    return PermissionSet(
        name=described["Name"],
        arn=described["PermissionSetArn"],
        description=described.get("Description"),
        session_duration=described.get("SessionDuration"),
        relay_state=described.get("RelayState"),
        inline_policy=raw.get("InlinePolicy") or None,
        managed_policies=sorted(raw.get("ManagedPolicies") or []),
        customer_managed_policies=sorted(
            ({"Name": p["Name"], "Path": p.get("Path", "/")} for p in raw.get("CustomerManagedPolicyReferences") or []),
            key=lambda p: (p["Path"], p["Name"])),
        permissions_boundary=raw.get("PermissionsBoundary") or None,
        tags={t["Key"]: t.get("Value", "") for t in raw.get("Tags") or []},
    )


def _memberships(steps: dict[str, Any], users: list[User], groups: list[Group],
                 notes: list[str]) -> list[Membership]:
    user_names = {u.user_id: u.user_name for u in users}
    result = []
    unnamed: list[str] = []
    for group in groups:
        for raw in steps.get(f"memberships:{group.group_id}") or []:
            user_id = raw.get("MemberId", {}).get("UserId")
            if user_id in user_names:
                result.append(Membership(group.display_name, user_names[user_id], group.group_id, user_id))
            else:
                unnamed.append(f"{group.display_name}/{user_id}")
    if unnamed:
        # A member whose user is not in the user listing (created or deleted while reading).
        notes.append(f"{len(unnamed)} membership(s) name a user that is not in the user listing and are not "
                     f"in the backup: {', '.join(unnamed[:10])}{' ...' if len(unnamed) > 10 else ''}")
    return result


def _raw_assignments(steps: dict[str, Any]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for name, value in steps.items():
        if name.startswith("assignments:") and name != "assignments:strategy":
            for raw in value or []:
                key = (raw["AccountId"], raw["PermissionSetArn"], raw["PrincipalType"], raw["PrincipalId"])
                seen[key] = raw
    return list(seen.values())


def _assignments(steps: dict[str, Any], users: list[User], groups: list[Group],
                 sets: list[PermissionSet], notes: list[str], orphans: list[OrphanAssignment]) -> list[Assignment]:
    names = {("USER", u.user_id): u.user_name for u in users}
    names.update({("GROUP", g.group_id): g.display_name for g in groups})
    set_names = {p.arn: p.name for p in sets}
    # Only complete listings of users and groups prove a principal gone; an unread one proves nothing.
    principals_known = steps.get("users") is not None and steps.get("groups") is not None
    result = []
    unnamed = 0
    for raw in _raw_assignments(steps):
        principal = names.get((raw["PrincipalType"], raw["PrincipalId"]))
        set_name = set_names.get(raw["PermissionSetArn"])
        if principal is None and set_name is not None and principals_known:
            orphans.append(OrphanAssignment(raw["AccountId"], set_name, raw["PrincipalType"], raw["PrincipalId"],
                                            raw["PermissionSetArn"]))
            continue
        if principal is None or set_name is None:
            unnamed += 1
            continue
        result.append(Assignment(raw["AccountId"], set_name, raw["PrincipalType"], principal,
                                 raw["PermissionSetArn"], raw["PrincipalId"]))
    if unnamed:
        notes.append(f"{unnamed} assignment(s) refer to a principal or permission set that could not be "
                     "read or no longer exists; they are not in the backup")
    return result

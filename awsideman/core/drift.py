"""Drift: what differs between two snapshots, by natural key and attribute, riskiest first.

Pure code (no I/O). The records and attribute diffs are the restore planner's own
(`awsideman.core.attributes`), so `diff` and `restore --dry-run` always agree on what differs;
only the direction is reversed: `diff A B` reads as "from A to B" (added = in B only), while a
restore plan says what it takes to get back to the backup.

Security-relevant differences come first (DESIGN section 1, `awsideman diff`):

- a permission set that is new, or widened: a managed or customer managed policy attached, the
  inline policy changed, the permissions boundary removed or changed, a longer session;
- a new assignment of an administrative permission set;
- a membership added to or removed from a group that holds an administrative permission set.

A permission set is *administrative* when it attaches one of :data:`ADMIN_MANAGED_POLICIES` or
its inline policy allows ``*`` (or ``iam:*``) on every resource.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from awsideman.core.attributes import (
    Record,
    assignment_record,
    comparable,
    diff_records,
    group_record,
    membership_record,
    permission_set_record,
    user_record,
)
from awsideman.core.changes import address
from awsideman.core.model import Snapshot
from awsideman.core.planner.scope import Untouchable

# Change resources in the order a reader expects them (principals, then what grants access).
RESOURCE_ORDER = ("user", "group", "membership", "permission_set", "assignment")
ADMIN_MANAGED_POLICIES = frozenset({
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/IAMFullAccess",
})
_ADMIN_ACTIONS = frozenset({"*", "iam:*"})


@dataclass(frozen=True)
class Difference:
    """One resource that differs: ``action`` is added, removed or changed (from A to B)."""

    resource: str
    key: tuple[str, ...]
    action: str
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    security: str | None = None  # why it matters for access, when it does

    @property
    def address(self) -> str:
        return address(self.resource, self.key)

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), key=list(self.key), address=self.address)


def compare(before: Snapshot, after: Snapshot, resources: Iterable[str],
            untouchable: Iterable[Untouchable] = ()) -> list[Difference]:
    """Differences from ``before`` to ``after`` for the given change resources, riskiest first.

    A resource matched by an ``untouchable`` rule (what a partial backup could not read) is
    left out: a gap in a backup is not a deletion.
    """
    rules = list(untouchable)
    old_sets, new_sets = _kind_records(before, "permission_set"), _kind_records(after, "permission_set")
    objects = {**_objects(after), **_objects(before)} if rules else {}
    admin = _administrative_sets(old_sets) | _administrative_sets(new_sets)
    admin_groups = _groups_holding(admin, before) | _groups_holding(admin, after)
    found = []
    for resource in (r for r in RESOURCE_ORDER if r in set(resources)):
        # Records are made a pair at a time, never for a whole kind: 200,000 membership records
        # or 50,000 copies of user attributes, on both sides, were the peak of an enterprise diff.
        a, b = _kind_objects(before, resource), _kind_objects(after, resource)
        make = _RECORDS[resource][1]
        for key in sorted(set(a) | set(b)):
            if any(rule.matches(resource, objects.get((resource, key))) for rule in rules):
                continue
            old, new = a.get(key), b.get(key)
            if old is not None and old == new:  # the same record, ids included: nothing differs
                continue
            difference = _difference(resource, key, None if old is None else make(old),
                                     None if new is None else make(new))
            if difference is not None:
                why = _security(difference, admin, admin_groups)
                found.append(Difference(resource, key, difference.action, difference.attributes, why))
    return sorted(found, key=lambda d: (d.security is None, RESOURCE_ORDER.index(d.resource), d.key))


def summary(differences: list[Difference]) -> dict[str, dict[str, int]]:
    """Counts by resource and action, e.g. ``{"user": {"added": 1, "changed": 2}}``."""
    counts: dict[str, dict[str, int]] = {}
    for item in differences:
        per = counts.setdefault(item.resource, {})
        per[item.action] = per.get(item.action, 0) + 1
    return counts


def _difference(resource: str, key: tuple[str, ...], old: Record | None, new: Record | None) -> Difference | None:
    if old is None and new is None:
        return None
    if old is None:
        return Difference(resource, key, "added")
    if new is None:
        return Difference(resource, key, "removed")
    if comparable(resource, old) == comparable(resource, new):
        return None
    attributes = diff_records(resource, old, new)
    return Difference(resource, key, "changed", attributes) if attributes else None


def _objects(snapshot: Snapshot) -> dict[tuple[str, tuple[str, ...]], Any]:
    """Model objects by (change resource, natural key): what `Untouchable` rules look at."""
    out: dict[tuple[str, tuple[str, ...]], Any] = {}
    for resource, items in (("user", snapshot.users), ("group", snapshot.groups),
                            ("membership", snapshot.memberships), ("permission_set", snapshot.permission_sets),
                            ("assignment", snapshot.assignments)):
        for item in items:
            key = item.key if isinstance(item.key, tuple) else (item.key,)
            out[(resource, key)] = item
    return out


# -- what matters for access ---------------------------------------------------------------------
def is_administrative(record: Record) -> bool:
    """Does this permission set record grant administrator (or IAM administrator) access?"""
    if ADMIN_MANAGED_POLICIES & set(record.get("managed_policies") or []):
        return True
    return _inline_allows_everything(record.get("inline_policy"))


def _inline_allows_everything(text: str | None) -> bool:
    if not text:
        return False
    try:
        statements = json.loads(text).get("Statement") or []
    except (ValueError, AttributeError):
        return False
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if _ADMIN_ACTIONS & set(_as_list(statement.get("Action"))) and "*" in _as_list(statement.get("Resource")):
            return True
    return False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _administrative_sets(records: dict[tuple[str, ...], Record]) -> set[str]:
    return {key[0] for key, record in records.items() if is_administrative(record)}


def _groups_holding(admin_sets: set[str], snapshot: Snapshot) -> set[str]:
    return {a.principal_name for a in snapshot.assignments
            if a.principal_type == "GROUP" and a.permission_set_name in admin_sets}


_RECORDS: dict[str, tuple[str, Callable[[Any], Record]]] = {
            "user": ("users", user_record), "group": ("groups", group_record),
            "membership": ("memberships", membership_record),
            "permission_set": ("permission_sets", permission_set_record),
            "assignment": ("assignments", assignment_record)}


def _kind_records(snapshot: Snapshot, resource: str) -> dict[tuple[str, ...], Record]:
    """One resource kind's records by natural key (as `snapshot_records` gives them)."""
    name, record = _RECORDS[resource]
    return {(item.key if isinstance(item.key, tuple) else (item.key,)): record(item)
            for item in getattr(snapshot, name)}


def _kind_objects(snapshot: Snapshot, resource: str) -> dict[tuple[str, ...], Any]:
    """One resource kind's model objects by natural key (their records are made when compared)."""
    return {(item.key if isinstance(item.key, tuple) else (item.key,)): item
            for item in getattr(snapshot, _RECORDS[resource][0])}


def _security(item: Difference, admin: set[str], admin_groups: set[str]) -> str | None:
    if item.resource == "permission_set":
        if item.action == "added":
            return "new permission set"
        if item.action == "changed":
            return _widened(item.attributes)
    if item.resource == "assignment" and item.action == "added" and item.key[1] in admin:
        return f"new assignment of administrative permission set {item.key[1]}"
    if item.resource == "membership" and item.key[0] in admin_groups:
        return f"membership {item.action} in group {item.key[0]}, which holds an administrative permission set"
    return None


def _widened(attributes: dict[str, dict[str, Any]]) -> str | None:
    reasons = []
    for name in ("managed_policies", "customer_managed_policies"):
        if attributes.get(name, {}).get("added"):
            reasons.append(f"{name.replace('_', ' ')} attached")
    if "inline_policy" in attributes:
        reasons.append("inline policy changed")
    boundary = attributes.get("permissions_boundary")
    if boundary is not None:
        reasons.append("permissions boundary removed" if boundary["after"] is None else "permissions boundary changed")
    session = attributes.get("session_duration")
    if session is not None and _seconds(session["after"]) > _seconds(session["before"]):
        reasons.append("longer sessions")
    return "widened: " + ", ".join(reasons) if reasons else None


def _seconds(duration: str | None) -> float:
    """ISO 8601 durations as the service uses them (PT1H, PT12H30M); the default is one hour."""
    if not duration:
        return 3600.0
    text, total, number = duration.upper().removeprefix("PT"), 0.0, ""
    for char in text:
        if char.isdigit() or char == ".":
            number += char
        elif number:
            total += float(number) * {"H": 3600, "M": 60, "S": 1}.get(char, 0)
            number = ""
    return total

"""Access gained and lost between two points in time, per user, with the reason.

A user's access to (account, permission set) is the set of paths granting it (``direct``,
``group:NAME``). Between two points it is gained (no path before, some after), lost (the
reverse), changed (kept, but the permission set's policies changed) or rerouted (kept, but a
path was added or removed: a second group now grants it). Each path that appeared or went is
explained by what made it: a membership or an assignment added or removed, a user, group or
permission set created or deleted. Pure: two indexes in, changes out; every lookup is a dict or
set built once per side, so the work is linear in the rows of both points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from awsideman.core.access import DIRECT, AccessIndex
from awsideman.core.model import PermissionSet

GAINED, LOST, CHANGED, REROUTED = "gained", "lost", "changed", "rerouted"
CHANGE_KINDS = (GAINED, LOST, CHANGED, REROUTED)
GrantKey = tuple[str, str, str]  # (user name, account id, permission set name)


@dataclass(frozen=True)
class Reason:
    """Why a path appeared or went (``kind`` for machines, ``text`` for people)."""

    kind: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text}


@dataclass(frozen=True)
class AccessChange:
    """One user's access to one account with one permission set, as it changed."""

    user_name: str
    account_id: str
    account_name: str | None
    permission_set_name: str
    change: str  # one of CHANGE_KINDS
    paths_before: tuple[str, ...]
    paths_after: tuple[str, ...]
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"user_name": self.user_name, "account_id": self.account_id, "account_name": self.account_name,
                "permission_set_name": self.permission_set_name, "change": self.change,
                "paths_before": list(self.paths_before), "paths_after": list(self.paths_after),
                "reasons": [r.to_dict() for r in self.reasons]}


@dataclass
class _Side:
    """One point's keys, as sets: what existed there."""

    index: AccessIndex
    grants: dict[GrantKey, set[str]] = field(init=False)
    users: set[str] = field(init=False)
    groups: set[str] = field(init=False)
    memberships: set[tuple[str, str]] = field(init=False)
    assignments: set[tuple[str, str, str, str]] = field(init=False)
    permission_sets: dict[str, PermissionSet] = field(init=False)

    def __post_init__(self) -> None:
        snapshot = self.index.snapshot
        self.grants = {}
        for row in self.index.rows():
            if row.user_name is not None and not row.orphan:
                self.grants.setdefault((row.user_name, row.account_id, row.permission_set.name), set()).add(row.path)
        self.users = {u.user_name for u in snapshot.users}
        self.groups = {g.display_name for g in snapshot.groups}
        self.memberships = {m.key for m in snapshot.memberships}
        self.assignments = {a.key for a in snapshot.assignments}
        self.permission_sets = {p.name: p for p in snapshot.permission_sets}


def diff_access(before: AccessIndex, after: AccessIndex) -> list[AccessChange]:
    """Every access that changed from ``before`` to ``after``, ordered by user, account, permission set."""
    old, new = _Side(before), _Side(after)
    policy = _PolicyChanges(old.permission_sets, new.permission_sets)
    names = {**before.account_names, **after.account_names}
    changes = []
    for key in sorted(old.grants.keys() | new.grants.keys()):
        was, now = old.grants.get(key, set()), new.grants.get(key, set())
        user, account, ps = key
        reasons = [r for path in sorted(now - was) for r in _why(path, key, new, old, gained=True)]
        reasons += [r for path in sorted(was - now) for r in _why(path, key, old, new, gained=False)]
        widened = policy.reason(ps) if was and now else None
        if widened:
            reasons.append(widened)
        if was == now and not widened:
            continue
        kind = GAINED if not was else LOST if not now else CHANGED if widened else REROUTED
        changes.append(AccessChange(user, account, names.get(account), ps, kind, tuple(sorted(was)),
                                    tuple(sorted(now)), tuple(dict.fromkeys(reasons))))
    return changes


def _why(path: str, key: GrantKey, here: _Side, there: _Side, *, gained: bool) -> list[Reason]:
    """What made ``path`` exist ``here`` and not ``there`` (gained: here is the later point)."""
    user, account, ps = key
    added, removed = ("added", "created") if gained else ("removed", "deleted")
    suffix = "added" if gained else "removed"
    reasons = []
    if user not in there.users:
        reasons.append(Reason(f"user_{suffix}", f"user {user} {removed}"))
    if ps not in there.permission_sets:
        reasons.append(Reason(f"permission_set_{suffix}", f"permission set {ps} {removed}"))
    if path == DIRECT:
        if (account, ps, "USER", user) not in there.assignments:
            reasons.append(Reason(f"assignment_{suffix}", f"assignment {added}: user {user} -> {ps} in {account}"))
        return reasons
    group = path.split(":", 1)[1]
    if group not in there.groups:
        reasons.append(Reason(f"group_{suffix}", f"group {group} {removed}"))
    if (group, user) not in there.memberships:
        verb = "added to" if gained else "removed from"
        reasons.append(Reason(f"membership_{suffix}", f"{user} {verb} group {group}"))
    if (account, ps, "GROUP", group) not in there.assignments:
        reasons.append(Reason(f"assignment_{suffix}", f"assignment {added}: group {group} -> {ps} in {account}"))
    return reasons


class _PolicyChanges:
    """Per permission set held on both sides: what changed in the access it grants (computed once)."""

    def __init__(self, old: dict[str, PermissionSet], new: dict[str, PermissionSet]) -> None:
        self.old, self.new = old, new
        self._known: dict[str, Reason | None] = {}

    def reason(self, name: str) -> Reason | None:
        if name not in self._known:
            before, after = self.old.get(name), self.new.get(name)
            parts = policy_changes(before, after) if before and after else []
            self._known[name] = (Reason("permission_set_changed", f"permission set {name} changed: "
                                        + "; ".join(parts)) if parts else None)
        return self._known[name]


def policy_changes(before: PermissionSet, after: PermissionSet) -> list[str]:
    """What changed in what a permission set grants: policies, boundary, session duration."""
    parts = []
    for label, old, new in (("managed policy", before.managed_policies, after.managed_policies),
                            ("customer managed policy", _refs(before.customer_managed_policies),
                             _refs(after.customer_managed_policies))):
        parts += [f"{label} +{item}" for item in sorted(set(new) - set(old))]
        parts += [f"{label} -{item}" for item in sorted(set(old) - set(new))]
    if _policy(before.inline_policy) != _policy(after.inline_policy):
        parts.append("inline policy " + ("added" if not before.inline_policy else
                                         "removed" if not after.inline_policy else "changed"))
    if before.permissions_boundary != after.permissions_boundary:
        parts.append("permissions boundary " + ("added" if before.permissions_boundary is None else
                                                "removed" if after.permissions_boundary is None else "changed"))
    if before.session_duration != after.session_duration:
        parts.append(f"session duration {before.session_duration} -> {after.session_duration}")
    return parts


def _refs(references: list[dict[str, str]]) -> list[str]:
    return [f"{r.get('Path') or '/'}{r.get('Name', '')}" for r in references]


def _policy(text: str | None) -> Any:
    """A policy document compared by meaning: key order and whitespace do not count."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def counts(changes: list[AccessChange]) -> dict[str, int]:
    """How many of each kind of change, and how many users they concern."""
    found = {kind: 0 for kind in CHANGE_KINDS}
    for change in changes:
        found[change.change] += 1
    return {**found, "users": len({c.user_name for c in changes})}

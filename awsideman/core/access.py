"""Effective access: who can reach which account with which permission set, and by what path.

A backup is a point-in-time record of access: assignments point at users or groups, groups
hold users, permission sets hold policies. This module expands that into one row per path
(a user in two groups assigned the same account and permission set has two rows), filters it,
and summarises it. Pure: a snapshot in, rows out, no I/O.

Implementation note: everything is computed through dicts built once per snapshot (members
by group, groups by user, a permission set's facts by name), so the work is linear in the
assignments plus the rows produced, and `rows` is a generator: csv and JSON lines are written
while they are computed, never held whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from awsideman.core.model import Assignment, OrphanAssignment, PermissionSet, Snapshot

DIRECT = "direct"
GROUP = "group"
ADMIN_POLICY_SUFFIX = "/AdministratorAccess"
DEFAULT_MAX_USERS = 50

# The columns of a row, in the order tables and csv show them.
COLUMNS = ("user_name", "via", "group_name", "account_id", "account_name", "permission_set_name",
           "session_duration", "managed_policies", "customer_managed_policies", "inline_policy",
           "permissions_boundary", "orphan", "principal_id")


@dataclass(frozen=True)
class PermissionSetFacts:
    """What a row says about its permission set, computed once per permission set."""

    name: str
    session_duration: str | None
    managed_policies: tuple[str, ...]  # policy names (an AWS managed policy's path dropped)
    customer_managed_policies: tuple[str, ...]  # path + name
    inline_policy: bool
    permissions_boundary: bool
    admin: str | None  # why it grants administrator access, or None

    @classmethod
    def of(cls, ps: PermissionSet) -> PermissionSetFacts:
        return cls(name=ps.name, session_duration=ps.session_duration,
                   managed_policies=tuple(arn.rsplit("/", 1)[-1] for arn in ps.managed_policies),
                   customer_managed_policies=tuple(f"{p.get('Path') or '/'}{p.get('Name', '')}"
                                                   for p in ps.customer_managed_policies),
                   inline_policy=bool(ps.inline_policy), permissions_boundary=ps.permissions_boundary is not None,
                   admin=admin_reason(ps))


def unknown_permission_set(name: str) -> PermissionSetFacts:
    """A permission set an assignment names that the snapshot does not hold (a partial backup)."""
    return PermissionSetFacts(name, None, (), (), False, False, None)


@dataclass(frozen=True)
class AccessRow:
    """One effective access: a user reaches an account with a permission set, directly or via a group.

    An orphan row (the assignment's principal was deleted) has no user: ``principal_id`` is the
    dangling id and it grants no one access.
    """

    user_name: str | None
    via: str  # DIRECT or GROUP
    group_name: str | None
    account_id: str
    account_name: str | None
    permission_set: PermissionSetFacts
    orphan: bool = False
    principal_id: str | None = None

    @property
    def path(self) -> str:
        """How the access is granted: ``direct`` or ``group:NAME``."""
        return DIRECT if self.via == DIRECT else f"{GROUP}:{self.group_name}"

    def to_dict(self) -> dict[str, Any]:
        ps = self.permission_set
        return {"user_name": self.user_name, "via": self.via, "group_name": self.group_name,
                "account_id": self.account_id, "account_name": self.account_name,
                "permission_set_name": ps.name, "session_duration": ps.session_duration,
                "managed_policies": list(ps.managed_policies),
                "customer_managed_policies": list(ps.customer_managed_policies),
                "inline_policy": ps.inline_policy, "permissions_boundary": ps.permissions_boundary,
                "orphan": self.orphan, "principal_id": self.principal_id}

    def cells(self) -> list[Any]:
        """The row as table/csv cells, in ``COLUMNS`` order (lists joined with ``;``)."""
        data = self.to_dict()
        return [";".join(v) if isinstance(v, list) else _cell(v) for v in (data[c] for c in COLUMNS)]


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else value


@dataclass(frozen=True)
class AccessFilter:
    """Which rows to keep (None: any). Names are natural keys; ``account_id`` is already resolved."""

    user: str | None = None
    group: str | None = None
    account_id: str | None = None
    permission_set: str | None = None

    def keeps_orphans(self) -> bool:
        """Orphans have no user or group name: a filter by either leaves them out."""
        return self.user is None and self.group is None


@dataclass
class AccessIndex:
    """The dicts every question about one snapshot is answered from, built in one pass."""

    snapshot: Snapshot
    account_names: dict[str, str] = field(default_factory=dict)
    members: dict[str, list[str]] = field(init=False)  # group name -> user names (sorted)
    groups_of: dict[str, set[str]] = field(init=False)  # user name -> group names
    permission_sets: dict[str, PermissionSetFacts] = field(init=False)

    def __post_init__(self) -> None:
        self.members, self.groups_of = {}, {}
        for m in self.snapshot.memberships:  # sorted by (group, user): member lists come out sorted
            self.members.setdefault(m.group_name, []).append(m.user_name)
            self.groups_of.setdefault(m.user_name, set()).add(m.group_name)
        self.permission_sets = {ps.name: PermissionSetFacts.of(ps) for ps in self.snapshot.permission_sets}

    def facts(self, name: str) -> PermissionSetFacts:
        return self.permission_sets.get(name) or unknown_permission_set(name)

    def rows(self, keep: AccessFilter | None = None) -> Iterator[AccessRow]:
        """Every effective access in ``keep``, ordered by account, permission set, then principal."""
        keep = keep or AccessFilter()
        for assignment in self.snapshot.assignments:
            if not _target_kept(assignment.account_id, assignment.permission_set_name, keep):
                continue
            yield from self._expand(assignment, keep)
        if keep.keeps_orphans():
            for orphan in self.snapshot.orphan_assignments:
                if _target_kept(orphan.account_id, orphan.permission_set_name, keep):
                    yield self._orphan_row(orphan)

    def _expand(self, assignment: Assignment, keep: AccessFilter) -> Iterator[AccessRow]:
        account, ps = assignment.account_id, self.facts(assignment.permission_set_name)
        name = self.account_names.get(account)
        if assignment.principal_type == "USER":
            if keep.group is None and keep.user in (None, assignment.principal_name):
                yield AccessRow(assignment.principal_name, DIRECT, None, account, name, ps)
            return
        group = assignment.principal_name
        if keep.group not in (None, group):
            return
        members = self.members.get(group, ())
        if keep.user is not None:
            members = [keep.user] if group in self.groups_of.get(keep.user, ()) else []
        for user in members:
            yield AccessRow(user, GROUP, group, account, name, ps)

    def _orphan_row(self, orphan: OrphanAssignment) -> AccessRow:
        via = DIRECT if orphan.principal_type == "USER" else GROUP
        return AccessRow(None, via, None, orphan.account_id, self.account_names.get(orphan.account_id),
                         self.facts(orphan.permission_set_name), orphan=True, principal_id=orphan.principal_id)

    def accounts(self) -> set[str]:
        """Every account an assignment (or an orphan) targets."""
        return {a.account_id for a in self.snapshot.assignments} | {
            o.account_id for o in self.snapshot.orphan_assignments}


def _target_kept(account_id: str, permission_set: str, keep: AccessFilter) -> bool:
    return keep.account_id in (None, account_id) and keep.permission_set in (None, permission_set)


def admin_reason(ps: PermissionSet) -> str | None:
    """Why ``ps`` grants administrator access (the AdministratorAccess managed policy, or an inline
    statement allowing every action on every resource), or None."""
    for arn in ps.managed_policies:
        if arn.endswith(ADMIN_POLICY_SUFFIX):
            return f"managed policy {arn}"
    if ps.inline_policy and _allows_everything(ps.inline_policy):
        return "inline policy allows * on *"
    return None


def _allows_everything(policy: str) -> bool:
    try:
        document = json.loads(policy)
    except ValueError:  # not JSON: the service would not have taken it; nothing to flag
        return False
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements or []:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if _has_star(statement.get("Action"), ("*", "*:*")) and _has_star(statement.get("Resource"), ("*",)):
            return True
    return False


def _has_star(value: Any, stars: tuple[str, ...]) -> bool:
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return any(v in stars for v in values)


# ---- summaries ------------------------------------------------------------------------------


@dataclass
class AccessSummary:
    """How many users reach each account with each permission set, and what deserves a look."""

    max_users: int
    by_target: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (account, ps) -> users
    by_account: dict[str, set[str]] = field(default_factory=dict)
    by_permission_set: dict[str, set[str]] = field(default_factory=dict)
    admins: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (user, account, ps) -> why
    account_names: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    orphans: int = 0

    def add(self, row: AccessRow) -> None:
        self.rows += 1
        if row.account_name:
            self.account_names[row.account_id] = row.account_name
        if row.orphan or row.user_name is None:
            self.orphans += 1
            return
        ps, user = row.permission_set.name, row.user_name
        self.by_target.setdefault((row.account_id, ps), set()).add(user)
        self.by_account.setdefault(row.account_id, set()).add(user)
        self.by_permission_set.setdefault(ps, set()).add(user)
        if row.permission_set.admin:
            self.admins[(user, row.account_id, ps)] = row.permission_set.admin

    def crowded_accounts(self) -> list[tuple[str, int]]:
        """Accounts more than ``max_users`` users can reach, busiest first."""
        crowded = [(a, len(u)) for a, u in self.by_account.items() if len(u) > self.max_users]
        return sorted(crowded, key=lambda item: (-item[1], item[0]))

    def to_dict(self) -> dict[str, Any]:
        names = self.account_names
        return {
            "rows": self.rows, "orphan_rows": self.orphans,
            "users": len({u for users in self.by_account.values() for u in users}),
            "max_users": self.max_users,
            "by_account_and_permission_set": [
                {"account_id": a, "account_name": names.get(a), "permission_set_name": ps, "users": len(users)}
                for (a, ps), users in sorted(self.by_target.items())],
            "by_account": [{"account_id": a, "account_name": names.get(a), "users": len(users)}
                           for a, users in sorted(self.by_account.items())],
            "by_permission_set": [{"permission_set_name": ps, "users": len(users)}
                                  for ps, users in sorted(self.by_permission_set.items())],
            "flags": {
                "administrators": [{"user_name": u, "account_id": a, "account_name": names.get(a),
                                    "permission_set_name": ps, "reason": why}
                                   for (u, a, ps), why in sorted(self.admins.items())],
                "crowded_accounts": [{"account_id": a, "account_name": names.get(a), "users": n}
                                     for a, n in self.crowded_accounts()],
            },
        }


def summarise(rows: Iterable[AccessRow], max_users: int = DEFAULT_MAX_USERS) -> AccessSummary:
    """The summary of ``rows`` (consumed once: a generator is never held whole)."""
    summary = AccessSummary(max_users=max_users)
    for row in rows:
        summary.add(row)
    return summary

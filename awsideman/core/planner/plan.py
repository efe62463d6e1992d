"""`make_plan`: backup (desired) vs live instance into an ordered `Plan` (Terraform's plan).

Steps: each resource kind in scope is compared by natural keys (one module per kind); deletes
of principals and permission sets get explicit deletes of the memberships and assignments that
name them; creates whose references cannot exist in the target are held back; updated
permission sets get their provisions; then everything is ordered by dependencies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from awsideman.core.changes import Change, address
from awsideman.core.exceptions import UsageError
from awsideman.core.model import RESOURCE_KINDS, Snapshot
from awsideman.core.ordering import order
from awsideman.core.planner.assignments import assignment_kind, plan_assignments
from awsideman.core.planner.draft import CONFLICT_MODES, Draft
from awsideman.core.planner.groups import plan_groups
from awsideman.core.planner.memberships import membership_kind, plan_memberships
from awsideman.core.planner.permission_sets import plan_permission_sets, provision_changes
from awsideman.core.planner.scope import NotTouched, Untouchable, resources_in_scope
from awsideman.core.planner.users import plan_users

_KINDS: tuple[tuple[str, Callable[[Draft, Snapshot, Snapshot], None]], ...] = (
    ("user", plan_users), ("group", plan_groups), ("permission_set", plan_permission_sets),
    ("membership", plan_memberships), ("assignment", plan_assignments),
)
# Emission order before the dependency sort (which keeps it where it can): creates and updates
# of what others name first, then what names them, then deletes in reverse dependency order.
_PHASES = [
    ("user", "create"), ("user", "update"), ("group", "create"), ("group", "update"),
    ("permission_set", "create"), ("permission_set", "update"), ("provision", "provision"),
    ("membership", "create"), ("assignment", "create"), ("assignment", "delete"), ("membership", "delete"),
    ("permission_set", "delete"), ("group", "delete"), ("user", "delete"),
]


@dataclass
class Plan:
    """What a restore will do, computed against a recorded live state (an artefact to show,
    journal and apply).

    - ``changes``: topologically ordered; each change's ``depends_on`` names earlier ones.
    - ``skipped``: updates not made because of ``conflict="skip"`` (with their diff).
    - ``conflicts``: updates that ``conflict="fail"`` refuses; the service must stop before any
      change when this is not empty. Neither list is in ``changes``.
    - ``not_touched``: what the plan leaves alone on purpose (partial backup, unresolvable names).
    """

    changes: list[Change] = field(default_factory=list)
    skipped: list[Change] = field(default_factory=list)
    conflicts: list[Change] = field(default_factory=list)
    not_touched: list[NotTouched] = field(default_factory=list)
    source: dict[str, Any] | None = None
    target: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """No change to make (skipped differences and conflicts may still exist)."""
        return not self.changes

    def summary(self) -> dict[str, dict[str, int]]:
        """Changes by resource and action, e.g. ``{"user": {"create": 2}}`` (the JSON ``plan``)."""
        counts = Counter((c.resource, c.action) for c in self.changes)
        result: dict[str, dict[str, int]] = {}
        for (resource, action), count in sorted(counts.items()):
            result.setdefault(resource, {})[action] = count
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "target": self.target, "options": dict(self.options),
            "summary": self.summary(), "changes": [c.to_dict() for c in self.changes],
            "skipped": [c.to_dict() for c in self.skipped], "conflicts": [c.to_dict() for c in self.conflicts],
            "not_touched": [n.to_dict() for n in self.not_touched],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(
            changes=[Change.from_dict(c) for c in data["changes"]],
            skipped=[Change.from_dict(c) for c in data.get("skipped") or []],
            conflicts=[Change.from_dict(c) for c in data.get("conflicts") or []],
            not_touched=[NotTouched(n["what"], n["reason"], tuple(n.get("addresses") or ()))
                         for n in data.get("not_touched") or []],
            source=data.get("source"), target=data.get("target"), options=dict(data.get("options") or {}),
        )


def make_plan(desired: Snapshot, live: Snapshot, *, conflict: str = "overwrite", prune: bool = False,
              resources: Iterable[str] | None = None, provisioned: Mapping[str, Iterable[str]] | None = None,
              untouchable: Iterable[Untouchable] = (), source: dict[str, Any] | None = None,
              target: dict[str, Any] | None = None) -> Plan:
    """The changes that make `live` like `desired`, by natural keys (DESIGN section 6).

    - `desired`: the backup's snapshot; `live`: the target read with the same collector, with
      every kind the scope involves plus assignments (for cascades and provisioned accounts).
    - `conflict`: ``overwrite`` updates differing resources, ``skip`` lists them in
      ``plan.skipped``, ``fail`` in ``plan.conflicts``. Creates and deletes are never conflicts.
    - `prune`: also delete what `desired` lacks, within scope; deleting a user, group or
      permission set also deletes its memberships and assignments explicitly (even out of scope).
    - `resources`: subset of `RESOURCE_KINDS` (default all); memberships need users and groups.
      It must not name kinds the backup does not hold (their absence would read as deletions).
    - `provisioned`: permission set name -> accounts it is provisioned to in the target (e.g.
      from ListAccountsForProvisionedPermissionSet); None derives it from live assignments.
    - `untouchable`: rules for what a partial backup could not read (`untouchables_from_missing`).
    - `source`, `target`: descriptions of both instances, recorded in the plan.
    """
    kinds = _check_resources(resources)
    if conflict not in CONFLICT_MODES:
        raise UsageError(f"--conflict must be one of {', '.join(CONFLICT_MODES)}, not {conflict!r}")
    draft = Draft(conflict=conflict, prune=prune, untouchable=tuple(untouchable))
    scope = resources_in_scope(kinds)
    for resource, plan_kind in _KINDS:
        if resource in scope:
            plan_kind(draft, desired, live)
    _cascade_deletes(draft, live)
    _drop_unresolved(draft, live)
    provisions = provision_changes(draft, live, provisioned)
    emitted = list(draft.changes.values()) + provisions
    changes = order(sorted(emitted, key=lambda c: _PHASES.index((c.resource, c.action))))
    options = {"conflict": conflict, "prune": prune, "resources": sorted(kinds)}
    return Plan(changes, draft.skipped, draft.conflicts, draft.not_touched(), source, target, options)


def _check_resources(resources: Iterable[str] | None) -> set[str]:
    kinds = set(RESOURCE_KINDS if resources is None else resources)
    unknown = kinds - set(RESOURCE_KINDS)
    if unknown:
        raise UsageError(f"unknown resource kind(s) {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(RESOURCE_KINDS)}")
    return kinds


def _cascade_deletes(draft: Draft, live: Snapshot) -> None:
    """Explicit deletes of the memberships and assignments a principal/permission set delete
    would take with it, so each is journaled with its own inverse. If one of them must not be
    touched, the parent delete is held back instead."""
    if not any(c.action == "delete" for c in draft.changes.values()):
        return  # nothing to cascade: skip indexing every live membership and assignment
    memberships, assignments = membership_kind(live), assignment_kind(live)
    named = _dependents_index(live)
    parents = [c for c in draft.changes.values() if c.action == "delete" and c.address in named]
    for parent in parents:
        found = named[parent.address]
        rule = draft.rule_for("membership", *found["membership"])
        if rule is None:
            rule = draft.rule_for("assignment", *found["assignment"])
        if rule is not None:
            del draft.changes[parent.address]
            draft.hold(rule, parent.address)
            continue
        for kind, objects in ((memberships, found["membership"]), (assignments, found["assignment"])):
            for obj in objects:
                child = Change(kind.resource, "delete", obj.key, before=kind.record(obj),
                               hints=kind.hints(obj.key, obj))
                draft.changes.setdefault(child.address, child)


def _dependents_index(live: Snapshot) -> dict[str, dict[str, list[Any]]]:
    """Address of a user/group/permission set -> the live memberships and assignments naming it."""
    index: dict[str, dict[str, list[Any]]] = {}

    def add(resource: str, name: str, kind: str, obj: Any) -> None:
        entry = index.setdefault(address(resource, (name,)), {"membership": [], "assignment": []})
        entry[kind].append(obj)

    for m in live.memberships:
        add("user", m.user_name, "membership", m)
        add("group", m.group_name, "membership", m)
    for a in live.assignments:
        add("user" if a.principal_type == "USER" else "group", a.principal_name, "assignment", a)
        add("permission_set", a.permission_set_name, "assignment", a)
    return index


def _drop_unresolved(draft: Draft, live: Snapshot) -> None:
    """Hold back membership/assignment creates naming something the target will not have."""
    present = {("user", u.user_name) for u in live.users} | {("group", g.display_name) for g in live.groups}
    present |= {("permission_set", p.name) for p in live.permission_sets}
    for change in [c for c in draft.changes.values() if c.action == "create"]:
        for resource, name in _references(change):
            planned = draft.changes.get(address(resource, (name,)))
            exists = (resource, name) in present if planned is None else planned.action != "delete"
            if not exists:
                del draft.changes[change.address]
                reason = (f"{resource.replace('_', ' ')} {name} will not exist in the target "
                          "(not in the backup, out of scope or held back)")
                draft.unresolved.append(NotTouched(change.address, reason, (change.address,)))
                break


def _references(change: Change) -> list[tuple[str, str]]:
    if change.resource == "membership":
        return [("group", change.key[0]), ("user", change.key[1])]
    if change.resource == "assignment":
        _account, ps, principal_type, name = change.key
        return [("user" if principal_type == "USER" else "group", name), ("permission_set", ps)]
    return []

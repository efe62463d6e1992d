"""What a plan may touch: the `--resources` scope and what a partial backup could not read.

A partial backup lacks what it could not read, and a lack must never be mistaken for "delete
it" (`--prune`) or "it is gone". The manifest's ``missing`` list therefore becomes a list of
`Untouchable` rules; every change on a matching resource is held back and the plan lists it
under ``not_touched``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from awsideman.core.model import Snapshot

# change resource -> the --resources kinds that must all be in scope for it to be planned
_SCOPE_OF = {
    "user": {"users"}, "group": {"groups"}, "membership": {"users", "groups"},
    "permission_set": {"permission-sets"}, "assignment": {"assignments"},
}


# the collector's `Missing.resource` kinds -> change resource
_RESOURCE_OF_KIND = {"users": "user", "groups": "group", "memberships": "membership",
                     "permission-sets": "permission_set", "assignments": "assignment"}


def resources_in_scope(kinds: Iterable[str]) -> set[str]:
    """Change resources planned for these `--resources` kinds.

    Memberships go with groups when users are in scope too, as in the backup collector (a
    membership means nothing without both ends). Provisions follow permission set updates.
    """
    chosen = set(kinds)
    return {resource for resource, needs in _SCOPE_OF.items() if needs <= chosen}


@dataclass(frozen=True)
class Untouchable:
    """A rule: leave alone every `resource` whose desired or live object matches `match`.

    `match` compares attributes of the model objects (`awsideman.core.model`): natural keys or
    the ids seen at backup time (e.g. ``{"arn": ...}`` for a permission set that could not be
    read, so its name is unknown). An empty `match` covers every object of the resource.
    """

    resource: str
    match: dict[str, str] = field(default_factory=dict)
    reason: str = "not in the backup"

    def matches(self, resource: str, obj: Any) -> bool:
        return (resource == self.resource and obj is not None
                and all(getattr(obj, name, None) == value for name, value in self.match.items()))

    def describe(self) -> str:
        if not self.match:
            return f"every {self.resource}"
        return f"{self.resource} " + ", ".join(f"{name}={value}" for name, value in sorted(self.match.items()))


@dataclass(frozen=True)
class NotTouched:
    """Something the plan leaves alone on purpose: what, why, and the changes held back."""

    what: str
    reason: str
    addresses: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "reason": self.reason, "addresses": list(self.addresses)}


def untouchables_from_missing(missing: list[dict[str, Any]], backup: Snapshot) -> list[Untouchable]:
    """Rules for a partial backup, from its manifest's ``missing`` entries (collector step names).

    Ids in step names are translated to natural keys through the backup where it can (a group's
    memberships, a principal's assignments); a permission set that could not be read is known
    only by its ARN, which matches the live one only when restoring into the same instance.
    """
    rules: list[Untouchable] = []
    for entry in missing:
        reason = f"not in the backup: {entry.get('code', 'unreadable')} ({entry.get('resource', '?')})"
        for step in entry.get("steps") or []:
            rules += _rules_for_step(step, entry.get("resource", ""), reason, backup)
    unique: list[Untouchable] = []
    for rule in rules:
        if rule not in unique:
            unique.append(rule)
    return unique


def _rules_for_step(step: str, kind: str, reason: str, backup: Snapshot) -> list[Untouchable]:
    group_names = {g.group_id: g.display_name for g in backup.groups}
    principal_names = {("USER", u.user_id): u.user_name for u in backup.users}
    principal_names.update({("GROUP", g.group_id): g.display_name for g in backup.groups})
    set_names = {p.arn: p.name for p in backup.permission_sets}

    def rule(resource: str, **match: str) -> Untouchable:
        return Untouchable(resource, match, reason)

    def by_set(arn: str, **match: str) -> Untouchable:
        name = set_names.get(arn)
        return rule("assignment", permission_set_name=name, **match) if name else \
            rule("assignment", permission_set_arn=arn, **match)

    if step in ("users", "groups"):
        principal_type = "USER" if step == "users" else "GROUP"
        return [rule(step[:-1]), rule("membership"), rule("assignment", principal_type=principal_type)]
    if step == "permission_sets":
        return [rule("permission_set"), rule("assignment")]
    name, _, rest = step.partition(":")
    if name == "memberships":
        group = group_names.get(rest)
        return [rule("membership", group_name=group) if group else rule("membership", group_id=rest)]
    if name == "permission_set":
        return [rule("permission_set", arn=rest), rule("assignment", permission_set_arn=rest)]
    if name == "provisioned_accounts":
        return [by_set(rest)]
    if name == "assignments" and rest.startswith("principal:"):
        _, principal_type, principal_id = rest.split(":", 2)
        known = principal_names.get((principal_type, principal_id))
        return [rule("assignment", principal_type=principal_type, principal_name=known) if known else
                rule("assignment", principal_type=principal_type, principal_id=principal_id)]
    if name == "assignments" and ":" in rest:
        arn, account = rest.rsplit(":", 1)
        return [by_set(arn, account_id=account)]
    # A step this version does not know: hold back its whole kind (or everything) rather than guess.
    resource = _RESOURCE_OF_KIND.get(kind)
    return [rule(resource)] if resource else [rule(other) for other in _SCOPE_OF]

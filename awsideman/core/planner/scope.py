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

    def __hash__(self) -> int:
        return hash((self.resource, tuple(sorted(self.match.items())), self.reason))

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
    names = _Names.of(backup)
    rules: list[Untouchable] = []
    for entry in missing:
        reason = f"not in the backup: {entry.get('code', 'unreadable')} ({entry.get('resource', '?')})"
        for step in entry.get("steps") or []:
            for rule in _rules_for_step(step, entry.get("resource", ""), reason, names):
                if rule not in rules:
                    rules.append(rule)
    return rules


@dataclass(frozen=True)
class _Names:
    """Backup-time ids -> natural keys."""

    groups: dict[str, str]
    principals: dict[tuple[str, str], str]
    sets: dict[str, str]

    @classmethod
    def of(cls, backup: Snapshot) -> _Names:
        principals = {("USER", u.user_id): u.user_name for u in backup.users}
        principals.update({("GROUP", g.group_id): g.display_name for g in backup.groups})
        return cls({g.group_id: g.display_name for g in backup.groups}, principals,
                   {p.arn: p.name for p in backup.permission_sets})

    def assignments_of_set(self, arn: str, reason: str, **match: str) -> Untouchable:
        name = self.sets.get(arn)
        key = {"permission_set_name": name} if name else {"permission_set_arn": arn}
        return Untouchable("assignment", {**key, **match}, reason)


def _rules_for_step(step: str, kind: str, reason: str, names: _Names) -> list[Untouchable]:
    if step in ("users", "groups"):
        principal_type = "USER" if step == "users" else "GROUP"
        return [Untouchable(step[:-1], {}, reason), Untouchable("membership", {}, reason),
                Untouchable("assignment", {"principal_type": principal_type}, reason)]
    if step == "permission_sets":
        return [Untouchable("permission_set", {}, reason), Untouchable("assignment", {}, reason)]
    name, _, rest = step.partition(":")
    if name == "memberships":
        group = names.groups.get(rest)
        return [Untouchable("membership", {"group_name": group} if group else {"group_id": rest}, reason)]
    if name == "permission_set":
        return [Untouchable("permission_set", {"arn": rest}, reason),
                Untouchable("assignment", {"permission_set_arn": rest}, reason)]
    if name == "provisioned_accounts":
        return [names.assignments_of_set(rest, reason)]
    if name == "assignments" and rest.startswith("principal:"):
        _, principal_type, principal_id = rest.split(":", 2)
        known = names.principals.get((principal_type, principal_id))
        principal = {"principal_name": known} if known else {"principal_id": principal_id}
        return [Untouchable("assignment", {"principal_type": principal_type, **principal}, reason)]
    if name == "assignments" and ":" in rest:
        arn, account = rest.rsplit(":", 1)
        return [names.assignments_of_set(arn, reason, account_id=account)]
    # A step this version does not know: hold back its whole kind (or everything) rather than guess.
    resource = _RESOURCE_OF_KIND.get(kind)
    return [Untouchable(resource, {}, reason)] if resource else [Untouchable(r, {}, reason) for r in _SCOPE_OF]

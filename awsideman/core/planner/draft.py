"""The plan being assembled, and the one comparison every resource kind shares.

Each per-kind module describes its resource as a `Kind` (how to make a record, which ids to
hint) and calls `compare`; the `Draft` decides what becomes a change, a skipped difference, a
conflict, or something held back by an `Untouchable` rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from awsideman.core.attributes import Record, diff_records
from awsideman.core.changes import Change
from awsideman.core.planner.scope import NotTouched, Untouchable

CONFLICT_MODES = ("overwrite", "skip", "fail")
Key = tuple[str, ...]


def key_of(obj: Any) -> Key:
    key = obj.key
    return key if isinstance(key, tuple) else (key,)


@dataclass
class Draft:
    """Changes by address (in emission order), differences not acted on, and holds."""

    conflict: str = "overwrite"
    prune: bool = False
    untouchable: tuple[Untouchable, ...] = ()
    changes: dict[str, Change] = field(default_factory=dict)
    skipped: list[Change] = field(default_factory=list)
    conflicts: list[Change] = field(default_factory=list)
    held: dict[int, list[str]] = field(default_factory=dict)  # rule index -> addresses
    unresolved: list[NotTouched] = field(default_factory=list)

    def rule_for(self, resource: str, *objects: Any) -> int | None:
        """Index of the first `Untouchable` rule covering any of the objects, or None."""
        for index, rule in enumerate(self.untouchable):
            if any(rule.matches(resource, obj) for obj in objects):
                return index
        return None

    def hold(self, rule: int, address: str) -> None:
        self.held.setdefault(rule, []).append(address)

    def propose(self, change: Change, desired: Any, live: Any) -> None:
        """Add a change unless a rule holds it back or the conflict mode keeps the live version."""
        rule = self.rule_for(change.resource, desired, live)
        if rule is not None:
            self.hold(rule, change.address)
        elif change.action == "update" and self.conflict == "skip":
            self.skipped.append(change)
        elif change.action == "update" and self.conflict == "fail":
            self.conflicts.append(change)
        else:
            self.changes[change.address] = change

    def not_touched(self) -> list[NotTouched]:
        """Every rule (held changes or not: the plan says what it did not look at) and every
        change dropped for an unresolvable reference."""
        rules = [NotTouched(rule.describe(), rule.reason, tuple(self.held.get(index, ())))
                 for index, rule in enumerate(self.untouchable)]
        return rules + self.unresolved


@dataclass(frozen=True)
class Kind:
    """How one resource kind is compared: its records, the ids to hint, notes on deletes."""

    resource: str
    record: Callable[[Any], Record]
    hints: Callable[[Key, Any], dict[str, str]]
    delete_notes: Callable[[Any], tuple[str, ...]] = lambda _obj: ()


def compare(draft: Draft, kind: Kind, desired: Iterable[Any], live: Iterable[Any]) -> None:
    """Propose a create, update or (with prune) delete for every key that differs."""
    wanted = {key_of(obj): obj for obj in desired}
    present = {key_of(obj): obj for obj in live}
    for key in sorted(wanted.keys() | present.keys()):
        want, have = wanted.get(key), present.get(key)
        if want is not None and have is None:
            change = Change(kind.resource, "create", key, after=kind.record(want), hints=kind.hints(key, None))
        elif want is None:
            if not draft.prune:
                continue
            change = Change(kind.resource, "delete", key, before=kind.record(have),
                            hints=kind.hints(key, have), notes=kind.delete_notes(have))
        else:
            before, after = kind.record(have), kind.record(want)
            diff = diff_records(kind.resource, before, after)
            if not diff:
                continue
            change = Change(kind.resource, "update", key, before=before, after=after, diff=diff,
                            hints=kind.hints(key, have))
        draft.propose(change, want, have)

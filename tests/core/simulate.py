"""An in-memory instance that applies changes by natural keys, as AWS would, and checks them.

The planner's test oracle (no product code uses it): ``SimulatedInstance(snapshot)
.apply_all(plan.changes)`` gives the state the plan leads to, and raises `SimulationError`
for anything the service would refuse or that would silently go wrong: a membership before
its user exists, a create of something that exists, an update whose recorded ``before`` is
not what the instance holds, a delete that would take other resources with it (strict mode),
a change before one it depends on.

It also tracks, per (permission set, account), the *provisioned copy*: the permission set's
provisioned attributes as they were when last provisioned there (an assignment create
provisions its account; the last assignment's delete deprovisions it). `stale()` lists the
accounts whose copy differs from the permission set, so provisioning order can be checked.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from awsideman.core.attributes import (
    PROVISIONED_ATTRIBUTES,
    Record,
    comparable,
    same_policy,
    snapshot_records,
)
from awsideman.core.changes import Change
from awsideman.core.model import Assignment, Group, Membership, PermissionSet, Snapshot, User

Key = tuple[str, ...]
Pair = tuple[str, str]
_IDS = {"user": "user_id", "group": "group_id", "permission_set": "arn"}


class SimulationError(Exception):
    """A change the service would refuse, or one applied out of order."""


class SimulatedInstance:
    """Records by resource and natural key, service ids, and provisioned copies."""

    def __init__(self, snapshot: Snapshot, provisioned: Mapping[str, Iterable[str]] | None = None,
                 *, strict: bool = True) -> None:
        self.strict = strict
        self.records = snapshot_records(snapshot)
        self.ids: dict[tuple[str, Key], str] = {}
        for resource, items in (("user", snapshot.users), ("group", snapshot.groups),
                                ("permission_set", snapshot.permission_sets)):
            for obj in items:
                self.ids[(resource, (obj.key,))] = getattr(obj, _IDS[resource])
        self._counter = itertools.count(1)
        pairs = {(a.permission_set_name, a.account_id) for a in snapshot.assignments}
        if provisioned is not None:
            pairs |= {(name, account) for name, accounts in provisioned.items() for account in accounts}
        self.copies: dict[Pair, Record] = {pair: self._current(pair[0]) for pair in pairs
                                           if (pair[0],) in self.records["permission_set"]}

    # -- applying -------------------------------------------------------------------------------
    def apply_all(self, changes: Iterable[Change]) -> SimulatedInstance:
        """Apply in the given order; each change's dependencies (within this list) must be done."""
        items = list(changes)
        in_list = {c.address for c in items}
        done: set[str] = set()
        for change in items:
            missing = [dep for dep in change.depends_on if dep in in_list and dep not in done]
            if missing:
                raise SimulationError(f"{change.address} applied before {', '.join(missing)}")
            self.apply(change)
            done.add(change.address)
        return self

    def apply(self, change: Change) -> None:
        """Apply one change as the service would."""
        if change.action == "provision":
            self._provision((change.key[0], change.key[1]))
        elif change.action == "create":
            self._create(change)
        elif change.action == "update":
            self._update(change)
        else:
            self._delete(change)

    def _create(self, change: Change) -> None:
        table = self.records[change.resource]
        if change.key in table:
            raise SimulationError(f"{change.address} already exists")
        assert change.after is not None
        self._check_references(change)
        table[change.key] = copy.deepcopy(change.after)
        if change.resource in _IDS:
            self.ids[(change.resource, change.key)] = f"sim-{change.resource}-{next(self._counter)}"
        if change.resource == "assignment":
            self._provision((change.key[1], change.key[0]))

    def _check_references(self, change: Change) -> None:
        if change.resource == "membership":
            needed = [("group", change.key[0]), ("user", change.key[1])]
        elif change.resource == "assignment":
            principal = "user" if change.key[2] == "USER" else "group"
            needed = [(principal, change.key[3]), ("permission_set", change.key[1])]
        else:
            return
        for resource, name in needed:
            if (name,) not in self.records[resource]:
                raise SimulationError(f"{change.address}: {resource} {name} does not exist")

    def _update(self, change: Change) -> None:
        current = self.records[change.resource].get(change.key)
        if current is None:
            raise SimulationError(f"{change.address} does not exist")
        target = current["attributes"] if change.resource == "user" else current
        for name, values in change.diff.items():
            have = target.get(name)
            same = same_policy(have, values["before"]) if name == "inline_policy" else have == values["before"]
            if not same:
                raise SimulationError(f"{change.address}: {name} is {have!r}, the change recorded {values['before']!r}")
            if values["after"] is None and change.resource == "user":
                target.pop(name, None)
            else:
                target[name] = copy.deepcopy(values["after"])

    def _delete(self, change: Change) -> None:
        table = self.records[change.resource]
        if change.key not in table:
            raise SimulationError(f"{change.address} does not exist")
        self._take_dependents(change)
        del table[change.key]
        self.ids.pop((change.resource, change.key), None)
        if change.resource == "assignment":
            pair = (change.key[1], change.key[0])
            if not any((a[1], a[0]) == pair for a in self.records["assignment"]):
                self.copies.pop(pair, None)  # the last assignment's delete deprovisions the account

    def _take_dependents(self, change: Change) -> None:
        """AWS deletes a principal's memberships and assignments with it; strict mode refuses,
        because the plan must delete them explicitly (each with its own inverse)."""
        name = change.key[0]
        found = []
        if change.resource in ("user", "group"):
            position = 1 if change.resource == "user" else 0
            principal_type = change.resource.upper()
            found += [("membership", k) for k in self.records["membership"] if k[position] == name]
            found += [("assignment", k) for k in self.records["assignment"] if (k[2], k[3]) == (principal_type, name)]
        elif change.resource == "permission_set":
            found += [("assignment", k) for k in self.records["assignment"] if k[1] == name]
        if found and self.strict:
            raise SimulationError(f"{change.address} would also delete {len(found)} membership(s)/assignment(s)")
        for resource, key in found:
            del self.records[resource][key]
        if change.resource == "permission_set":
            self.copies = {pair: rec for pair, rec in self.copies.items() if pair[0] != name}

    def _provision(self, pair: Pair) -> None:
        if (pair[0],) not in self.records["permission_set"]:
            raise SimulationError(f"provision {pair}: permission set {pair[0]} does not exist")
        self.copies[pair] = self._current(pair[0])

    def _current(self, name: str) -> Record:
        record = comparable("permission_set", self.records["permission_set"][(name,)])
        return {attr: copy.deepcopy(record[attr]) for attr in PROVISIONED_ATTRIBUTES}

    # -- reading --------------------------------------------------------------------------------
    def stale(self) -> list[Pair]:
        """(permission set, account) pairs whose provisioned copy is not the permission set."""
        return sorted(pair for pair, rec in self.copies.items() if rec != self._current(pair[0]))

    def snapshot(self) -> Snapshot:
        """The simulated state as a Snapshot (new resources carry ``sim-...`` ids)."""
        recs = self.records

        def ids(resource: str, key: Key) -> str:  # "" for a reference the snapshot does not hold
            return self.ids.get((resource, key), "")

        users = [User(r["user_name"], ids("user", k), copy.deepcopy(r["attributes"])) for k, r in recs["user"].items()]
        groups = [Group(r["display_name"], ids("group", k), r["description"]) for k, r in recs["group"].items()]
        memberships = [Membership(g, u, ids("group", (g,)), ids("user", (u,))) for g, u in recs["membership"]]
        sets = [PermissionSet(arn=ids("permission_set", k), **copy.deepcopy(r))
                for k, r in recs["permission_set"].items()]
        assignments = [Assignment(account, ps, ptype, name, ids("permission_set", (ps,)),
                                  ids("user" if ptype == "USER" else "group", (name,)))
                       for account, ps, ptype, name in recs["assignment"]]
        return Snapshot(users, groups, memberships, sets, assignments)

    def provisioned(self) -> dict[str, set[str]]:
        """Permission set name -> accounts it is provisioned to."""
        found: dict[str, set[str]] = {}
        for name, account in self.copies:
            found.setdefault(name, set()).add(account)
        return found


def simulate(snapshot: Snapshot, changes: Iterable[Change], **options: Any) -> Snapshot:
    """The snapshot after applying `changes` to `snapshot` (raises `SimulationError`)."""
    return SimulatedInstance(snapshot, **options).apply_all(changes).snapshot()

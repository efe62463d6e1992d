"""Snapshot model: dataclasses keyed by natural keys, and canonical JSON.

Service-generated ids (user, group, permission set ARNs) change when a resource is
recreated, so every cross-reference is stored by natural key (user name, group display
name, permission set name) with the id seen at backup time kept alongside for reference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import FrozenInstanceError, asdict, dataclass, field
from typing import Any

from awsideman.core.compact import attributes_json, canonical_text, interned

FORMAT_VERSION = 1
RESOURCE_KINDS = ("users", "groups", "permission-sets", "assignments")
# memberships travel with groups: they need both users and groups to mean anything.


class User:
    """An identity store user; `attributes` holds every attribute the API returned.

    Immutable, like the other records. The attributes are held as their canonical JSON text and
    `attributes` decodes a fresh dict at each read: 50,000 users' nested dicts (a name, emails,
    phone numbers each a dict) were 83 MB for one side of a diff, their text is under half of
    that, and what is compared or written is made a user at a time anyway.
    """

    __slots__ = ("user_name", "user_id", "_attributes")
    __match_args__ = ("user_name", "user_id", "attributes")
    user_name: str
    user_id: str
    _attributes: str

    def __init__(self, user_name: str, user_id: str, attributes: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "user_name", user_name)
        object.__setattr__(self, "user_id", user_id)
        object.__setattr__(self, "_attributes", attributes_json(attributes or {}))

    @classmethod
    def from_json(cls, user_name: str, user_id: str, attributes: str) -> User:
        """A user whose attributes are already their canonical JSON text (`attributes_json`)."""
        user = object.__new__(cls)
        object.__setattr__(user, "user_name", user_name)
        object.__setattr__(user, "user_id", user_id)
        object.__setattr__(user, "_attributes", attributes)
        return user

    @property
    def attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = json.loads(self._attributes)
        return attributes

    @property
    def attributes_json(self) -> str:
        """The attributes as canonical JSON (what `canonical_json(user.attributes)` gives)."""
        return self._attributes

    @property
    def key(self) -> str:
        return self.user_name

    def to_dict(self) -> dict[str, Any]:
        """What `dataclasses.asdict` gives for the other records."""
        return {"user_name": self.user_name, "user_id": self.user_id, "attributes": self.attributes}

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not User:
            return NotImplemented
        assert isinstance(other, User)
        return (self.user_name, self.user_id, self._attributes) == (other.user_name, other.user_id, other._attributes)

    def __hash__(self) -> int:
        return hash((self.user_name, self.user_id, self._attributes))

    def __reduce__(self) -> tuple[Any, ...]:
        return (User, (self.user_name, self.user_id, self.attributes))

    def __repr__(self) -> str:
        return f"User(user_name={self.user_name!r}, user_id={self.user_id!r}, attributes={self.attributes!r})"


@dataclass(frozen=True, slots=True)
class Group:
    display_name: str
    group_id: str
    description: str | None = None
    external_ids: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.display_name


@dataclass(frozen=True, slots=True)
class Membership:
    group_name: str
    user_name: str
    group_id: str
    user_id: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.group_name, self.user_name)


@dataclass(frozen=True, slots=True)
class PermissionSet:
    """A permission set with every attribute that shapes the access it grants."""

    name: str
    arn: str
    description: str | None = None
    session_duration: str | None = None
    relay_state: str | None = None
    inline_policy: str | None = None
    managed_policies: list[str] = field(default_factory=list)
    customer_managed_policies: list[dict[str, str]] = field(default_factory=list)
    permissions_boundary: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Assignment:
    """An account assignment by natural keys, with the ids seen at backup time."""

    account_id: str
    permission_set_name: str
    principal_type: str  # USER or GROUP
    principal_name: str
    permission_set_arn: str
    principal_id: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.account_id, self.permission_set_name, self.principal_type, self.principal_name)


@dataclass(frozen=True, slots=True)
class OrphanAssignment:
    """An account assignment whose principal no longer exists (AWS keeps a deleted user's or
    group's assignments). It has no natural key to restore by and grants no one access: it is
    kept to be reported, never recreated. ``principal_id`` is the dangling id."""

    account_id: str
    permission_set_name: str
    principal_type: str
    principal_id: str
    permission_set_arn: str
    orphan: bool = True  # the marker a reader of the JSON sees on each entry

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.account_id, self.permission_set_name, self.principal_type, self.principal_id)

    def describe(self) -> str:
        return (f"{self.principal_type.lower()} {self.principal_id} (deleted) -> {self.permission_set_name} "
                f"in {self.account_id}")


@dataclass
class Snapshot:
    """Everything a backup holds, in a stable order."""

    users: list[User] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    permission_sets: list[PermissionSet] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    orphan_assignments: list[OrphanAssignment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sort()

    def sort(self) -> None:
        for name in ("users", "groups", "memberships", "permission_sets", "assignments", "orphan_assignments"):
            getattr(self, name).sort(key=lambda item: item.key)

    def counts(self) -> dict[str, int]:
        return {
            "users": len(self.users),
            "groups": len(self.groups),
            "memberships": len(self.memberships),
            "permission_sets": len(self.permission_sets),
            "assignments": len(self.assignments),
        }

    def canonical_chunks(self, batch: int = 2000) -> Iterator[bytes]:
        """``canonical_json(self.to_dict())`` in pieces, one batch of records at a time, so a
        snapshot of hundreds of thousands of records is never a second time in memory (as
        dicts) nor a third (as one JSON text). The bytes are the same (tests/core/test_model_stream.py)."""
        lists: dict[str, list[Any]] = {
            "assignments": self.assignments, "groups": self.groups, "memberships": self.memberships,
            "permission_sets": self.permission_sets, "users": self.users}
        if self.orphan_assignments:
            lists["orphan_assignments"] = self.orphan_assignments
        names = sorted([*lists, "format_version"])  # canonical_json sorts the keys
        for position, name in enumerate(names):
            yield (b"{" if position == 0 else b",") + canonical_json(name) + b":"
            if name == "format_version":
                yield canonical_json(FORMAT_VERSION)
                continue
            items = lists[name]
            piece = _user_json if name == "users" else _record_json
            yield b"["
            for start in range(0, len(items), batch):
                pieces = [piece(item) for item in items[start:start + batch]]
                yield (b"," if start else b"") + b",".join(pieces)
            yield b"]"
        yield b"}"

    def to_dict(self) -> dict[str, Any]:
        data = {
            "format_version": FORMAT_VERSION,
            "users": [u.to_dict() for u in self.users],
            "groups": [asdict(g) for g in self.groups],
            "memberships": [asdict(m) for m in self.memberships],
            "permission_sets": [asdict(p) for p in self.permission_sets],
            "assignments": [asdict(a) for a in self.assignments],
        }
        if self.orphan_assignments:  # absent when there are none: older readers' documents stay as they were
            data["orphan_assignments"] = [asdict(o) for o in self.orphan_assignments]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        """Rebuild from canonical JSON (emptying its lists); raises KeyError/TypeError on a malformed document."""
        return cls(
            users=_consume(data["users"], User),
            groups=_consume(data["groups"], Group),
            memberships=_consume(data["memberships"], Membership),
            permission_sets=_consume(data["permission_sets"], PermissionSet),
            assignments=_consume(data["assignments"], Assignment),
            orphan_assignments=_consume(data.get("orphan_assignments") or [], OrphanAssignment),
        )

    def consistency_problems(self, resources: set[str] | None = None) -> list[str]:
        """References that point at nothing in this snapshot (empty list when consistent).

        Only references to kinds the backup holds are checked: a backup of assignments alone
        legitimately names principals it does not contain.
        """
        held = set(RESOURCE_KINDS) if resources is None else resources
        users = {u.user_name for u in self.users}
        groups = {g.display_name for g in self.groups}
        sets = {p.name for p in self.permission_sets}
        problems = []
        for m in self.memberships:
            if m.group_name not in groups:
                problems.append(f"membership {m.group_name}/{m.user_name}: group not in backup")
            if m.user_name not in users:
                problems.append(f"membership {m.group_name}/{m.user_name}: user not in backup")
        for a in self.assignments:
            kind = "users" if a.principal_type == "USER" else "groups"
            principals = users if a.principal_type == "USER" else groups
            if kind in held and a.principal_name not in principals:
                problems.append(f"assignment {a.key}: {a.principal_type.lower()} not in backup")
            if "permission-sets" in held and a.permission_set_name not in sets:
                problems.append(f"assignment {a.key}: permission set not in backup")
        for kind, items in (("user", self.users), ("group", self.groups),
                            ("permission set", self.permission_sets),
                            ("membership", self.memberships), ("assignment", self.assignments)):
            keys = [item.key for item in items]
            if len(keys) != len(set(keys)):
                problems.append(f"duplicate {kind} keys")
        return problems


def _record_json(item: Any) -> bytes:
    return canonical_json(asdict(item))


def _user_json(user: User) -> bytes:
    """``canonical_json(user.to_dict())`` from the attributes' own canonical text (keys sorted:
    attributes, user_id, user_name), without decoding it."""
    return (b'{"attributes":' + user.attributes_json.encode("utf-8") + b',"user_id":' + canonical_json(user.user_id)
            + b',"user_name":' + canonical_json(user.user_name) + b"}")


def _consume(items: list[dict[str, Any]], make: Any) -> list[Any]:
    """Records from `items`, emptying it as they are made: each dict is freed once its record
    exists, so a large document is not held twice (as dicts and as records)."""
    made = []
    items.reverse()
    while items:
        made.append(make_record(make, items.pop()))
    return made


def make_record(make: Any, raw: dict[str, Any]) -> Any:
    """``make(**raw)`` with short strings interned, nested ones too: names, ids and attribute
    keys repeat across records (a user's attributes were 3.8 KB each, mostly repeated keys)."""
    if make is User:  # its attributes become text: interning them first would be wasted work
        return User(**{k: v if k == "attributes" else interned(v) for k, v in raw.items()})
    return make(**{k: interned(v) for k, v in raw.items()})


def canonical_json(data: Any) -> bytes:
    """Sorted keys, no insignificant whitespace: the same data always gives the same bytes."""
    return canonical_text(data).encode("utf-8")

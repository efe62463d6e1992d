"""The change: one step of a restore plan that knows its inverse (alembic's operation objects).

A `Change` names one resource by natural keys only (user name, group display name, permission
set name, account id), so a plan computed against one instance can be applied to another where
every id differs. Ids seen at plan time travel in `hints`, to save a lookup when they still
hold; the apply engine must confirm them by natural key and never rely on them.

Resources, actions and addresses (the address is unique within a plan; a change and its
inverse share it):

===============  =======================  ==================================================
resource         actions                  address / key
===============  =======================  ==================================================
user             create, update, delete   ``user:alice`` / (user name,)
group            create, update, delete   ``group:Admins`` / (display name,)
membership       create, delete           ``membership:Admins/alice`` / (group, user)
permission_set   create, update, delete   ``permission_set:AdminAccess`` / (name,)
assignment       create, delete           ``assignment:111122223333/AdminAccess/GROUP/Admins``
                                          / (account id, permission set, USER|GROUP, principal)
provision        provision                ``provision:AdminAccess/111122223333`` / (set, account)
===============  =======================  ==================================================

In addresses, ``%`` and ``/`` inside a name are written ``%25`` and ``%2F`` so that
``membership:a/b/c`` can never mean two things. The record shapes of ``before``/``after`` are
described in :mod:`awsideman.core.attributes`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from awsideman.core.attributes import Diff, Record, diff_records
from awsideman.core.exceptions import IrreversibleChangeError

RESOURCES = ("user", "group", "membership", "permission_set", "assignment", "provision")
_KEY_LENGTH = {"user": 1, "group": 1, "membership": 2, "permission_set": 1, "assignment": 4, "provision": 2}
_ACTIONS_OF = {
    "user": ("create", "update", "delete"), "group": ("create", "update", "delete"),
    "permission_set": ("create", "update", "delete"), "membership": ("create", "delete"),
    "assignment": ("create", "delete"), "provision": ("provision",),
}


def address(resource: str, key: tuple[str, ...]) -> str:
    """The stable address of a resource: ``resource:key/parts`` with ``%`` and ``/`` escaped."""
    return f"{resource}:" + "/".join(part.replace("%", "%25").replace("/", "%2F") for part in key)


@dataclass(frozen=True)
class Change:
    """One create, update, delete or provision of one resource, with the data to undo it.

    - ``before``: the live record read for the plan (None for a create); the inverse is built
      from it, so it must be what the target held just before the change (`with_before`).
    - ``after``: the record the change produces (None for a delete). For a provision both are
      ``{"permission_set_name", "account_id"}``: provisioning copies the permission set as it
      is at that moment, so it has no state of its own.
    - ``diff``: for updates, ``{attr: {"before": x, "after": y}}`` (see
      :func:`~awsideman.core.attributes.diff_records`); apply exactly these attributes.
    - ``depends_on``: addresses of changes in the same list that must succeed first. It is a
      property of the list, not of the change: it does not take part in equality and an
      inverse has none until `rollback_order` places it.
    - ``hints``: ids in the target seen at plan time (``user_id``, ``group_id``,
      ``permission_set_arn``, ``principal_id``); unverified, possibly stale.
    - ``notes``: what the inverse cannot give back (e.g. a deleted user's ExternalIds).

    Instances are immutable by contract: treat the dicts as read-only. Equality and hash do not
    involve ``depends_on``.
    """

    resource: str
    action: str
    key: tuple[str, ...]
    before: Record | None = None
    after: Record | None = None
    diff: Diff = field(default_factory=dict)
    depends_on: tuple[str, ...] = field(default=(), compare=False)
    hints: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.resource not in RESOURCES:
            raise ValueError(f"unknown resource {self.resource!r}; expected one of {', '.join(RESOURCES)}")
        if self.action not in _ACTIONS_OF[self.resource]:
            raise ValueError(f"{self.resource} cannot be {self.action!r}; "
                             f"expected one of {', '.join(_ACTIONS_OF[self.resource])}")
        if len(self.key) != _KEY_LENGTH[self.resource] or not all(isinstance(k, str) for k in self.key):
            raise ValueError(f"{self.resource} key must be {_KEY_LENGTH[self.resource]} string(s), got {self.key!r}")

    def __hash__(self) -> int:
        return hash((self.address, self.action))

    @property
    def address(self) -> str:
        return address(self.resource, self.key)

    @property
    def is_async(self) -> bool:
        """CreateAccountAssignment, DeleteAccountAssignment and ProvisionPermissionSet: poll them."""
        return self.resource in ("assignment", "provision")

    @property
    def exclusive_key(self) -> tuple[str, str] | None:
        """(permission set, account) for asynchronous changes: AWS runs one operation per pair at a
        time (ConflictException otherwise), so never run two changes with the same key at once."""
        if self.resource == "assignment":
            return (self.key[1], self.key[0])
        if self.resource == "provision":
            return (self.key[0], self.key[1])
        return None

    @property
    def orphan(self) -> bool:
        """The delete of an orphan assignment: its user or group no longer exists (AWS kept the
        assignment). Its key names the dangling principal id, and ``before`` carries it."""
        return self.resource == "assignment" and bool((self.before or {}).get("orphan"))

    @property
    def reversible(self) -> bool:
        """Whether the change recorded what its inverse needs (a delete needs ``before``...).

        An orphan assignment's delete never is: the inverse would assign a principal that no
        longer exists, which AWS refuses (and it granted no one access).
        """
        if self.orphan:
            return False
        needs = {"create": ("after",), "delete": ("before",), "update": ("before", "after"), "provision": ()}
        return all(getattr(self, name) is not None for name in needs[self.action])

    def inverse(self) -> Change:
        """The change that undoes this one, from what it recorded (alembic's ``reverse()``).

        create <-> delete with the same record; update with before/after swapped and the diff
        recomputed; provision is its own inverse (it re-provisions whatever the permission set
        holds once reverted: `rollback_order` puts it after that revert). Raises
        `IrreversibleChangeError` rather than invent missing state.

        A change that may have happened only in part (a permission set update is several API
        calls; an answer lost in transit) is compensated with ``inverse().with_before(live)``:
        the diff is then taken against what the target holds now.
        """
        if self.orphan:
            raise IrreversibleChangeError(
                f"{self.address}: an orphan assignment (its principal {self.key[3]} no longer exists) cannot be "
                "created back", remediation=["Nothing to give back: it granted no one access."])
        if not self.reversible:
            raise IrreversibleChangeError(
                f"{self.address}: cannot {self.action} back, the state before the change was not recorded",
                remediation=[f"Check {self.address} by hand against the backup."])
        if self.action == "provision":
            return replace(self, depends_on=())
        if self.action == "update":
            diff = diff_records(self.resource, self.after, self.before)
            return replace(self, before=self.after, after=self.before, diff=diff, depends_on=())
        action = "delete" if self.action == "create" else "create"
        return replace(self, action=action, before=self.after, after=self.before, diff={}, depends_on=())

    def with_before(self, before: Record | None) -> Change:
        """The same update or delete against state read just before applying it (DESIGN 6.3).

        The diff is recomputed, so an update whose target already matches gets an empty diff
        (nothing to send). Creates and provisions have no prior state to refresh.
        """
        if self.action not in ("update", "delete"):
            raise ValueError(f"{self.address}: a {self.action} has no prior state to refresh")
        diff = diff_records(self.resource, before, self.after) if self.action == "update" else {}
        return replace(self, before=copy.deepcopy(before), diff=diff)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the journal stores it); `from_dict` reads it back exactly."""
        return {
            "address": self.address, "resource": self.resource, "action": self.action,
            "key": list(self.key), "before": copy.deepcopy(self.before), "after": copy.deepcopy(self.after),
            "diff": copy.deepcopy(self.diff), "depends_on": list(self.depends_on),
            "hints": dict(self.hints), "notes": list(self.notes), "is_async": self.is_async,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        """Rebuild from `to_dict` output; ValueError when it is not a valid change."""
        try:
            change = cls(resource=data["resource"], action=data["action"], key=tuple(data["key"]),
                         before=copy.deepcopy(data.get("before")), after=copy.deepcopy(data.get("after")),
                         diff=copy.deepcopy(data.get("diff") or {}),
                         depends_on=tuple(data.get("depends_on") or ()), hints=dict(data.get("hints") or {}),
                         notes=tuple(data.get("notes") or ()))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a change: {exc!r}") from exc
        if "address" in data and data["address"] != change.address:
            raise ValueError(f"address {data['address']!r} does not match the change ({change.address!r})")
        return change

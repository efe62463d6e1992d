"""What a journal backend stores: records, read by key or by operation, written in transactions.

The journal's rules (``journal/journal.py`` over ``journal/rules.py``) are written once; a backend
only persists records (Terraform's state managers over its thin backends are the model). Two
implement this protocol: ``SqliteStore`` (a local file) and ``DynamoStore`` (a shared table,
large values in S3).

Records are plain dicts with the same field names in every store. Kinds and their keys:

    operation   (id,)                      status, owner, lease, params, summary...
    lock        (instance_arn,)            the instance's writer: operation, owner, lease
    checkpoint  (operation_id, step)       a finished backup step's data
    change      (operation_id, seq)        a journaled change and its inverse
    error       (operation_id, id)         an analysed error

JSON-valued fields (params, summary, sealing, caller, data, forward, inverse, error, calls,
remediation) are stored as the text the journal gives; a store never interprets them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

KEYS: dict[str, tuple[str, ...]] = {
    "operation": ("id",),
    "lock": ("instance_arn",),
    "checkpoint": ("operation_id", "step"),
    "change": ("operation_id", "seq"),
    "error": ("operation_id", "id"),
}


@dataclass(frozen=True)
class OneOf:
    """An expected field value that may be any of ``values``."""

    values: tuple[Any, ...]


# ``expect`` maps a field to the value it must have (``None``: absent or null; ``OneOf``: any of
# several). ``Update`` and ``Check`` require their record to exist, ``Delete`` only with an
# ``expect``; ``Put(if_absent=True)`` requires it not to.
Expect = Mapping[str, Any]


@dataclass(frozen=True)
class Put:
    """Create or replace a whole record (``if_absent``: only create)."""

    kind: str
    record: Mapping[str, Any]
    if_absent: bool = False

    @property
    def key(self) -> tuple[Any, ...]:
        return key_of(self.kind, self.record)


@dataclass(frozen=True)
class Update:
    """Set fields of an existing record whose fields match ``expect``; ``None`` values are removed."""

    kind: str
    key: tuple[Any, ...]
    set: Mapping[str, Any]
    expect: Expect = field(default_factory=dict)


@dataclass(frozen=True)
class Delete:
    """Delete a record; with ``expect``, only an existing one whose fields match."""

    kind: str
    key: tuple[Any, ...]
    expect: Expect = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """Write nothing; the transaction needs this record to exist and match ``expect``."""

    kind: str
    key: tuple[Any, ...]
    expect: Expect = field(default_factory=dict)


Action = Put | Update | Delete | Check


class FenceLost(Exception):  # noqa: N818 - a store's answer the journal turns into LeaseLostError
    """The store's fence (the lock that must still name this process) failed: nothing was written."""


class RecordStore(Protocol):
    """A journal backend: records by key, by operation, and atomic conditional writes."""

    path: Any  # where the records are, for messages
    # The most actions ``write`` takes at once (DynamoDB transactions hold 100 with the fence).
    max_actions: int

    def get(self, kind: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        """The record, read consistently (after every write this process made), or None."""
        ...

    def query(self, kind: str, operation_id: str | None = None, *, limit: int | None = None,
              filter_kind: str | None = None) -> list[dict[str, Any]]:
        """Operations (``operation_id`` None) newest first, optionally only of ``filter_kind`` and
        at most ``limit``; else the records of one operation in the order written (changes by seq)."""
        ...

    def write(self, actions: Iterable[Action], *, wait: bool = True, fence: bool = True) -> int | None:
        """Apply ``actions`` atomically: None when applied, else the index of the first whose
        condition failed (nothing applied). Raises ``FenceLost`` when the fence failed.

        ``wait=False`` lets the store commit the write with later ones (the DynamoDB store's
        group commit); a failure is then raised by the next call. ``fence=False``: a write on the
        lock itself (take, renew, release), which carries its own condition.
        """
        ...

    def set_fence(self, fence: Check | None) -> None:
        """From now on every write also requires ``fence`` (the lock this process holds), or none."""
        ...

    def purge(self, operation_id: str, kind: str | None = None) -> None:
        """Delete an operation's records of ``kind`` (default: every kind but the operation's own
        record) and their large values; unconditional (the journal's rules decided)."""
        ...

    def drop_values(self, operation_id: str, kind: str) -> None:
        """Delete large values the operation's records of ``kind`` were first written with and that
        updates have since replaced (the DynamoDB store's S3 objects); records keep theirs."""
        ...

    def close(self) -> None: ...


def key_of(kind: str, record: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(record[name] for name in KEYS[kind])


def matches(record: Mapping[str, Any] | None, expect: Expect) -> bool:
    """Whether ``record`` exists and has every expected value (stores that check in code use it)."""
    if record is None:
        return False
    for name, wanted in expect.items():
        value = record.get(name)
        if isinstance(wanted, OneOf):
            if value not in wanted.values:
                return False
        elif wanted is None:
            if value not in (None, ""):
                return False
        elif value != wanted:
            return False
    return True

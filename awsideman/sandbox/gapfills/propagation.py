"""Propagation lag (quirk ``propagation_lag_seconds``): what was just created is not read back yet.

Real Identity Center is eventually consistent: a user or group just created may be missing
from ``ListUsers``/``ListGroups`` and ``GetUserId``/``GetGroupId`` for a second or more, a
membership from ``ListGroupMemberships`` and ``GetGroupMembershipId``, and an assignment
reported SUCCEEDED from ``ListAccountAssignments``. Writes see the truth at once (a second
create of the same name is still a ConflictException); only reads lag.

Each record's birth time is kept on the policy clock (``current_policy().now()``), so a test
that advances the sandbox clock by the lag sees everything, without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from .async_policy import current_policy

T = TypeVar("T")
_BORN = "_awsideman_born"


def _lag() -> float:
    return current_policy().quirks().propagation_lag_seconds


def _births(holder: Any) -> dict[Hashable, float]:
    # In the holder's __dict__: moto's reset() clears it, so a fresh sandbox forgets the births.
    if _BORN not in holder.__dict__:
        holder.__dict__[_BORN] = {}
    births: dict[Hashable, float] = holder.__dict__[_BORN]
    return births


def note_created(holder: Any, key: Hashable) -> None:
    """Record that `key` was created now (only while lag is on: nothing to hide otherwise)."""
    if _lag() > 0:
        _births(holder)[key] = current_policy().now()


def hidden(holder: Any, key: Hashable) -> bool:
    """Whether reads must not show `key` yet: created less than the lag ago."""
    lag = _lag()
    if lag <= 0:
        return False
    born = _births(holder).get(key)
    return born is not None and current_policy().now() - born < lag


def visible(holder: Any, items: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    """The `items` a read may show now (a page may come out shorter, as real pages do)."""
    return [item for item in items if not hidden(holder, key(item))]

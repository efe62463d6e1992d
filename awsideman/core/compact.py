"""Raw API records made small enough to hold a whole enterprise instance in memory.

A backup keeps every step's raw records until the snapshot is built (and a restore its live
read): on an instance of 50,000 users and 200,000 memberships that was ~400 MB of dicts, most
of it the same few strings parsed again in every record (user and group ids, account ids,
ARNs, locales). `compact` interns short strings, so each of those is held once, and drops the
membership fields nothing reads (a membership is its group and its member).
"""

from __future__ import annotations

import sys
from typing import Any

_LONGEST_INTERNED = 256  # names, ids, ARNs; not policy documents
_MEMBERSHIP_UNUSED = ("MembershipId", "IdentityStoreId")


def compact(step: str, data: Any) -> Any:
    """`data` of the collector step `step`, with short strings interned (and, for a group's
    memberships, only the fields the snapshot uses)."""
    if step.startswith("memberships:") and isinstance(data, list):
        data = [{k: v for k, v in item.items() if k not in _MEMBERSHIP_UNUSED} if isinstance(item, dict) else item
                for item in data]
    return _interned(data)


def _interned(value: Any) -> Any:
    if isinstance(value, str):
        return sys.intern(value) if len(value) <= _LONGEST_INTERNED else value
    if isinstance(value, dict):
        return {_interned(k): _interned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interned(v) for v in value]
    return value

"""Raw API records made small enough to hold a whole enterprise instance in memory.

A backup keeps every step's raw records until the snapshot is built (and a restore its live
read): on an instance of 50,000 users and 200,000 memberships that was ~400 MB of dicts, most
of it the same few strings parsed again in every record (user and group ids, account ids,
ARNs, locales). `compact` interns short strings, so each of those is held once, and drops the
membership fields nothing reads (a membership is its group and its member). A listed user keeps
its ids and, under `PACKED_ATTRIBUTES`, the rest as the canonical JSON text a `User` holds: the
nested dicts of 50,000 users were 100 MB held for the whole read (the snapshot builder makes
each `User` from that text as it is).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

_LONGEST_INTERNED = 256  # names, ids, ARNs; not policy documents
_MEMBERSHIP_UNUSED = ("MembershipId", "IdentityStoreId", "GroupId")
# A listed user's ids; everything else the API returned is its attributes.
USER_IDS = ("UserId", "UserName", "IdentityStoreId")
PACKED_ATTRIBUTES = "awsideman:attributes"


def compact(step: str, data: Any, shared: dict[str, Any] | None = None) -> Any:
    """`data` of the collector step `step`, with short strings interned. A group's memberships
    keep only what the snapshot uses, their member, as one ``{"MemberId": {"UserId": id}}``
    per user shared by every group the user is in (`shared`: one dict per collector run).
    An iterator (a listing read a page at a time) becomes the list of its compacted items, each
    compacted as it comes, so the raw items are never all held at once."""
    if isinstance(data, Iterator):
        return [compact(step, [item], shared)[0] for item in data]
    if step.startswith("memberships:") and isinstance(data, list) and shared is not None:
        return [_member(item, shared) for item in data]
    if step == "users" and isinstance(data, list):
        return [_user(item) for item in data]
    return interned(data)


def _user(item: Any) -> Any:
    if not (isinstance(item, dict) and isinstance(item.get("UserId"), str) and isinstance(item.get("UserName"), str)):
        return interned(item)
    return {"UserId": sys.intern(item["UserId"]), "UserName": sys.intern(item["UserName"]),
            PACKED_ATTRIBUTES: attributes_json({k: v for k, v in item.items() if k not in USER_IDS})}


def _member(item: Any, shared: dict[str, Any]) -> Any:
    member = item.get("MemberId") if isinstance(item, dict) else None
    user_id = member.get("UserId") if isinstance(member, dict) and len(member) == 1 else None
    if not isinstance(user_id, str):
        return interned({k: v for k, v in item.items() if k not in _MEMBERSHIP_UNUSED}) if isinstance(
            item, dict) else item
    found = shared.get(user_id)
    if found is None:
        found = shared[user_id] = {"MemberId": {"UserId": sys.intern(user_id)}}
    return found


def interned(value: Any) -> Any:
    """`value` with every short string in it (keys too) interned; containers copied."""
    if isinstance(value, str):
        return sys.intern(value) if len(value) <= _LONGEST_INTERNED else value
    if isinstance(value, dict):
        return {interned(k): interned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interned(v) for v in value]
    return value


def canonical_text(data: Any, default: Any = None) -> str:
    """Sorted keys, no insignificant whitespace: the same data always gives the same text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default)


def attributes_json(attributes: dict[str, Any]) -> str:
    """A user's attributes as the canonical JSON text `User` holds (`canonical_json`, as text)."""
    return canonical_text(attributes, default=_timestamp)


def _timestamp(value: Any) -> str:
    """A timestamp attribute (the identity store's CreatedAt, as botocore parses it) as ISO text."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

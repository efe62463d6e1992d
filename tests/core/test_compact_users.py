"""Users are held small: their attributes as one text, listed users compacted as they stream in."""

from __future__ import annotations

import copy
import pickle
import weakref
from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from awsideman.core.backup_format import pack_snapshot, unpack_snapshot
from awsideman.core.compact import PACKED_ATTRIBUTES, compact
from awsideman.core.model import Snapshot, User, canonical_json
from awsideman.services.snapshot_builder import build_snapshot

ATTRIBUTES: dict[str, Any] = {
    "DisplayName": "Ada Lovelace", "Name": {"GivenName": "Ada", "FamilyName": "Lovelace"},
    "Emails": [{"Value": "ada@example.com", "Type": "work", "Primary": True}], "Title": "Countess",
}


class Raw(dict):  # type: ignore[type-arg]
    """A boto3-like record that can be watched for being freed (a plain dict takes no weakref)."""


def listed(count: int) -> dict[str, Any]:
    return Raw(UserId=f"u-{count}", UserName=f"user{count}", IdentityStoreId="d-1", **copy.deepcopy(ATTRIBUTES))


def test_a_user_holds_its_attributes_as_one_text_and_reads_back_a_fresh_dict() -> None:
    user = User("ada", "u-1", ATTRIBUTES)
    assert not hasattr(user, "__dict__")
    assert [type(getattr(user, slot)) for slot in User.__slots__] == [str, str, str]
    assert user.attributes_json == canonical_json(ATTRIBUTES).decode()
    assert user.attributes == ATTRIBUTES
    user.attributes["Title"] = "changed"  # a copy: the user is immutable like every record
    assert user.attributes["Title"] == "Countess"
    with pytest.raises(FrozenInstanceError):
        user.user_name = "other"  # type: ignore[misc]
    assert user == User("ada", "u-1", dict(reversed(list(ATTRIBUTES.items()))))
    assert user != User("ada", "u-2", ATTRIBUTES)
    assert copy.deepcopy(user) == user == pickle.loads(pickle.dumps(user))
    assert user.to_dict() == {"user_name": "ada", "user_id": "u-1", "attributes": ATTRIBUTES}


def test_a_loaded_user_holds_no_nested_dicts() -> None:
    snapshot = Snapshot(users=[User("ada", "u-1", ATTRIBUTES), User("bob", "u-2", {})])
    loaded = unpack_snapshot(pack_snapshot(snapshot), 1 << 20)
    assert loaded.users == snapshot.users
    for user in loaded.users:
        assert all(isinstance(getattr(user, slot), str) for slot in User.__slots__)


def test_listed_users_are_compacted_as_they_stream_in() -> None:
    alive: list[weakref.ref[Raw]] = []

    def pages() -> Iterator[dict[str, Any]]:
        for count in range(5):
            # Every record yielded before the last one is freed by now: only compact forms are kept.
            assert all(ref() is None for ref in alive[:-1])
            item = listed(count)
            alive.append(weakref.ref(item))
            yield item
            del item

    users = compact("users", pages())
    assert [sorted(u) for u in users] == [["UserId", "UserName", PACKED_ATTRIBUTES]] * 5
    steps: dict[str, Any] = {"users": users}
    snapshot, _ = build_snapshot(steps, {"users"})
    assert steps["users"] == []  # emptied as the users were made: never held twice
    assert [u.user_name for u in snapshot.users] == [f"user{n}" for n in range(5)]
    assert all(u.attributes == ATTRIBUTES for u in snapshot.users)
    # A raw (older checkpoint) record still makes the same user.
    raw, _ = build_snapshot({"users": [dict(listed(0))]}, {"users"})
    assert raw.users[0] == snapshot.users[0]

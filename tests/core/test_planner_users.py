"""Planner, users: create/update/delete detection on every attribute, hints, delete notes."""

from __future__ import annotations

from awsideman.core.planner import make_plan
from tests.core.snapshots import snapshot, user

SCOPE = {"resources": ["users"]}


def test_missing_user_is_created_with_every_attribute_and_no_ids():
    desired = snapshot([user("alice", Title="Engineer", Emails=[{"Value": "a@x", "Primary": True}])])
    [change] = make_plan(desired, snapshot(), **SCOPE).changes
    assert (change.address, change.action, change.before) == ("user:alice", "create", None)
    assert change.after == {"user_name": "alice", "attributes": {
        "DisplayName": "Alice", "Title": "Engineer", "Emails": [{"Value": "a@x", "Primary": True}]}}
    assert change.hints == {} and "u-" not in str(change.to_dict())


def test_changed_attributes_become_one_update_with_the_live_state_as_before():
    live = user("alice", Title="Manager", NickName="Al")
    desired = snapshot([user("alice", Title="Engineer", Locale="de-DE")])
    [change] = make_plan(desired, snapshot([live]), **SCOPE).changes
    assert change.action == "update"
    assert change.diff == {"Locale": {"before": None, "after": "de-DE"}, "NickName": {"before": "Al", "after": None},
                           "Title": {"before": "Manager", "after": "Engineer"}}
    assert change.before["attributes"]["Title"] == "Manager"
    assert change.hints == {"user_id": live.user_id}


def test_equal_users_plan_nothing_whatever_their_ids_and_read_only_attributes():
    desired = snapshot([user("alice", Title="Engineer", ExternalIds=[{"Id": "1"}], UserStatus="ENABLED")])
    live = snapshot([user("alice", Title="Engineer", UserStatus="DISABLED")])
    assert make_plan(desired, live, **SCOPE).is_empty


def test_extra_users_are_deleted_only_with_prune():
    live = snapshot([user("alice"), user("mallory", ExternalIds=[{"Issuer": "idp", "Id": "m"}])])
    desired = snapshot([user("alice")])
    assert make_plan(desired, live, **SCOPE).is_empty
    [change] = make_plan(desired, live, prune=True, **SCOPE).changes
    assert (change.address, change.action, change.after) == ("user:mallory", "delete", None)
    assert change.before["user_name"] == "mallory"
    assert "ExternalIds" in change.notes[0]  # the inverse cannot give the IdP link back

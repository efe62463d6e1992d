"""Planner, memberships: by (group, user) names, after both ends exist; scope follows the collector."""

from __future__ import annotations

from awsideman.core.planner import make_plan
from tests.core.snapshots import group, snapshot, user


def test_membership_waits_for_the_user_and_group_it_names():
    desired = snapshot([user("alice")], [group("Admins")], [("Admins", "alice")])
    plan = make_plan(desired, snapshot())
    membership = plan.changes[-1]
    assert membership.address == "membership:Admins/alice"
    assert membership.after == {"group_name": "Admins", "user_name": "alice"}
    assert membership.depends_on == ("group:Admins", "user:alice")


def test_membership_of_existing_principals_depends_on_nothing_and_hints_their_ids():
    alice, admins = user("alice"), group("Admins")
    desired = snapshot([user("alice")], [group("Admins")], [("Admins", "alice")])
    [change] = make_plan(desired, snapshot([alice], [admins])).changes
    assert change.depends_on == ()
    assert change.hints == {"group_id": admins.group_id, "user_id": alice.user_id}


def test_extra_memberships_are_pruned():
    live = snapshot([user("alice"), user("bob")], [group("Admins")], [("Admins", "alice"), ("Admins", "bob")])
    desired = snapshot([user("alice"), user("bob")], [group("Admins")], [("Admins", "alice")])
    assert make_plan(desired, live).is_empty
    [change] = make_plan(desired, live, prune=True).changes
    assert (change.address, change.action) == ("membership:Admins/bob", "delete")


def test_memberships_are_in_scope_only_with_both_users_and_groups():
    desired = snapshot([user("alice")], [group("Admins")], [("Admins", "alice")])
    live = snapshot([user("alice")], [group("Admins")])
    assert make_plan(desired, live, resources=["groups"]).is_empty
    assert make_plan(desired, live, resources=["users"]).is_empty
    assert len(make_plan(desired, live, resources=["users", "groups"]).changes) == 1

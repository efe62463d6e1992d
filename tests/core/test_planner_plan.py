"""make_plan and Plan: conflict modes, scope, prune order and cascades, partial backups, the artefact."""

from __future__ import annotations

import json

import pytest

from awsideman.core.exceptions import UsageError
from awsideman.core.planner import Plan, Untouchable, make_plan
from tests.core.simulate import SimulatedInstance
from tests.core.snapshots import POLICY, group, permission_set, snapshot, user

ACCOUNT = "111122223333"


def drifted_pair():
    """Backup: alice in Admins with Admin on ACCOUNT. Live: alice's title and the permission set
    changed, plus mallory (in Admins, assigned) and an Extra group."""
    desired = snapshot([user("alice", Title="Engineer")], [group("Admins", "admins")], [("Admins", "alice")],
                       [permission_set("Admin", inline_policy=POLICY)], [(ACCOUNT, "Admin", "GROUP", "Admins")])
    live = snapshot([user("alice", Title="Manager"), user("mallory")], [group("Admins", "admins"), group("Extra")],
                    [("Admins", "alice"), ("Admins", "mallory")], [permission_set("Admin")],
                    [(ACCOUNT, "Admin", "GROUP", "Admins"), (ACCOUNT, "Admin", "USER", "mallory")])
    return desired, live


def test_overwrite_updates_differing_resources_and_provisions():
    plan = make_plan(*drifted_pair())
    assert plan.summary() == {"permission_set": {"update": 1}, "provision": {"provision": 1}, "user": {"update": 1}}
    assert plan.skipped == [] and plan.conflicts == []


def test_skip_leaves_differences_alone_and_lists_them_with_their_diff():
    plan = make_plan(*drifted_pair(), conflict="skip")
    assert plan.is_empty
    assert [(c.address, list(c.diff)) for c in plan.skipped] == [
        ("user:alice", ["Title"]), ("permission_set:Admin", ["inline_policy"])]


def test_fail_lists_conflicts_and_keeps_them_out_of_the_changes():
    desired, live = drifted_pair()
    desired.users.append(user("zed"))
    plan = make_plan(desired, live, conflict="fail")
    assert [c.address for c in plan.conflicts] == ["user:alice", "permission_set:Admin"]
    assert [(c.address, c.action) for c in plan.changes] == [("user:zed", "create")]  # creates are no conflict


def test_prune_deletes_in_reverse_dependency_order_with_explicit_cascades():
    plan = make_plan(*drifted_pair(), prune=True, conflict="skip")
    assert [(c.address, c.action) for c in plan.changes] == [
        (f"assignment:{ACCOUNT}/Admin/USER/mallory", "delete"), ("membership:Admins/mallory", "delete"),
        ("group:Extra", "delete"), ("user:mallory", "delete")]
    assert plan.changes[-1].depends_on == (f"assignment:{ACCOUNT}/Admin/USER/mallory", "membership:Admins/mallory")


def test_a_pruned_user_takes_its_memberships_and_assignments_explicitly_even_out_of_scope():
    desired, live = drifted_pair()
    plan = make_plan(desired, live, prune=True, resources=["users"], conflict="skip")
    assert [(c.resource, c.action) for c in plan.changes] == [
        ("assignment", "delete"), ("membership", "delete"), ("user", "delete")]
    instance = SimulatedInstance(live).apply_all(plan.changes)  # strict: no implicit cascade
    assert "mallory" not in {u.user_name for u in instance.snapshot().users}


def test_scope_limits_every_kind_including_prune():
    desired, live = drifted_pair()
    plan = make_plan(desired, live, prune=True, resources=["groups"])
    assert [(c.address, c.action) for c in plan.changes] == [("group:Extra", "delete")]
    plan = make_plan(desired, live, prune=True, resources=["permission-sets"])
    assert plan.summary() == {"permission_set": {"update": 1}, "provision": {"provision": 1}}
    assert plan.options == {"conflict": "overwrite", "prune": True, "resources": ["permission-sets"]}


def test_untouchable_resources_are_held_back_and_listed():
    desired, live = drifted_pair()
    rules = [Untouchable("user", {"user_name": "mallory"}, "users list denied"),
             Untouchable("permission_set", {}, "permission sets unreadable")]
    plan = make_plan(desired, live, prune=True, untouchable=rules)
    addresses = {c.address for c in plan.changes}
    assert "user:mallory" not in addresses and "permission_set:Admin" not in addresses
    assert not any(c.resource == "provision" for c in plan.changes)
    assert [(n.what, n.reason, n.addresses) for n in plan.not_touched] == [
        ("user user_name=mallory", "users list denied", ("user:mallory",)),
        ("every permission_set", "permission sets unreadable", ("permission_set:Admin",))]
    # mallory's own membership and assignment are extras in scope: pruned on their own account
    assert "membership:Admins/mallory" in addresses


def test_a_delete_whose_cascade_must_not_be_touched_is_held_back_itself():
    desired, live = drifted_pair()
    rules = [Untouchable("membership", {"group_name": "Admins"}, "memberships unreadable")]
    plan = make_plan(desired, live, prune=True, resources=["users"], untouchable=rules, conflict="skip")
    assert plan.is_empty
    assert plan.not_touched[0].addresses == ("user:mallory",)


def test_restoring_twice_plans_nothing_the_second_time():
    desired, live = drifted_pair()
    plan = make_plan(desired, live, prune=True)
    after = SimulatedInstance(live).apply_all(plan.changes).snapshot()
    assert make_plan(desired, after, prune=True).is_empty


def test_restore_into_an_empty_instance_creates_everything_in_dependency_order():
    desired, _ = drifted_pair()
    plan = make_plan(desired, snapshot(), source={"instance_arn": "arn:a"}, target={"instance_arn": "arn:b"})
    assert [c.action for c in plan.changes] == ["create"] * 5
    assert plan.changes[-1].depends_on == ("group:Admins", "permission_set:Admin")
    assert plan.to_dict()["source"] == {"instance_arn": "arn:a"} and plan.target == {"instance_arn": "arn:b"}


def test_plan_to_dict_is_json_and_round_trips():
    desired, live = drifted_pair()
    plan = make_plan(desired, live, prune=True, conflict="skip", untouchable=[Untouchable("group")])
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["summary"] == plan.summary()
    assert set(data) == {"source", "target", "options", "summary", "changes", "skipped", "conflicts", "not_touched"}
    again = Plan.from_dict(data)
    assert again.to_dict() == plan.to_dict()


@pytest.mark.parametrize("options", [{"conflict": "merge"}, {"resources": ["users", "widgets"]}])
def test_bad_options_are_usage_errors(options):
    with pytest.raises(UsageError):
        make_plan(snapshot(), snapshot(), **options)

"""Planner, permission sets: every attribute, and provisioning of accounts that already have them."""

from __future__ import annotations

import pytest

from awsideman.core.attributes import PROVISIONED_ATTRIBUTES
from awsideman.core.planner import make_plan
from tests.core.simulate import SimulatedInstance
from tests.core.snapshots import MANAGED, POLICY, POLICY_OTHER, POLICY_REFORMATTED, permission_set, snapshot, user

A1, A2, A3 = "111111111111", "222222222222", "333333333333"
CHANGED = {
    "description": "new", "session_duration": "PT8H", "relay_state": "https://console.aws.amazon.com/ec2/home",
    "inline_policy": POLICY_OTHER, "managed_policies": MANAGED[1:], "customer_managed_policies": [{"Name": "X"}],
    "permissions_boundary": {"ManagedPolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, "tags": {"team": "z"},
}


def pair(desired_fields=None, live_fields=None, live_assigned=((A1, "alice"), (A2, "alice"))):
    base = {"inline_policy": POLICY, "managed_policies": MANAGED[:1], "tags": {"team": "a"}}
    desired = snapshot([user("alice")], sets=[permission_set("Admin", **{**base, **(desired_fields or {})})])
    live = snapshot([user("alice")], sets=[permission_set("Admin", **{**base, **(live_fields or {})})],
                    assigned=[(acct, "Admin", "USER", name) for acct, name in live_assigned])
    return desired, live


@pytest.mark.parametrize("field", sorted(CHANGED))
def test_every_attribute_is_restored_and_provisioned_where_it_reaches_accounts(field):
    desired, live = pair(live_fields={field: CHANGED[field]})
    plan = make_plan(desired, live, resources=["permission-sets"])
    update = plan.changes[0]
    assert (update.address, update.action, list(update.diff)) == ("permission_set:Admin", "update", [field])
    provisions = [c.address for c in plan.changes if c.action == "provision"]
    expected = [f"provision:Admin/{A1}", f"provision:Admin/{A2}"] if field in PROVISIONED_ATTRIBUTES else []
    assert provisions == expected
    assert all(c.depends_on == ("permission_set:Admin",) for c in plan.changes[1:])


def test_tags_alone_do_not_provision_but_policies_do():
    assert "tags" not in PROVISIONED_ATTRIBUTES
    assert {"inline_policy", "managed_policies", "customer_managed_policies", "permissions_boundary",
            "session_duration", "relay_state"} <= set(PROVISIONED_ATTRIBUTES)


def test_a_reformatted_inline_policy_is_not_a_change():
    desired, live = pair(live_fields={"inline_policy": POLICY_REFORMATTED})
    assert make_plan(desired, live).is_empty


def test_explicit_provisioned_accounts_win_over_assignments():
    desired, live = pair(live_fields={"inline_policy": None})
    plan = make_plan(desired, live, provisioned={"Admin": {A3}})
    assert [c.address for c in plan.changes if c.action == "provision"] == [f"provision:Admin/{A3}"]


def test_an_account_whose_last_assignment_is_pruned_is_not_provisioned():
    desired, live = pair(live_fields={"inline_policy": None})
    desired.assignments = []  # prune removes both accounts' only assignment
    plan = make_plan(desired, live, prune=True)
    assert not [c for c in plan.changes if c.action == "provision"]


def test_new_assignments_on_a_provisioned_account_wait_for_its_provision():
    desired, live = pair(live_fields={"inline_policy": None}, live_assigned=[(A1, "alice")])
    desired = snapshot([user("alice"), user("bob")], sets=desired.permission_sets,
                       assigned=[(A1, "Admin", "USER", "alice"), (A1, "Admin", "USER", "bob"),
                                 (A2, "Admin", "USER", "bob")])
    plan = make_plan(desired, live)
    by_address = {c.address: c for c in plan.changes}
    assert f"provision:Admin/{A2}" not in by_address  # a first assignment provisions A2 itself
    assert f"provision:Admin/{A1}" in by_address["assignment:111111111111/Admin/USER/bob"].depends_on
    instance = SimulatedInstance(live).apply_all(plan.changes)
    assert instance.stale() == []


def test_created_and_deleted_permission_sets_are_not_provisioned():
    desired = snapshot(sets=[permission_set("New")])
    live = snapshot([user("a")], sets=[permission_set("Old")], assigned=[(A1, "Old", "USER", "a")])
    plan = make_plan(desired, live, prune=True)
    assert [(c.address, c.action) for c in plan.changes] == [
        ("permission_set:New", "create"), (f"assignment:{A1}/Old/USER/a", "delete"),
        ("permission_set:Old", "delete"), ("user:a", "delete")]
    old = plan.changes[2]
    assert old.depends_on == (f"assignment:{A1}/Old/USER/a",)
    assert old.before["name"] == "Old" and old.hints["permission_set_arn"].startswith("arn:ps/Old")

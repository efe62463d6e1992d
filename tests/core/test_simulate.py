"""The simulator refuses what the service would refuse and tracks provisioned copies."""

from __future__ import annotations

from dataclasses import replace

import pytest

from awsideman.core.attributes import comparable_snapshot, permission_set_record
from awsideman.core.changes import Change
from awsideman.core.planner import make_plan
from tests.core.simulate import SimulatedInstance, SimulationError, simulate
from tests.core.snapshots import MANAGED, POLICY, group, permission_set, snapshot, user

MEMBER = Change("membership", "create", ("Admins", "alice"), after={"group_name": "Admins", "user_name": "alice"})
ALICE = Change("user", "create", ("alice",), after={"user_name": "alice", "attributes": {}})


def test_a_membership_before_its_user_exists_is_an_error():
    with pytest.raises(SimulationError, match="user alice does not exist"):
        simulate(snapshot(groups=[group("Admins")]), [MEMBER])
    result = simulate(snapshot(groups=[group("Admins")]), [ALICE, MEMBER])
    assert result.memberships[0].user_id.startswith("sim-user-")  # a new id, resolved by name


def test_changes_out_of_dependency_order_are_refused():
    member = Change.from_dict(dict(MEMBER.to_dict(), depends_on=["user:alice"]))
    with pytest.raises(SimulationError, match="before user:alice"):
        SimulatedInstance(snapshot([user("alice")], [group("Admins")])).apply_all([member, ALICE.inverse()])


def test_creates_of_existing_and_deletes_of_missing_resources_are_errors():
    with pytest.raises(SimulationError, match="already exists"):
        simulate(snapshot([user("alice")]), [ALICE])
    with pytest.raises(SimulationError, match="does not exist"):
        simulate(snapshot(), [ALICE.inverse()])


def test_an_update_whose_before_is_not_the_live_state_is_refused():
    change = Change("group", "update", ("G",), before={"display_name": "G", "description": "a"},
                    after={"display_name": "G", "description": "b"},
                    diff={"description": {"before": "a", "after": "b"}})
    assert simulate(snapshot(groups=[group("G", "a")]), [change]).groups[0].description == "b"
    with pytest.raises(SimulationError, match="recorded 'a'"):
        simulate(snapshot(groups=[group("G", "z")]), [change])


def test_strict_mode_refuses_deletes_that_take_other_resources_along():
    live = snapshot([user("alice")], [group("Admins")], [("Admins", "alice")])
    delete = Change("user", "delete", ("alice",), before={"user_name": "alice", "attributes": {}})
    with pytest.raises(SimulationError, match="would also delete 1"):
        simulate(live, [delete])
    assert simulate(live, [delete], strict=False).memberships == []  # as AWS does


def test_provisioned_copies_follow_assignments_and_provisioning():
    live = snapshot([user("a")], sets=[permission_set("Admin", description="v1")],
                    assigned=[("1", "Admin", "USER", "a")])
    instance = SimulatedInstance(live)
    assert instance.provisioned() == {"Admin": {"1"}}
    update = Change("permission_set", "update", ("Admin",), before={"description": "v1"}, after={"description": "v2"},
                    diff={"description": {"before": "v1", "after": "v2"}})
    instance.apply(update)
    assert instance.stale() == [("Admin", "1")]
    instance.apply(Change("provision", "provision", ("Admin", "1"), before={}, after={}))
    assert instance.stale() == []
    instance.apply(Change("assignment", "delete", ("1", "Admin", "USER", "a"), before={}))
    assert instance.provisioned() == {}  # the last assignment's delete deprovisions


def test_a_partly_applied_update_is_compensated_against_what_landed():
    live = snapshot(sets=[permission_set("Admin", description="a", managed_policies=MANAGED[:1])])
    desired = snapshot(sets=[permission_set("Admin", description="b", inline_policy=POLICY,
                                            managed_policies=MANAGED[1:])])
    [update] = make_plan(desired, live).changes
    instance = SimulatedInstance(live)
    instance.apply(replace(update, diff={"description": update.diff["description"]}))  # then it failed
    landed = permission_set_record(instance.snapshot().permission_sets[0])
    compensation = update.inverse().with_before(landed)
    assert list(compensation.diff) == ["description"]
    instance.apply(compensation)
    assert comparable_snapshot(instance.snapshot()) == comparable_snapshot(live)

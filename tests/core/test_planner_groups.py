"""Planner, groups: the display name is the key, the description is compared."""

from __future__ import annotations

from awsideman.core.planner import make_plan
from tests.core.snapshots import group, snapshot

SCOPE = {"resources": ["groups"]}


def test_groups_are_created_updated_and_pruned_by_display_name():
    desired = snapshot(groups=[group("Admins", "admins"), group("Devs", "devs"), group("Same", "s")])
    live_admins = group("Admins", "changed")
    live = snapshot(groups=[live_admins, group("Old"), group("Same", "s")])
    plan = make_plan(desired, live, prune=True, **SCOPE)
    assert [(c.address, c.action) for c in plan.changes] == [
        ("group:Devs", "create"), ("group:Admins", "update"), ("group:Old", "delete")]
    update = plan.changes[1]
    assert update.diff == {"description": {"before": "changed", "after": "admins"}}
    assert update.hints == {"group_id": live_admins.group_id}
    assert plan.changes[0].after == {"display_name": "Devs", "description": "devs"}


def test_a_removed_description_is_an_update_to_none():
    [change] = make_plan(snapshot(groups=[group("G")]), snapshot(groups=[group("G", "x")]), **SCOPE).changes
    assert change.diff == {"description": {"before": "x", "after": None}}

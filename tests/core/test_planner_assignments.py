"""Planner, assignments: natural keys, dependencies, pruning, unresolvable principals."""

from __future__ import annotations

from typing import Any

import pytest

from awsideman.core.changes import Change
from awsideman.core.exceptions import IrreversibleChangeError
from awsideman.core.model import OrphanAssignment
from awsideman.core.planner import make_plan
from tests.core.snapshots import group, permission_set, snapshot, user

ACCOUNT = "111122223333"


def test_new_assignment_waits_for_its_principal_and_permission_set_and_needs_no_provision():
    desired = snapshot([user("alice")], [group("Admins")], sets=[permission_set("Admin")],
                       assigned=[(ACCOUNT, "Admin", "GROUP", "Admins")])
    plan = make_plan(desired, snapshot([user("alice")]))
    change = plan.changes[-1]
    assert change.address == f"assignment:{ACCOUNT}/Admin/GROUP/Admins"
    assert change.after == {"account_id": ACCOUNT, "permission_set_name": "Admin", "principal_type": "GROUP",
                            "principal_name": "Admins"}
    assert change.depends_on == ("group:Admins", "permission_set:Admin")
    assert change.is_async
    assert "provision" not in plan.summary()


def test_assignment_to_existing_resources_hints_the_target_ids():
    admin, alice = permission_set("Admin"), user("alice")
    desired = snapshot([user("alice")], sets=[permission_set("Admin")], assigned=[(ACCOUNT, "Admin", "USER", "alice")])
    [change] = make_plan(desired, snapshot([alice], sets=[admin])).changes
    assert change.hints == {"permission_set_arn": admin.arn, "principal_id": alice.user_id}
    assert change.depends_on == ()


def test_extra_assignments_are_pruned_in_scope():
    live = snapshot([user("bob")], sets=[permission_set("Admin")], assigned=[(ACCOUNT, "Admin", "USER", "bob")])
    desired = snapshot([user("bob")], sets=[permission_set("Admin")])
    assert make_plan(desired, live).is_empty
    assert make_plan(desired, live, prune=True, resources=["users", "permission-sets"]).is_empty
    [change] = make_plan(desired, live, prune=True).changes
    assert (change.action, change.before["principal_name"]) == ("delete", "bob")


def test_assignment_naming_a_principal_the_target_will_not_have_is_not_touched():
    desired = snapshot([user("alice")], sets=[permission_set("Admin")], assigned=[(ACCOUNT, "Admin", "USER", "alice")])
    live = snapshot(sets=[permission_set("Admin")])
    plan = make_plan(desired, live, resources=["assignments"])
    assert plan.is_empty
    [held] = plan.not_touched
    assert held.addresses == (f"assignment:{ACCOUNT}/Admin/USER/alice",)
    assert "user alice will not exist" in held.reason


def _orphan(ps: Any, principal_id: str = "dead-user-id") -> OrphanAssignment:
    return OrphanAssignment(ACCOUNT, ps.name, "USER", principal_id, ps.arn)


def test_orphan_assignments_of_the_backup_are_never_created_and_the_plan_says_so():
    admin = permission_set("Admin")
    desired = snapshot(sets=[admin])
    desired.orphan_assignments.append(_orphan(admin))
    plan = make_plan(desired, snapshot(sets=[admin]), prune=True)
    assert plan.is_empty
    [note] = plan.not_touched
    assert note.what == "1 orphan assignment(s) in the backup"
    assert note.addresses == (f"assignment:{ACCOUNT}/Admin/USER/dead-user-id",)


def test_orphan_assignments_of_the_target_are_left_alone_without_prune_and_deleted_irreversibly_with_it():
    admin = permission_set("Admin")
    live = snapshot(sets=[admin])
    live.orphan_assignments.append(_orphan(admin))
    kept = make_plan(snapshot(sets=[admin]), live)
    assert kept.is_empty and "--prune deletes them" in kept.not_touched[0].reason
    [change] = make_plan(snapshot(sets=[admin]), live, prune=True).changes
    assert (change.action, change.address) == ("delete", f"assignment:{ACCOUNT}/Admin/USER/dead-user-id")
    assert change.orphan and not change.reversible
    assert change.hints == {"permission_set_arn": admin.arn, "principal_id": "dead-user-id"}
    with pytest.raises(IrreversibleChangeError, match="no longer exists"):
        change.inverse()
    assert Change.from_dict(change.to_dict()).orphan  # the journal's copy keeps the marker


def test_a_pruned_permission_set_waits_for_the_deletes_of_its_orphan_assignments():
    admin = permission_set("Admin")
    live = snapshot(sets=[admin])
    live.orphan_assignments.append(_orphan(admin))
    changes = make_plan(snapshot(), live, prune=True, resources=["permission-sets", "assignments"]).changes
    assert [c.address for c in changes] == [f"assignment:{ACCOUNT}/Admin/USER/dead-user-id", "permission_set:Admin"]
    assert changes[1].depends_on == (changes[0].address,)

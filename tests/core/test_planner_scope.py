"""Scope and partial backups: the manifest's missing steps become rules the planner obeys."""

from __future__ import annotations

from awsideman.core.planner import Untouchable, make_plan, resources_in_scope, untouchables_from_missing
from tests.core.snapshots import group, permission_set, snapshot, user


def test_memberships_need_users_and_groups_in_scope():
    assert resources_in_scope(["users", "groups"]) == {"user", "group", "membership"}
    assert resources_in_scope(["groups", "assignments"]) == {"group", "assignment"}


def missing(resource, *steps, code="AccessDeniedException"):
    return {"resource": resource, "code": code, "steps": list(steps)}


def test_missing_steps_translate_to_natural_keys_through_the_backup():
    admins, alice, ps = group("Admins"), user("alice"), permission_set("Admin")
    backup = snapshot([alice], [admins], sets=[ps])
    rules = untouchables_from_missing([
        missing("memberships", f"memberships:{admins.group_id}", "memberships:g-unknown"),
        missing("permission-sets", "permission_set:arn:aws:sso:::permissionSet/ssoins-1/ps-9"),
        missing("assignments", f"assignments:{ps.arn}:111122223333", f"provisioned_accounts:{ps.arn}",
                f"assignments:principal:USER:{alice.user_id}", "assignments:principal:GROUP:g-x"),
    ], backup)
    reason = "not in the backup: AccessDeniedException"
    assert [(r.resource, r.match) for r in rules] == [
        ("membership", {"group_name": "Admins"}), ("membership", {"group_id": "g-unknown"}),
        ("permission_set", {"arn": "arn:aws:sso:::permissionSet/ssoins-1/ps-9"}),
        ("assignment", {"permission_set_arn": "arn:aws:sso:::permissionSet/ssoins-1/ps-9"}),
        ("assignment", {"permission_set_name": "Admin", "account_id": "111122223333"}),
        ("assignment", {"permission_set_name": "Admin"}),
        ("assignment", {"principal_type": "USER", "principal_name": "alice"}),
        ("assignment", {"principal_type": "GROUP", "principal_id": "g-x"}),
    ]
    assert all(r.reason.startswith(reason) for r in rules)


def test_an_unreadable_user_list_protects_users_their_memberships_and_assignments():
    rules = untouchables_from_missing([missing("users", "users")], snapshot())
    assert rules == [Untouchable("user", {}, rules[0].reason), Untouchable("membership", {}, rules[0].reason),
                     Untouchable("assignment", {"principal_type": "USER"}, rules[0].reason)]
    live = snapshot([user("alice")], [group("G")], [("G", "alice")], [permission_set("P")],
                    [("1", "P", "USER", "alice"), ("1", "P", "GROUP", "G")])
    # the backup holds no users (unreadable): prune must not read that as "delete them all"
    backup = snapshot(groups=[group("G")], sets=[permission_set("P")], assigned=[])
    plan = make_plan(backup, live, prune=True, untouchable=rules)
    assert [c.address for c in plan.changes] == ["assignment:1/P/GROUP/G"]
    assert plan.not_touched[0].addresses == ("user:alice",)


def test_an_unknown_step_holds_back_its_whole_kind():
    assert untouchables_from_missing([missing("groups", "groups:v2")], snapshot())[0].match == {}
    assert {r.resource for r in untouchables_from_missing([missing("widgets", "w")], snapshot())} == {
        "user", "group", "membership", "permission_set", "assignment"}

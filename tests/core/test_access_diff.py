"""Access gained and lost between two snapshots, with the reasons."""

from __future__ import annotations

from awsideman.core.access import AccessIndex
from awsideman.core.access_diff import counts, diff_access
from tests.core.snapshots import POLICY, POLICY_REFORMATTED, group, permission_set, snapshot, user

PROD, DEV = "111111111111", "222222222222"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
USERS = [user("alice"), user("bob"), user("carol")]
GROUPS = [group("Admins"), group("Ops")]
MEMBERS = [("Admins", "alice"), ("Ops", "alice"), ("Ops", "bob")]
ASSIGNED = [(PROD, "Admin", "GROUP", "Admins"), (PROD, "Admin", "GROUP", "Ops"), (DEV, "ReadOnly", "USER", "carol")]


def _sets(**admin: object) -> list:
    return [permission_set("Admin", **admin), permission_set("ReadOnly", inline_policy=POLICY)]


def _index(members=MEMBERS, assigned=ASSIGNED, sets=None, users=USERS, groups=GROUPS, names=None) -> AccessIndex:
    return AccessIndex(snapshot(users=users, groups=groups, members=members, sets=sets or _sets(),
                                assigned=assigned), names or {})


def _summary(changes) -> list[tuple]:
    return [(c.user_name, c.account_id, c.permission_set_name, c.change, [r.kind for r in c.reasons])
            for c in changes]


def test_the_same_point_has_no_change():
    assert diff_access(_index(), _index()) == []


def test_a_removed_membership_is_lost_access_with_the_reason():
    after = _index(members=[m for m in MEMBERS if m != ("Ops", "bob")])
    changes = diff_access(_index(), after)
    assert _summary(changes) == [("bob", PROD, "Admin", "lost", ["membership_removed"])]
    assert changes[0].reasons[0].text == "bob removed from group Ops"
    assert (changes[0].paths_before, changes[0].paths_after) == (("group:Ops",), ())
    assert counts(changes) == {"gained": 0, "lost": 1, "changed": 0, "rerouted": 0, "users": 1}
    assert _summary(diff_access(after, _index())) == [("bob", PROD, "Admin", "gained", ["membership_added"])]


def test_access_kept_through_another_group_is_rerouted_not_lost():
    changes = diff_access(_index(), _index(members=[m for m in MEMBERS if m != ("Ops", "alice")]))
    assert _summary(changes) == [("alice", PROD, "Admin", "rerouted", ["membership_removed"])]
    assert changes[0].paths_after == ("group:Admins",)


def test_assignments_users_and_groups_added_or_removed_are_named():
    assigned = [a for a in ASSIGNED if a[3] != "carol"] + [(DEV, "ReadOnly", "GROUP", "Ops")]
    changes = diff_access(_index(), _index(assigned=assigned, users=USERS[:2]))
    assert _summary(changes) == [
        ("alice", DEV, "ReadOnly", "gained", ["assignment_added"]),
        ("bob", DEV, "ReadOnly", "gained", ["assignment_added"]),
        ("carol", DEV, "ReadOnly", "lost", ["user_removed", "assignment_removed"])]
    assert changes[0].reasons[0].text == f"assignment added: group Ops -> ReadOnly in {DEV}"
    gone = diff_access(_index(), _index(groups=GROUPS[1:], members=MEMBERS[1:], assigned=ASSIGNED[1:]))
    assert _summary(gone) == [("alice", PROD, "Admin", "rerouted",
                               ["group_removed", "membership_removed", "assignment_removed"])]


def test_a_permission_set_policy_change_is_a_changed_access_for_everyone_holding_it():
    changes = diff_access(_index(), _index(sets=_sets(managed_policies=[ADMIN_ARN], session_duration="PT12H")))
    assert [(c.user_name, c.change) for c in changes] == [("alice", "changed"), ("bob", "changed")]
    assert changes[0].reasons[0].text == (f"permission set Admin changed: managed policy +{ADMIN_ARN}; "
                                          "session duration None -> PT12H")
    reformatted = [permission_set("Admin"), permission_set("ReadOnly", inline_policy=POLICY_REFORMATTED)]
    assert diff_access(_index(), _index(sets=reformatted)) == []  # same policy, other whitespace


def test_account_names_come_from_either_side():
    changes = diff_access(_index(), _index(members=MEMBERS[:2], names={PROD: "production"}))
    assert [c.account_name for c in changes] == ["production"]

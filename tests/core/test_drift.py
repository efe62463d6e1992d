"""core/drift: differences by natural key and attribute, security-relevant ones first."""

from __future__ import annotations

from hypothesis import given, settings

from awsideman.core.drift import compare, is_administrative
from awsideman.core.model import RESOURCE_KINDS
from awsideman.core.planner import Untouchable, make_plan, resources_in_scope
from tests.core.snapshots import POLICY, group, permission_set, snapshot, snapshots, user

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
ALL = resources_in_scope(RESOURCE_KINDS)


def _base(**admin_fields):
    users = [user("alice"), user("bob")]
    sets = [permission_set("Admin", managed_policies=[ADMIN]), permission_set("ReadOnly", inline_policy=POLICY)]
    return users, [group("Ops"), group("Devs")], sets


def test_security_relevant_differences_come_first_with_their_reason():
    users, groups, sets = _base()
    before = snapshot(users, groups, [("Devs", "alice")], sets, [("111111111111", "Admin", "GROUP", "Ops")])
    widened = permission_set("ReadOnly", inline_policy=POLICY, session_duration="PT8H",
                             managed_policies=["arn:aws:iam::aws:policy/SecurityAudit"])
    after = snapshot([*users, user("carol")], groups, [("Devs", "alice"), ("Ops", "bob"), ("Devs", "bob")],
                     [sets[0], widened, permission_set("New")],
                     [("111111111111", "Admin", "GROUP", "Ops"), ("222222222222", "Admin", "USER", "bob"),
                      ("222222222222", "ReadOnly", "USER", "bob")])
    found = compare(before, after, ALL)
    flagged = [(d.address, d.security) for d in found if d.security]
    assert [d.security is not None for d in found] == sorted((d.security is not None for d in found), reverse=True)
    assert dict(flagged) == {
        "membership:Ops/bob": "membership added in group Ops, which holds an administrative permission set",
        "permission_set:New": "new permission set",
        "permission_set:ReadOnly": "widened: managed policies attached, longer sessions",
        "assignment:222222222222/Admin/USER/bob": "new assignment of administrative permission set Admin",
    }
    plain = {d.address: d.action for d in found if not d.security}
    assert plain == {"user:carol": "added", "membership:Devs/bob": "added",
                     "assignment:222222222222/ReadOnly/USER/bob": "added"}


def test_narrowing_is_a_change_but_not_a_security_one_and_reformatting_is_nothing():
    users, groups, sets = _base()
    before = snapshot(users, groups, sets=[permission_set("Admin", managed_policies=[ADMIN], inline_policy=POLICY)])
    after = snapshot(users, groups, sets=[permission_set(
        "Admin", inline_policy='{ "Statement": [{"Resource": "*", "Action": "s3:Get*", "Effect": "Allow"}],'
                               ' "Version": "2012-10-17"}')])
    [only] = compare(before, after, ALL)
    assert only.action == "changed" and set(only.attributes) == {"managed_policies"} and only.security is None


def test_inline_star_is_administrative_and_untouchable_rules_hide_what_a_backup_missed():
    star = '{"Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": "*"}]}'
    assert is_administrative({"inline_policy": star}) and not is_administrative({"inline_policy": POLICY})
    before = snapshot([user("alice")])
    after = snapshot([user("alice", Title="Boss"), user("bob")])
    assert {d.address for d in compare(before, after, ALL)} == {"user:alice", "user:bob"}
    hidden = compare(before, after, ALL, [Untouchable("user", {"user_name": "bob"})])
    assert [d.address for d in hidden] == ["user:alice"]


@settings(max_examples=15, deadline=None)
@given(snapshots(), snapshots())
def test_diff_names_exactly_what_a_pruning_restore_plan_would_change(a, b):
    restore = make_plan(a, b, conflict="overwrite", prune=True, resources=list(RESOURCE_KINDS))
    planned = {c.address for c in restore.changes if c.resource != "provision"}
    assert {d.address for d in compare(b, a, ALL)} == planned

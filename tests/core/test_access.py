"""Effective access from a snapshot: expansion through groups, filters, orphans, summaries, flags."""

from __future__ import annotations

import json

from awsideman.core.access import (
    DIRECT,
    GROUP,
    AccessFilter,
    AccessIndex,
    admin_reason,
    summarise,
)
from awsideman.core.model import OrphanAssignment, Snapshot
from tests.core.snapshots import group, permission_set, snapshot, user

PROD, DEV = "111111111111", "222222222222"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
STAR = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def _office() -> Snapshot:
    """alice is in Admins and Ops, both assigned Admin in PROD; bob is in Ops; carol has a direct assignment."""
    return snapshot(
        users=[user("alice"), user("bob"), user("carol")],
        groups=[group("Admins"), group("Ops")],
        members=[("Admins", "alice"), ("Ops", "alice"), ("Ops", "bob")],
        sets=[permission_set("Admin", managed_policies=[ADMIN_ARN], session_duration="PT1H"),
              permission_set("ReadOnly", managed_policies=["arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"],
                             customer_managed_policies=[{"Name": "Team", "Path": "/teams/"}],
                             inline_policy='{"Statement":[]}', permissions_boundary={"ManagedPolicyArn": "x"})],
        assigned=[(PROD, "Admin", "GROUP", "Admins"), (PROD, "Admin", "GROUP", "Ops"),
                  (DEV, "ReadOnly", "USER", "carol"), (DEV, "ReadOnly", "GROUP", "Ops")])


def _paths(rows) -> set[tuple]:
    return {(r.user_name, r.path, r.account_id, r.permission_set.name) for r in rows}


def test_a_user_in_two_groups_assigned_the_same_target_appears_once_per_path():
    rows = list(AccessIndex(_office()).rows())
    alice = [r for r in rows if r.user_name == "alice" and r.account_id == PROD]
    assert sorted(r.path for r in alice) == ["group:Admins", "group:Ops"]
    assert _paths(rows) == {
        ("alice", "group:Admins", PROD, "Admin"), ("alice", "group:Ops", PROD, "Admin"),
        ("bob", "group:Ops", PROD, "Admin"), ("carol", "direct", DEV, "ReadOnly"),
        ("alice", "group:Ops", DEV, "ReadOnly"), ("bob", "group:Ops", DEV, "ReadOnly")}


def test_a_row_carries_its_permission_set_facts_and_account_name():
    rows = list(AccessIndex(_office(), {DEV: "development"}).rows(AccessFilter(user="carol")))
    assert [r.to_dict() for r in rows] == [{
        "user_name": "carol", "via": DIRECT, "group_name": None, "account_id": DEV,
        "account_name": "development", "permission_set_name": "ReadOnly", "session_duration": None,
        "managed_policies": ["ViewOnlyAccess"], "customer_managed_policies": ["/teams/Team"],
        "inline_policy": True, "permissions_boundary": True, "orphan": False, "principal_id": None}]
    assert rows[0].cells()[7:11] == ["ViewOnlyAccess", "/teams/Team", "yes", "yes"]


def test_filters_by_user_group_account_and_permission_set():
    index = AccessIndex(_office())
    assert _paths(index.rows(AccessFilter(user="alice", account_id=PROD))) == {
        ("alice", "group:Admins", PROD, "Admin"), ("alice", "group:Ops", PROD, "Admin")}
    assert {(r.user_name, r.via) for r in index.rows(AccessFilter(group="Ops", permission_set="ReadOnly"))} == {
        ("alice", GROUP), ("bob", GROUP)}
    assert list(index.rows(AccessFilter(user="carol", group="Ops"))) == []
    assert list(index.rows(AccessFilter(account_id="999999999999"))) == []


def test_orphan_assignments_are_rows_without_a_user_and_left_out_by_name_filters():
    base = _office()
    orphan = OrphanAssignment(PROD, "Admin", "USER", "gone-id", "arn:ps")
    data = Snapshot(base.users, base.groups, base.memberships, base.permission_sets, base.assignments, [orphan])
    rows = [r for r in AccessIndex(data).rows() if r.orphan]
    assert [(r.user_name, r.principal_id, r.account_id, r.permission_set.name) for r in rows] == [
        (None, "gone-id", PROD, "Admin")]
    assert not any(r.orphan for r in AccessIndex(data).rows(AccessFilter(user="alice")))
    assert summarise(AccessIndex(data).rows()).orphans == 1


def test_admin_is_the_managed_policy_or_an_inline_star_on_star():
    assert admin_reason(permission_set("A", managed_policies=[ADMIN_ARN])) == f"managed policy {ADMIN_ARN}"
    assert admin_reason(permission_set("B", inline_policy=STAR)) == "inline policy allows * on *"
    listed = json.dumps({"Statement": {"Effect": "Allow", "Action": ["s3:Get*", "*"], "Resource": ["*"]}})
    assert admin_reason(permission_set("C", inline_policy=listed))
    denied = json.dumps({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    narrow = json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}]})
    for policy in (denied, narrow, "not json", "[]"):
        assert admin_reason(permission_set("D", inline_policy=policy)) is None
    assert admin_reason(permission_set("E", managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"])) is None


def test_summary_counts_distinct_users_and_flags_admins_and_crowded_accounts():
    summary = summarise(AccessIndex(_office(), {PROD: "production"}).rows(), max_users=1).to_dict()
    assert summary["rows"] == 6 and summary["users"] == 3
    targets = {(t["account_id"], t["permission_set_name"]): t["users"]
               for t in summary["by_account_and_permission_set"]}
    assert targets == {(PROD, "Admin"): 2, (DEV, "ReadOnly"): 3}  # alice counted once through two groups
    assert {p["permission_set_name"]: p["users"] for p in summary["by_permission_set"]} == {"Admin": 2, "ReadOnly": 3}
    admins = [(a["user_name"], a["account_id"], a["account_name"]) for a in summary["flags"]["administrators"]]
    assert admins == [("alice", PROD, "production"), ("bob", PROD, "production")]
    assert summary["flags"]["crowded_accounts"] == [
        {"account_id": DEV, "account_name": None, "users": 3},
        {"account_id": PROD, "account_name": "production", "users": 2}]
    assert summarise(AccessIndex(_office()).rows()).to_dict()["flags"]["crowded_accounts"] == []


def test_expansion_is_linear_in_rows():
    """2,000 users in one group assigned 50 targets: 100,000 rows, produced without a join."""
    import time

    users = [user(f"u{i:04d}") for i in range(2000)]
    sets = [permission_set(f"PS{i}") for i in range(5)]
    accounts = [f"{100000000000 + i}" for i in range(10)]
    data = snapshot(users=users, groups=[group("All")], members=[("All", u.user_name) for u in users], sets=sets,
                    assigned=[(a, p.name, "GROUP", "All") for a in accounts for p in sets])
    started = time.monotonic()
    assert sum(1 for _ in AccessIndex(data).rows()) == 100_000
    assert time.monotonic() - started < 5

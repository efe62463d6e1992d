"""Dependency rules, the stable topological order, and the order of a rollback."""

from __future__ import annotations

import pytest

from awsideman.core.changes import Change
from awsideman.core.ordering import dependencies, order, rollback_order

PS = {"name": "Admin", "description": None, "session_duration": None, "relay_state": None,
      "inline_policy": "{}", "managed_policies": [], "customer_managed_policies": [],
      "permissions_boundary": None, "tags": {}}
PS_NEW = dict(PS, inline_policy='{"Statement": []}')
UPDATE = Change("permission_set", "update", ("Admin",), before=PS, after=PS_NEW,
                diff={"inline_policy": {"before": "{}", "after": '{"Statement": []}'}})
PROVISION = Change("provision", "provision", ("Admin", "111"), before={"permission_set_name": "Admin",
                   "account_id": "111"}, after={"permission_set_name": "Admin", "account_id": "111"})
ASSIGN = Change("assignment", "create", ("111", "Admin", "USER", "alice"),
                after={"account_id": "111", "permission_set_name": "Admin", "principal_type": "USER",
                       "principal_name": "alice"})
USER = Change("user", "create", ("alice",), after={"user_name": "alice", "attributes": {}})
MEMBER = Change("membership", "create", ("Admins", "alice"), after={"group_name": "Admins", "user_name": "alice"})


def test_creates_wait_for_what_they_name_and_provisions_for_their_permission_set():
    deps = dependencies([UPDATE, PROVISION, ASSIGN, USER, MEMBER])
    assert deps[ASSIGN.address] == ("permission_set:Admin", "provision:Admin/111", "user:alice")
    assert deps[PROVISION.address] == ("permission_set:Admin",)
    assert deps[MEMBER.address] == ("user:alice",)  # the group is not in the list: nothing to wait for
    assert deps[USER.address] == () and deps[UPDATE.address] == ()


def test_deletes_of_principals_wait_for_the_deletes_that_name_them():
    inverses = [c.inverse() for c in (USER, MEMBER, ASSIGN)]
    deps = dependencies(inverses)
    assert deps["user:alice"] == ("assignment:111/Admin/USER/alice", "membership:Admins/alice")


def test_order_is_stable_where_dependencies_allow():
    ordered = order([MEMBER, ASSIGN, PROVISION, USER, UPDATE])
    assert [c.address for c in ordered] == [
        "user:alice", "membership:Admins/alice", "permission_set:Admin", "provision:Admin/111",
        "assignment:111/Admin/USER/alice"]
    assert ordered[1].depends_on == ("user:alice",)


def test_rollback_reverses_but_moves_provisioning_after_the_permission_set_revert():
    applied = order([USER, UPDATE, PROVISION, ASSIGN])
    naive = [c.inverse().address for c in reversed(applied)]
    assert naive.index("provision:Admin/111") < naive.index("permission_set:Admin")  # the trap
    rollback = rollback_order(applied)
    assert [(c.address, c.action) for c in rollback] == [
        ("assignment:111/Admin/USER/alice", "delete"), ("permission_set:Admin", "update"),
        ("provision:Admin/111", "provision"), ("user:alice", "delete")]
    assert rollback[1].after == PS and rollback[2].depends_on == ("permission_set:Admin",)
    assert rollback[3].depends_on == ("assignment:111/Admin/USER/alice",)


def test_rollback_of_nothing_is_nothing_and_duplicates_are_refused():
    assert rollback_order([]) == []
    with pytest.raises(ValueError, match="share an address"):
        order([USER, USER])

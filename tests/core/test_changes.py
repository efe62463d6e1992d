"""Change: addresses, validation, inverses, dict round trips, and what the apply engine reads."""

from __future__ import annotations

import json

import pytest

from awsideman.core.attributes import diff_records
from awsideman.core.changes import Change, address
from awsideman.core.exceptions import IrreversibleChangeError

USER = {"user_name": "alice", "attributes": {"DisplayName": "Alice", "Title": "Engineer"}}
USER_NEW = {"user_name": "alice", "attributes": {"DisplayName": "Alice", "Title": "Manager", "Locale": "de-DE"}}
PS_OLD = {"name": "Admin", "description": None, "session_duration": "PT1H", "relay_state": None,
          "inline_policy": None, "managed_policies": ["arn:a"], "customer_managed_policies": [],
          "permissions_boundary": None, "tags": {"team": "a"}}
PS_NEW = dict(PS_OLD, managed_policies=["arn:b"], tags={"team": "b", "env": "prod"})
ASSIGNMENT = {"account_id": "111122223333", "permission_set_name": "Admin", "principal_type": "GROUP",
              "principal_name": "Admins"}
PROVISION = {"permission_set_name": "Admin", "account_id": "111122223333"}


def update(resource, key, before, after):
    return Change(resource, "update", key, before=before, after=after, diff=diff_records(resource, before, after),
                  hints={"user_id": "u-1"}, depends_on=("group:x",))


EXAMPLES = [
    Change("user", "create", ("alice",), after=USER),
    Change("user", "delete", ("alice",), before=USER, hints={"user_id": "u-1"}, notes=("no ExternalIds",)),
    update("user", ("alice",), USER, USER_NEW),
    update("permission_set", ("Admin",), PS_OLD, PS_NEW),
    Change("group", "update", ("Admins",), before={"display_name": "Admins", "description": None},
           after={"display_name": "Admins", "description": "d"},
           diff={"description": {"before": None, "after": "d"}}),
    Change("membership", "create", ("Admins", "alice"), after={"group_name": "Admins", "user_name": "alice"},
           depends_on=("user:alice",)),
    Change("assignment", "delete", ("111122223333", "Admin", "GROUP", "Admins"), before=ASSIGNMENT),
    Change("provision", "provision", ("Admin", "111122223333"), before=PROVISION, after=PROVISION,
           depends_on=("permission_set:Admin",)),
]


def test_addresses_follow_the_documented_formats():
    assert [c.address for c in EXAMPLES] == [
        "user:alice", "user:alice", "user:alice", "permission_set:Admin", "group:Admins",
        "membership:Admins/alice", "assignment:111122223333/Admin/GROUP/Admins", "provision:Admin/111122223333"]


def test_slashes_and_percents_in_names_cannot_make_two_resources_share_an_address():
    assert address("membership", ("a/b", "c")) != address("membership", ("a", "b/c"))
    assert address("membership", ("a/b", "c")) == "membership:a%2Fb/c"
    assert address("group", ("100%2F",)) == "group:100%252F"


@pytest.mark.parametrize("resource, action, key", [
    ("widget", "create", ("x",)), ("membership", "update", ("g", "u")), ("user", "provision", ("a",)),
    ("assignment", "create", ("1", "ps")), ("user", "create", (1,)),
])
def test_invalid_changes_are_refused(resource, action, key):
    with pytest.raises(ValueError):
        Change(resource, action, key)


@pytest.mark.parametrize("change", EXAMPLES, ids=lambda c: f"{c.action}-{c.resource}")
def test_inverse_of_inverse_is_the_change(change):
    assert change.inverse().inverse() == change


@pytest.mark.parametrize("change", EXAMPLES, ids=lambda c: f"{c.action}-{c.resource}")
def test_dict_round_trip_is_exact_and_json_able(change):
    data = json.loads(json.dumps(change.to_dict()))
    assert Change.from_dict(data) == change
    assert Change.from_dict(data).to_dict() == change.to_dict()
    assert Change.from_dict(data).depends_on == change.depends_on


def test_create_and_delete_invert_each_other_with_the_same_record():
    created = EXAMPLES[0]
    deleted = created.inverse()
    assert (deleted.action, deleted.before, deleted.after) == ("delete", USER, None)
    assert deleted.inverse() == created


def test_update_inverse_swaps_states_and_recomputes_the_diff():
    change = EXAMPLES[3]
    back = change.inverse()
    assert (back.before, back.after) == (PS_NEW, PS_OLD)
    assert back.diff["managed_policies"]["added"] == ["arn:a"] and back.diff["managed_policies"]["removed"] == ["arn:b"]
    assert back.diff["tags"]["added"] == {"team": "a"} and back.diff["tags"]["removed"] == ["env"]
    user_back = EXAMPLES[2].inverse()
    assert user_back.diff == {"Locale": {"before": "de-DE", "after": None},
                              "Title": {"before": "Manager", "after": "Engineer"}}


def test_inverse_has_no_dependencies_of_its_own():
    assert all(c.inverse().depends_on == () for c in EXAMPLES)


def test_provision_is_its_own_inverse():
    provision = EXAMPLES[-1]
    assert provision.inverse() == provision


@pytest.mark.parametrize("change", [
    Change("user", "delete", ("alice",)), Change("user", "create", ("alice",)),
    Change("group", "update", ("g",), after={"display_name": "g", "description": "x"}),
])
def test_a_change_without_the_state_its_inverse_needs_says_so(change):
    assert not change.reversible
    with pytest.raises(IrreversibleChangeError, match="cannot"):
        change.inverse()


def test_equality_and_hash_ignore_dependencies():
    change = EXAMPLES[5]
    other = Change.from_dict(dict(change.to_dict(), depends_on=[]))
    assert change == other and hash(change) == hash(other)
    assert len({change, other}) == 1


def test_asynchronous_changes_and_their_exclusive_pair():
    flags = {c.address: (c.is_async, c.exclusive_key) for c in EXAMPLES}
    assert flags["assignment:111122223333/Admin/GROUP/Admins"] == (True, ("Admin", "111122223333"))
    assert flags["provision:Admin/111122223333"] == (True, ("Admin", "111122223333"))
    assert flags["user:alice"] == (False, None)
    assert flags["membership:Admins/alice"] == (False, None)


def test_with_before_refreshes_an_update_from_live_state():
    change = EXAMPLES[2]
    drifted = {"user_name": "alice", "attributes": {"DisplayName": "Al", "Title": "Engineer"}}
    refreshed = change.with_before(drifted)
    assert refreshed.before == drifted
    assert set(refreshed.diff) == {"DisplayName", "Title", "Locale"}
    assert change.with_before(USER_NEW).diff == {}  # already like the backup: nothing to send
    with pytest.raises(ValueError):
        EXAMPLES[0].with_before(USER)


def test_from_dict_rejects_a_mismatched_address_and_junk():
    data = EXAMPLES[0].to_dict()
    with pytest.raises(ValueError, match="does not match"):
        Change.from_dict(dict(data, address="user:bob"))
    with pytest.raises(ValueError):
        Change.from_dict({"resource": "user"})

"""Records (what is compared and written) and attribute diffs, for every attribute."""

from __future__ import annotations

from dataclasses import replace

import pytest

from awsideman.core.attributes import (
    USER_READ_ONLY,
    comparable,
    diff_records,
    group_record,
    permission_set_record,
    same_policy,
    user_record,
)
from awsideman.core.model import Group, PermissionSet, User
from tests.core.snapshots import POLICY, POLICY_OTHER, POLICY_REFORMATTED

WRITABLE = {
    "Name": {"GivenName": "Ada", "FamilyName": "Lovelace"}, "DisplayName": "Ada Lovelace",
    "NickName": "Ada", "ProfileUrl": "https://people.example.com/ada",
    "Emails": [{"Value": "ada@example.com", "Type": "work", "Primary": True}],
    "Addresses": [{"Locality": "London", "Country": "GB"}],
    "PhoneNumbers": [{"Value": "+44 20 0000 0000", "Type": "work"}],
    "UserType": "Employee", "Title": "Countess", "PreferredLanguage": "en", "Locale": "en-GB",
    "Timezone": "Europe/London", "Website": "https://ada.example", "Birthdate": "1815-12-10",
    "Photos": [{"Value": "https://ada.example/p.png"}], "Roles": [{"Value": "math"}],
}


def test_user_record_keeps_every_writable_attribute_and_drops_read_only_and_empty_ones():
    read_only = {"ExternalIds": [{"Issuer": "idp", "Id": "1"}], "UserStatus": "ENABLED", "CreatedAt": "x",
                 "UpdatedBy": "y", "Revision": "3", "UserArn": "arn:u", "IdentityStoreId": "d-1"}
    record = user_record(User("ada", "u-1", {**WRITABLE, **read_only, "Title": "", "NickName": None}))
    expected = {k: v for k, v in WRITABLE.items() if k not in ("Title", "NickName")}
    assert record == {"user_name": "ada", "attributes": expected}
    assert set(read_only) <= USER_READ_ONLY


@pytest.mark.parametrize("attribute", sorted(WRITABLE))
def test_every_user_attribute_is_compared(attribute):
    before = user_record(User("ada", "u-1", WRITABLE))
    changed = dict(WRITABLE)
    del changed[attribute]
    after = user_record(User("ada", "u-2", changed))
    assert diff_records("user", before, after) == {attribute: {"before": WRITABLE[attribute], "after": None}}
    assert diff_records("user", after, before) == {attribute: {"before": None, "after": WRITABLE[attribute]}}


def test_ids_and_read_only_attributes_never_differ():
    a = user_record(User("ada", "u-1", {**WRITABLE, "ExternalIds": [{"Id": "1"}], "UserStatus": "ENABLED"}))
    b = user_record(User("ada", "u-2", {**WRITABLE, "ExternalIds": [{"Id": "2"}], "UserStatus": "DISABLED"}))
    assert diff_records("user", a, b) == {}


def test_group_description_is_compared_and_empty_means_absent():
    assert diff_records("group", group_record(Group("g", "1", "a")), group_record(Group("g", "2", "b"))) == {
        "description": {"before": "a", "after": "b"}}
    assert diff_records("group", group_record(Group("g", "1", "")), group_record(Group("g", "2", None))) == {}
    # ExternalIds come from the identity provider: not compared
    assert diff_records("group", group_record(Group("g", "1", "a", [{"Id": "x"}])),
                        group_record(Group("g", "2", "a"))) == {}


BASE = PermissionSet("Admin", "arn:1", description="d", session_duration="PT1H", relay_state="https://r",
                     inline_policy=POLICY, managed_policies=["arn:m1", "arn:m2"],
                     customer_managed_policies=[{"Name": "P", "Path": "/"}],
                     permissions_boundary={"ManagedPolicyArn": "arn:b"}, tags={"team": "a", "env": "x"})


@pytest.mark.parametrize("field, value, expected", [
    ("description", "other", {"before": "d", "after": "other"}),
    ("session_duration", "PT8H", {"before": "PT1H", "after": "PT8H"}),
    ("relay_state", None, {"before": "https://r", "after": None}),
    ("inline_policy", POLICY_OTHER, {"before": POLICY, "after": POLICY_OTHER}),
    ("inline_policy", None, {"before": POLICY, "after": None}),
    ("managed_policies", ["arn:m2", "arn:m3"], {"before": ["arn:m1", "arn:m2"], "after": ["arn:m2", "arn:m3"],
                                                "added": ["arn:m3"], "removed": ["arn:m1"]}),
    ("customer_managed_policies", [{"Name": "P", "Path": "/teams/"}],
     {"before": [{"Name": "P", "Path": "/"}], "after": [{"Name": "P", "Path": "/teams/"}],
      "added": [{"Name": "P", "Path": "/teams/"}], "removed": [{"Name": "P", "Path": "/"}]}),
    ("permissions_boundary", {"CustomerManagedPolicyReference": {"Name": "B"}},
     {"before": {"ManagedPolicyArn": "arn:b"},
      "after": {"CustomerManagedPolicyReference": {"Name": "B", "Path": "/"}}}),
    ("tags", {"team": "b", "tier": "1"}, {"before": {"env": "x", "team": "a"}, "after": {"team": "b", "tier": "1"},
                                          "added": {"team": "b", "tier": "1"}, "removed": ["env"]}),
])
def test_every_permission_set_attribute_is_compared(field, value, expected):
    changed = replace(BASE, **{field: value})
    diff = diff_records("permission_set", permission_set_record(BASE), permission_set_record(changed))
    assert diff == {field: expected}


def test_inline_policies_compare_as_json_not_text():
    assert same_policy(POLICY, POLICY_REFORMATTED)
    assert not same_policy(POLICY, POLICY_OTHER)
    assert not same_policy(POLICY, None) and same_policy(None, None)
    assert same_policy("not json", "not json") and not same_policy("not json", "not json ")
    assert diff_records("permission_set", permission_set_record(BASE),
                        permission_set_record(replace(BASE, inline_policy=POLICY_REFORMATTED))) == {}
    assert comparable("permission_set", permission_set_record(BASE)) == comparable(
        "permission_set", permission_set_record(replace(BASE, inline_policy=POLICY_REFORMATTED)))


def test_policy_lists_compare_as_sets_with_default_paths():
    a = replace(BASE, managed_policies=["arn:m2", "arn:m1"], customer_managed_policies=[{"Name": "P"}],
                permissions_boundary={"CustomerManagedPolicyReference": {"Name": "B"}})
    b = replace(BASE, customer_managed_policies=[{"Name": "P", "Path": "/"}],
                permissions_boundary={"CustomerManagedPolicyReference": {"Name": "B", "Path": "/"}})
    assert diff_records("permission_set", permission_set_record(a), permission_set_record(b)) == {}


def test_keys_only_resources_never_differ():
    record = {"group_name": "g", "user_name": "u"}
    assert diff_records("membership", record, record) == {}
    assert diff_records("user", None, {"user_name": "u", "attributes": {}}) == {}

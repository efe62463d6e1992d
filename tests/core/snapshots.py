"""Snapshot builders and hypothesis strategies for the planner tests.

Names come from small pools so that random desired and live snapshots overlap: the same user
in both (equal or with changed attributes), in one only, and so on for every kind. The pools
include a group named like a user and names with ``/`` and ``%`` (address escaping).
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import strategies as st

from awsideman.core.model import Assignment, Group, Membership, PermissionSet, Snapshot, User

_ids = itertools.count(1)

USERS = ["alice", "bob", "carol", "dave/ops"]
GROUPS = ["Admins", "Devs", "alice", "ops/100%"]
SETS = ["Admin", "ReadOnly", "Billing"]
ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}'
# The same document as POLICY with other whitespace and key order: not a difference.
POLICY_REFORMATTED = ('{ "Statement": [ {"Resource": "*", "Action": "s3:Get*", "Effect": "Allow"} ],\n'
                      '  "Version": "2012-10-17" }')
POLICY_OTHER = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}'
MANAGED = ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
           "arn:aws:iam::aws:policy/SecurityAudit"]
CUSTOMER = [{"Name": "TeamPolicy", "Path": "/"}, {"Name": "TeamPolicy", "Path": "/teams/"},
            {"Name": "Other", "Path": "/org/"}]
BOUNDARIES = [None, {"ManagedPolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"},
              {"CustomerManagedPolicyReference": {"Name": "Boundary", "Path": "/"}}]


def new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def user(name: str, **attributes: Any) -> User:
    return User(name, new_id("u"), {"DisplayName": name.title(), **attributes})


def group(name: str, description: str | None = None) -> Group:
    return Group(name, new_id("g"), description)


def permission_set(name: str, **fields: Any) -> PermissionSet:
    return PermissionSet(name, new_id(f"arn:ps/{name}"), **fields)


def snapshot(users: list[User] = (), groups: list[Group] = (), members: list[tuple[str, str]] = (),
             sets: list[PermissionSet] = (), assigned: list[tuple[str, str, str, str]] = ()) -> Snapshot:
    """A consistent snapshot: memberships and assignments are given by names, ids filled in."""
    user_ids = {u.user_name: u.user_id for u in users}
    group_ids = {g.display_name: g.group_id for g in groups}
    set_arns = {p.name: p.arn for p in sets}
    memberships = [Membership(g, u, group_ids[g], user_ids[u]) for g, u in members]
    assignments = [Assignment(account, ps, ptype, name, set_arns.get(ps, "arn:gone"),
                              (user_ids if ptype == "USER" else group_ids).get(name, "gone"))
                   for account, ps, ptype, name in assigned]
    return Snapshot(list(users), list(groups), memberships, list(sets), assignments)


# -- hypothesis -------------------------------------------------------------------------------
_TEXT = st.sampled_from(["Engineer", "Manager", "en-US", "de-DE", ""])
USER_ATTRIBUTES: dict[str, Any] = {
    "DisplayName": st.sampled_from(["Alice A", "Bob B"]),
    "Name": st.sampled_from([{"GivenName": "A", "FamilyName": "B"}, {"GivenName": "A", "FamilyName": "C",
                                                                      "Formatted": "A C"}]),
    "Emails": st.sampled_from([[{"Value": "a@example.com", "Type": "work", "Primary": True}],
                               [{"Value": "a@example.com", "Type": "work", "Primary": False}]]),
    "PhoneNumbers": st.sampled_from([[{"Value": "+1 206 555 0100", "Type": "work"}], []]),
    "Addresses": st.sampled_from([[{"Locality": "Berlin", "Country": "DE"}], [{"Locality": "Tokyo"}]]),
    "Title": _TEXT, "Locale": _TEXT, "Timezone": st.sampled_from(["Europe/Berlin", "Asia/Tokyo"]),
    "NickName": _TEXT, "ProfileUrl": st.sampled_from(["https://a.example", "https://b.example"]),
    "UserType": st.sampled_from(["Employee", "Vendor"]), "PreferredLanguage": st.sampled_from(["en", "ja"]),
    # read-only: must never cause a change
    "ExternalIds": st.sampled_from([[], [{"Issuer": "idp", "Id": "1"}], [{"Issuer": "idp", "Id": "2"}]]),
    "UserStatus": st.sampled_from(["ENABLED", "DISABLED"]),
}


@st.composite
def users_st(draw: Any, name: str) -> User:
    chosen = draw(st.lists(st.sampled_from(sorted(USER_ATTRIBUTES)), unique=True, max_size=6))
    return User(name, new_id("u"), {attr: draw(USER_ATTRIBUTES[attr]) for attr in chosen})


@st.composite
def groups_st(draw: Any, name: str) -> Group:
    return Group(name, new_id("g"), draw(st.sampled_from([None, "", "first", "second"])),
                 draw(st.sampled_from([[], [{"Issuer": "idp", "Id": "g"}]])))


@st.composite
def sets_st(draw: Any, name: str) -> PermissionSet:
    return PermissionSet(
        name, new_id(f"arn:ps/{name}"),
        description=draw(st.sampled_from([None, "one", "two"])),
        session_duration=draw(st.sampled_from([None, "PT1H", "PT8H"])),
        relay_state=draw(st.sampled_from([None, "https://console.aws.amazon.com/s3/home"])),
        inline_policy=draw(st.sampled_from([None, POLICY, POLICY_REFORMATTED, POLICY_OTHER])),
        managed_policies=draw(st.lists(st.sampled_from(MANAGED), unique=True, max_size=2)),
        customer_managed_policies=draw(st.lists(st.sampled_from(CUSTOMER), unique_by=str, max_size=2)),
        permissions_boundary=draw(st.sampled_from(BOUNDARIES)),
        tags=draw(st.dictionaries(st.sampled_from(["team", "env"]), st.sampled_from(["a", "b"]), max_size=2)),
    )


@st.composite
def snapshots(draw: Any) -> Snapshot:
    """A random consistent snapshot over the name pools."""
    return draw(drifted(Snapshot()))


@st.composite
def drifted(draw: Any, base: Snapshot) -> Snapshot:
    """`base` with random drift of every kind: resources kept, changed, deleted, added."""
    users = _drift(draw, {u.user_name: u for u in base.users}, USERS, users_st)
    groups = _drift(draw, {g.display_name: g for g in base.groups}, GROUPS, groups_st)
    sets = _drift(draw, {p.name: p for p in base.permission_sets}, SETS, sets_st)
    names = {("USER", u.user_name) for u in users} | {("GROUP", g.display_name) for g in groups}
    possible_members = [(g.display_name, u.user_name) for g in groups for u in users]
    members = [m for m in possible_members if draw(st.integers(0, 2)) == 0 or
               (m in {b.key for b in base.memberships} and draw(st.integers(0, 3)) > 0)]
    old_assigned = {a.key for a in base.assignments}
    possible = [(acct, p.name, ptype, name) for acct in ACCOUNTS for p in sets for ptype, name in sorted(names)]
    assigned = [a for a in possible if draw(st.integers(0, 9)) == 0 or
                (a in old_assigned and draw(st.integers(0, 3)) > 0)]
    return snapshot(users, groups, members, sets, assigned)


def _drift(draw: Any, current: dict[str, Any], pool: list[str], strategy: Any) -> list[Any]:
    result = []
    for name in pool:
        fate = draw(st.sampled_from(["keep", "change", "drop"] if name in current else ["absent", "add"]))
        if fate == "keep":
            result.append(current[name])
        elif fate in ("change", "add"):
            result.append(draw(strategy(name)))
    return result

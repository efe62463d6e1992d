"""The write side of the gateway against the sandbox emulator, through real boto3 clients.

Every test counts calls (the gateway's per-operation counters); none looks at wall time.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from awsideman.adapters.async_requests import AsyncRequest
from awsideman.adapters.aws import AwsGateway
from awsideman.adapters.idempotent_writes import (
    ALREADY_ABSENT,
    ALREADY_EXISTED,
    APPLIED,
    FOUND_AFTER_LOST_RESPONSE,
    LAG_WAITS,
    MAX_SENDS,
)
from awsideman.adapters.identity_center import IdentityCenterReader
from awsideman.adapters.identity_center_writes import IdentityCenterWriter
from awsideman.adapters.patch_builders import group_operations, user_operations
from awsideman.core.exceptions import AmbiguousWriteError, UnsupportedChangeError
from tests.helpers import make_context

READ_ONLY = {"UserId", "IdentityStoreId", "UserName", "ExternalIds", "UserStatus", "UserArn", "Revision"}
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"  # a managed policy with a path
READ_ONLY_ACCESS = "arn:aws:iam::aws:policy/ReadOnlyAccess"
SECURITY_AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"
TIME_BASED_ASYNC = importlib.util.find_spec("awsideman.sandbox.gapfills.async_requests") is not None


def _faults(**rules: Any) -> dict[str, Any]:
    """Fault rules; with the time-based emulator, asynchronous requests also take 5 s to finish."""
    return {"async_seconds": 5, **rules} if TIME_BASED_ASYNC else dict(rules)


def _async_fail_supported() -> bool:
    try:
        from awsideman.sandbox.fault_rules import RULE_KEYS  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from awsideman.sandbox.faults import RULE_KEYS  # type: ignore[no-redef,unused-ignore]
    return "async_fail" in RULE_KEYS


@pytest.fixture(autouse=True)
def _listings_observe_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bridge for the emulator in this tree, whose status listings never move on by themselves.

    Here a request is IN_PROGRESS until its first Describe and SUCCEEDED after, but the
    List*Status calls only read that count, so a poller that (rightly) lists instead of
    describing would wait for ever. Make a listing an observation too: IN_PROGRESS the first
    time a request is seen, by listing or Describe, SUCCEEDED afterwards, as the two calls
    agree on real AWS. The time-based model on wip-sandbox (gapfills/async_requests.py) keeps
    them in step itself; with it present this bridge steps aside.
    """
    if TIME_BASED_ASYNC:
        return
    from awsideman.sandbox.gapfills import ssoadmin_state

    def list_requests(self: Any, kind: str, status: str | None) -> list[dict[str, Any]]:
        out = []
        for request_id, record in self.requests.items():
            if record["kind"] != kind:
                continue
            current = "IN_PROGRESS" if record["describes"] == 0 else "SUCCEEDED"
            record["describes"] += 1
            if not status or status == current:
                out.append({"RequestId": request_id, "Status": current, "CreatedDate": record["body"]["CreatedDate"]})
        return out

    monkeypatch.setattr(ssoadmin_state.SsoState, "list_requests", list_requests)


@dataclass
class World:
    sandbox: Any
    seeded: Any
    gateway: AwsGateway
    writer: IdentityCenterWriter
    reader: IdentityCenterReader

    def calls(self) -> dict[str, int]:
        return self.gateway.calls_by_operation()

    def calls_since(self, before: dict[str, int]) -> dict[str, int]:
        now = self.calls()
        return {op: n - before.get(op, 0) for op, n in now.items() if n != before.get(op, 0)}

    def users_named(self, user_name: str) -> list[dict[str, Any]]:
        return [u for u in self.reader.users() if u["UserName"] == user_name]

    def settle(self, requests: Iterable[AsyncRequest], rounds: int = 5) -> dict[str, AsyncRequest]:
        latest = {r.request_id: r for r in requests if r.request_id is not None}
        for _ in range(rounds):
            if all(r.done for r in latest.values()):
                return latest
            if hasattr(self.sandbox, "advance"):  # time-based emulator: let the requests end
                self.sandbox.advance(3600)
            latest = self.writer.poll(latest.values())
        raise AssertionError(f"requests still in progress after {rounds} poll rounds: {latest}")


@pytest.fixture
def world(sandbox: Any) -> World:
    seeded = sandbox.seed("tiny", seed=3)
    context = make_context()
    writer = IdentityCenterWriter(context.gateway, context.instance)
    writer.prime_permission_sets(dict(seeded.permission_set_arns))
    return World(sandbox, seeded, context.gateway, writer, IdentityCenterReader(context.gateway, context.instance))


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Attribute diff as the planner makes it (core/attributes.py on wip-planner)."""
    return {k: {"before": before.get(k), "after": after.get(k)}
            for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


def _user_attributes(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k not in READ_ONLY}


# -- pure parts -----------------------------------------------------------------------------------
def test_user_operations_use_scim_paths_set_name_parts_and_remove_without_a_value():
    diff = {
        "Name": {"before": {"GivenName": "Ada", "FamilyName": "L", "MiddleName": "B"},
                 "after": {"GivenName": "Ada", "FamilyName": "Lovelace", "HonorificPrefix": "Dr."}},
        "Addresses": {"before": [{"StreetAddress": "1 Main", "Primary": True}],
                      "after": [{"StreetAddress": "2 Main", "PostalCode": "1", "Primary": True}]},
        "NickName": {"before": "ada", "after": None},
        "Emails": {"before": [{"Value": "a@x"}], "after": []},
    }
    assert user_operations(diff) == [
        {"AttributePath": "addresses",
         "AttributeValue": [{"streetAddress": "2 Main", "postalCode": "1", "primary": True}]},
        {"AttributePath": "emails"},
        {"AttributePath": "name.familyName", "AttributeValue": "Lovelace"},
        {"AttributePath": "name.honorificPrefix", "AttributeValue": "Dr."},
        {"AttributePath": "name.middleName"},
        {"AttributePath": "nickName"},
    ]


def test_unknown_attributes_are_refused_before_any_call():
    with pytest.raises(UnsupportedChangeError, match="Extensions"):
        user_operations({"Extensions": {"before": None, "after": {"x": 1}}})
    with pytest.raises(UnsupportedChangeError, match="colour"):
        group_operations({"colour": {"before": None, "after": "red"}})


# -- users, groups, memberships: round trips --------------------------------------------------------
FULL_USER = {
    "Name": {"GivenName": "Grace", "FamilyName": "Hopper", "Formatted": "Grace Hopper", "MiddleName": "Brewster",
             "HonorificPrefix": "Rear Adm."},
    "DisplayName": "Grace Hopper",
    "NickName": "Amazing Grace",
    "ProfileUrl": "https://people.example.com/grace",
    "Emails": [{"Value": "grace@example.com", "Type": "work", "Primary": True}],
    "Addresses": [{"StreetAddress": "1 Navy Way", "Locality": "Arlington", "Region": "VA", "PostalCode": "22201",
                   "Country": "US", "Formatted": "1 Navy Way, Arlington", "Type": "work", "Primary": True}],
    "PhoneNumbers": [{"Value": "+1 206 555 0100", "Type": "work", "Primary": True}],
    "UserType": "Employee",
    "Title": "Rear Admiral",
    "PreferredLanguage": "en",
    "Locale": "en-US",
    "Timezone": "America/New_York",
}
CHANGED_USER = {
    "Name": {"GivenName": "Grace B.", "FamilyName": "Hopper", "Formatted": "Grace B. Hopper", "MiddleName": "Brewster",
             "HonorificSuffix": "PhD"},
    "DisplayName": "Grace B. Hopper",
    "ProfileUrl": "https://people.example.com/ghopper",
    "Emails": [{"Value": "ghopper@example.com", "Type": "home", "Primary": False}],
    "PhoneNumbers": [{"Value": "+1 206 555 0199", "Type": "mobile", "Primary": True}],
    "UserType": "Contractor",
    "Title": "Commodore",
    "PreferredLanguage": "en-GB",
    "Locale": "en-GB",
    "Timezone": "Europe/London",
}


def test_user_round_trip_every_attribute_family(world):
    created = world.writer.create_user({"user_name": "grace", "attributes": FULL_USER})
    assert created.outcome == APPLIED and created.id and not created.existed
    [stored] = world.users_named("grace")
    assert stored["UserId"] == created.id
    assert _user_attributes(stored) == FULL_USER
    assert world.writer.user_id("grace") == created.id

    before = world.calls()
    world.writer.update_user(created.id, _diff(FULL_USER, CHANGED_USER))  # NickName, Addresses removed
    assert world.calls_since(before) == {"identitystore:UpdateUser": 1}
    [stored] = world.users_named("grace")
    assert _user_attributes(stored) == CHANGED_USER

    assert world.writer.delete_user(created.id).outcome == APPLIED
    assert world.users_named("grace") == [] and world.writer.user_id("grace") is None
    assert world.writer.delete_user(created.id).outcome == ALREADY_ABSENT


def test_group_round_trip(world):
    created = world.writer.create_group({"display_name": "auditors", "description": "Read-only auditors"})
    assert world.writer.group_id("auditors") == created.id
    by_name = {g["DisplayName"]: g for g in world.reader.groups()}
    assert by_name["auditors"].get("Description") == "Read-only auditors"

    world.writer.update_group(created.id, {"description": {"before": "Read-only auditors", "after": "Auditors"}})
    assert {g["DisplayName"]: g for g in world.reader.groups()}["auditors"]["Description"] == "Auditors"
    before = world.calls()
    world.writer.update_group(created.id, {"description": {"before": "Auditors", "after": None}})
    assert world.calls_since(before) == {"identitystore:UpdateGroup": 1}
    assert {g["DisplayName"]: g for g in world.reader.groups()}["auditors"].get("Description") is None

    assert world.writer.delete_group(created.id).outcome == APPLIED
    assert world.writer.group_id("auditors") is None


def test_group_without_description_sends_none(world):
    created = world.writer.create_group({"display_name": "plain", "description": None})
    assert {g["DisplayName"]: g for g in world.reader.groups()}["plain"].get("Description") is None
    assert created.outcome == APPLIED


def test_membership_round_trip(world):
    user_id = world.writer.create_user({"user_name": "linus", "attributes": {
        "Name": {"GivenName": "Linus", "FamilyName": "T"}, "DisplayName": "Linus T"}}).id
    group_id = next(iter(world.seeded.group_ids.values()))
    created = world.writer.create_membership(group_id, user_id)
    assert created.outcome == APPLIED
    assert world.writer.membership_id(group_id, user_id) == created.id
    members = [m["MemberId"]["UserId"] for m in world.reader.group_memberships(group_id)]
    assert members.count(user_id) == 1

    assert world.writer.delete_membership(created.id).outcome == APPLIED
    assert world.writer.membership_id(group_id, user_id) is None
    assert world.writer.delete_membership(created.id).outcome == ALREADY_ABSENT


# -- permission sets -------------------------------------------------------------------------------
INLINE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
INLINE_2 = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}]})
FULL_SET = {
    "name": "Auditor-900", "description": "Auditors", "session_duration": "PT2H",
    "relay_state": "https://console.aws.amazon.com/s3/home", "inline_policy": INLINE,
    "managed_policies": [READ_ONLY_ACCESS, VIEW_ONLY],
    "customer_managed_policies": [{"Name": "AuditPolicy", "Path": "/"}, {"Name": "TeamPolicy", "Path": "/teams/"}],
    "permissions_boundary": {"CustomerManagedPolicyReference": {"Name": "AuditBoundary", "Path": "/org/"}},
    "tags": {"team": "security", "env": "prod"},
}


def _read_set(world: World, arn: str) -> dict[str, Any]:
    """A permission set read back with the backup's reader, in the planner's record shape."""
    read = world.reader.permission_set(arn)
    described = read["PermissionSet"]
    return {
        "name": described["Name"], "description": described.get("Description"),
        "session_duration": described.get("SessionDuration"), "relay_state": described.get("RelayState"),
        "inline_policy": read["InlinePolicy"], "managed_policies": sorted(read["ManagedPolicies"]),
        "customer_managed_policies": sorted(read["CustomerManagedPolicyReferences"],
                                            key=lambda r: (r["Path"], r["Name"])),
        "permissions_boundary": read["PermissionsBoundary"],
        "tags": {t["Key"]: t["Value"] for t in read["Tags"]},
    }


def _set_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    diff = _diff(before, after)
    for name in ("managed_policies", "customer_managed_policies"):
        if name in diff:
            diff[name]["added"] = [i for i in after[name] if i not in before[name]]
            diff[name]["removed"] = [i for i in before[name] if i not in after[name]]
    if "tags" in diff:
        diff["tags"]["added"] = {k: v for k, v in after["tags"].items() if before["tags"].get(k) != v}
        diff["tags"]["removed"] = sorted(k for k in before["tags"] if k not in after["tags"])
    return diff


def test_permission_set_round_trip_every_attribute_family(world):
    before = world.calls()
    created = world.writer.create_permission_set(FULL_SET)
    assert created.outcome == APPLIED
    # one create (tags included), one inline, 2 + 2 attaches, one boundary: nothing else
    assert world.calls_since(before) == {
        "sso-admin:CreatePermissionSet": 1, "sso-admin:PutInlinePolicyToPermissionSet": 1,
        "sso-admin:AttachManagedPolicyToPermissionSet": 2,
        "sso-admin:AttachCustomerManagedPolicyReferenceToPermissionSet": 2,
        "sso-admin:PutPermissionsBoundaryToPermissionSet": 1}
    arn = created.id
    assert world.writer.permission_set_arn("Auditor-900") == arn
    assert _read_set(world, arn) == {**FULL_SET, "managed_policies": sorted(FULL_SET["managed_policies"])}

    changed = {
        **FULL_SET, "description": "Security auditors", "session_duration": "PT4H",
        "relay_state": "https://console.aws.amazon.com/ec2/home", "inline_policy": INLINE_2,
        "managed_policies": [VIEW_ONLY, SECURITY_AUDIT],
        "customer_managed_policies": [{"Name": "AuditPolicy", "Path": "/"}, {"Name": "OrgPolicy", "Path": "/org/"}],
        "permissions_boundary": {"ManagedPolicyArn": READ_ONLY_ACCESS},
        "tags": {"team": "audit", "owner": "ciso"},
    }
    before = world.calls()
    world.writer.update_permission_set(arn, _set_diff(FULL_SET, changed))
    assert world.calls_since(before) == {
        "sso-admin:UpdatePermissionSet": 1, "sso-admin:PutInlinePolicyToPermissionSet": 1,
        "sso-admin:DetachManagedPolicyFromPermissionSet": 1, "sso-admin:AttachManagedPolicyToPermissionSet": 1,
        "sso-admin:DetachCustomerManagedPolicyReferenceFromPermissionSet": 1,
        "sso-admin:AttachCustomerManagedPolicyReferenceToPermissionSet": 1,
        "sso-admin:PutPermissionsBoundaryToPermissionSet": 1,
        "sso-admin:UntagResource": 1, "sso-admin:TagResource": 1}
    assert _read_set(world, arn) == {**changed, "managed_policies": sorted(changed["managed_policies"]),
                                     "customer_managed_policies": sorted(changed["customer_managed_policies"],
                                                                         key=lambda r: (r["Path"], r["Name"]))}

    cleared = {**changed, "inline_policy": None, "permissions_boundary": None, "managed_policies": [],
               "customer_managed_policies": [], "tags": {}}
    before = world.calls()
    world.writer.update_permission_set(arn, _set_diff(changed, cleared))
    assert world.calls_since(before) == {
        "sso-admin:DeleteInlinePolicyFromPermissionSet": 1, "sso-admin:DetachManagedPolicyFromPermissionSet": 2,
        "sso-admin:DetachCustomerManagedPolicyReferenceFromPermissionSet": 2,
        "sso-admin:DeletePermissionsBoundaryFromPermissionSet": 1, "sso-admin:UntagResource": 1}
    assert _read_set(world, arn) == cleared

    assert world.writer.delete_permission_set(arn).outcome == APPLIED
    before = world.calls()
    assert world.writer.permission_set_arn("Auditor-900") is None  # forgotten, and not listed any more
    assert world.calls_since(before) == {"sso-admin:ListPermissionSets": 1}
    assert world.writer.delete_permission_set(arn).outcome == ALREADY_ABSENT


def test_clearing_what_update_permission_set_cannot_clear_is_refused_before_any_call(world):
    arn = world.writer.create_permission_set({**FULL_SET, "name": "Plain-901"}).id
    before = world.calls()
    with pytest.raises(UnsupportedChangeError, match="Description"):
        world.writer.update_permission_set(arn, {
            "description": {"before": "Auditors", "after": None},
            "inline_policy": {"before": INLINE, "after": None}})
    assert world.calls_since(before) == {}


def test_attaching_what_is_attached_and_detaching_what_is_not_are_done(world):
    arn = world.writer.create_permission_set({**FULL_SET, "name": "Again-902"}).id
    world.writer.update_permission_set(arn, {
        "managed_policies": {"before": [], "after": [VIEW_ONLY], "added": [VIEW_ONLY], "removed": [SECURITY_AUDIT]},
        "customer_managed_policies": {"before": [], "after": [], "added": [{"Name": "AuditPolicy", "Path": "/"}],
                                      "removed": [{"Name": "Nope", "Path": "/"}]},
        "permissions_boundary": {"before": None, "after": None},
    })
    assert sorted(_read_set(world, arn)["managed_policies"]) == sorted(FULL_SET["managed_policies"])


def test_permission_set_arn_lists_and_describes_only_unknown_sets_on_a_miss(world):
    writer = IdentityCenterWriter(world.gateway, world.writer.instance)
    names = sorted(world.seeded.permission_set_arns)
    writer.prime_permission_sets({names[0]: world.seeded.permission_set_arns[names[0]]})
    before = world.calls()
    assert writer.permission_set_arn(names[0]) == world.seeded.permission_set_arns[names[0]]
    assert world.calls_since(before) == {}  # primed: free
    assert writer.permission_set_arn(names[1]) == world.seeded.permission_set_arns[names[1]]
    assert world.calls_since(before) == {"sso-admin:ListPermissionSets": 1, "sso-admin:DescribePermissionSet": 1}
    before = world.calls()
    assert writer.permission_set_arn("Nobody-999") is None
    assert world.calls_since(before) == {"sso-admin:ListPermissionSets": 1}  # every set is known by now


# -- asynchronous requests ------------------------------------------------------------------------------
def _free_assignment(world: World, offset: int = 0) -> tuple[str, str, str, str]:
    """(account, permission set ARN, USER, user id) not assigned by the seed."""
    seeded = world.seeded
    taken = set(seeded.assignments)
    candidates = [(account, ps, name) for account in seeded.accounts for ps in sorted(seeded.permission_set_arns)
                  for name in sorted(seeded.user_ids) if ("USER", name, ps, account) not in taken]
    account, ps, name = candidates[offset]
    return account, seeded.permission_set_arns[ps], "USER", seeded.user_ids[name]


def test_assignment_create_provision_delete_polled_to_succeeded(world):
    account, arn, ptype, pid = _free_assignment(world)
    created = world.writer.create_assignment(account, arn, ptype, pid)
    assert created.kind == "assignment-create" and created.request_id and created.outcome == APPLIED
    settled = world.settle([created])
    assert settled[created.request_id].status == "SUCCEEDED"
    assert world.writer.assignment_exists(account, arn, ptype, pid)

    provisioned = world.settle([world.writer.provision(arn, account)])
    assert [r.status for r in provisioned.values()] == ["SUCCEEDED"]
    assert account in world.reader.accounts_for_permission_set(arn)

    deleted = world.writer.delete_assignment(account, arn, ptype, pid)
    assert deleted.kind == "assignment-delete"
    assert [r.status for r in world.settle([deleted]).values()] == ["SUCCEEDED"]
    assert not world.writer.assignment_exists(account, arn, ptype, pid)
    gone = world.writer.delete_assignment(account, arn, ptype, pid)
    assert (gone.status, gone.outcome, gone.request_id) == ("SUCCEEDED", ALREADY_ABSENT, None)


def test_a_poll_round_costs_two_listings_per_kind_whatever_the_number_of_requests(world):
    world.sandbox.set_faults(_faults())
    requests = []
    for account in world.seeded.accounts:  # one request per (permission set, account): no conflicts
        for ps_name in sorted(world.seeded.permission_set_arns):
            user_id = sorted(world.seeded.user_ids.values())[0]
            requests.append(world.writer.create_assignment(
                account, world.seeded.permission_set_arns[ps_name], "USER", user_id))
    assert len(requests) == 4
    listing = "sso-admin:ListAccountAssignmentCreationStatus"
    before = world.calls()
    latest = world.writer.poll(requests)  # all four still running: one IN_PROGRESS listing says so
    assert {r.status for r in latest.values()} == {"IN_PROGRESS"}
    assert world.calls_since(before) == {listing: 1}

    if hasattr(world.sandbox, "advance"):
        world.sandbox.advance(60)
    before = world.calls()
    latest = world.writer.poll(latest.values())
    # gone from the IN_PROGRESS listing, absent from the FAILED one: SUCCEEDED, no Describe
    assert world.calls_since(before) == {listing: 2}
    assert {r.status for r in latest.values()} == {"SUCCEEDED"}
    before = world.calls()
    assert world.writer.poll(latest.values()) == latest  # settled requests cost nothing
    assert world.calls_since(before) == {}


@pytest.mark.skipif(not _async_fail_supported(),
                    reason="the sandbox in this tree cannot inject FAILED statuses (async_fail is on wip-sandbox)")
def test_a_failed_request_carries_its_failure_reason(world):
    reason = "Received a 409 status error: Quota exceeded for roles in account"
    world.sandbox.set_faults(_faults(rules=[{"operation": "sso-admin:CreateAccountAssignment",
                                             "async_fail": 1.0, "failure_reason": reason}]))
    account, arn, ptype, pid = _free_assignment(world)
    request = world.writer.create_assignment(account, arn, ptype, pid)
    before = world.calls()
    settled = world.settle([request])[request.request_id]
    assert (settled.status, settled.failure_reason) == ("FAILED", reason)
    spent = world.calls_since(before)
    assert spent.get("sso-admin:DescribeAccountAssignmentCreationStatus") == 1  # only for the reason


# -- lost responses and conflicts ------------------------------------------------------------------------
def _lose(world: World, operation: str) -> None:
    """The service applies `operation`, then the connection drops before its answer arrives."""
    world.sandbox.set_faults(_faults(rules=[{"operation": operation, "lost_response": 1.0}]))


def test_a_lost_create_user_answer_is_resolved_by_lookup_with_one_user(world):
    _lose(world, "identitystore:CreateUser")
    before = world.calls()
    created = world.writer.create_user({"user_name": "lost", "attributes": FULL_USER})
    assert created.outcome == FOUND_AFTER_LOST_RESPONSE and created.found_after_lost_response and created.existed
    assert world.calls_since(before) == {"identitystore:CreateUser": 1, "identitystore:GetUserId": 1}
    world.sandbox.set_faults({})
    assert [u["UserId"] for u in world.users_named("lost")] == [created.id]


def test_lost_group_membership_and_permission_set_answers_give_exactly_one_resource(world):
    _lose(world, "identitystore:CreateGroup")
    group = world.writer.create_group({"display_name": "lost-group", "description": "x"})
    _lose(world, "identitystore:CreateGroupMembership")
    user_id = next(iter(world.seeded.user_ids.values()))
    membership = world.writer.create_membership(group.id, user_id)
    _lose(world, "sso-admin:CreatePermissionSet")
    permission_set = world.writer.create_permission_set({**FULL_SET, "name": "Lost-903"})
    world.sandbox.set_faults({})
    assert {group.outcome, membership.outcome, permission_set.outcome} == {FOUND_AFTER_LOST_RESPONSE}
    assert [g["GroupId"] for g in world.reader.groups() if g["DisplayName"] == "lost-group"] == [group.id]
    assert [m["MembershipId"] for m in world.reader.group_memberships(group.id)] == [membership.id]
    named = [a for a in world.reader.permission_set_arns()
             if world.reader.permission_set(a)["PermissionSet"]["Name"] == "Lost-903"]
    assert named == [permission_set.id]
    # the set is ours: it was completed with everything the record holds
    assert _read_set(world, permission_set.id)["customer_managed_policies"] == FULL_SET["customer_managed_policies"]


def test_a_create_whose_request_never_arrived_is_sent_again(world):
    # seed 1: the first CreateUser is reset (0.134 < 0.5), the second goes through (0.847)
    world.sandbox.set_faults({"seed": 1, "rules": [{"operation": "identitystore:CreateUser", "reset": 0.5}]})
    before = world.calls()
    created = world.writer.create_user({"user_name": "again", "attributes": FULL_USER})
    assert created.outcome == APPLIED
    assert world.calls_since(before) == {"identitystore:CreateUser": 2, "identitystore:GetUserId": 1}
    assert len(world.users_named("again")) == 1


def test_answers_lost_every_time_give_up_after_max_sends(world):
    world.sandbox.set_faults({"rules": [{"operation": "identitystore:CreateGroup", "reset": 1.0}]})
    before = world.calls()
    with pytest.raises(AmbiguousWriteError):
        world.writer.create_group({"display_name": "never", "description": None})
    assert world.calls_since(before) == {"identitystore:CreateGroup": MAX_SENDS,
                                         "identitystore:GetGroupId": MAX_SENDS}


def test_a_lost_delete_answer_is_resolved_by_reading_the_resource(world):
    group_id = world.writer.create_group({"display_name": "doomed", "description": None}).id
    _lose(world, "identitystore:DeleteGroup")
    before = world.calls()
    deleted = world.writer.delete_group(group_id)
    assert deleted.outcome == FOUND_AFTER_LOST_RESPONSE
    assert world.calls_since(before) == {"identitystore:DeleteGroup": 1, "identitystore:DescribeGroup": 1}
    assert world.writer.group_id("doomed") is None


def test_a_lost_assignment_answer_adopts_its_request_or_reads_the_assignment(world):
    account, arn, ptype, pid = _free_assignment(world, offset=1)
    _lose(world, "sso-admin:CreateAccountAssignment")
    request = world.writer.create_assignment(account, arn, ptype, pid)
    world.sandbox.set_faults(_faults())
    assert request.found_after_lost_response
    assert world.calls()["sso-admin:CreateAccountAssignment"] == 1
    if TIME_BASED_ASYNC:  # still running: the request in flight was found and adopted
        assert request.request_id is not None and request.status == "IN_PROGRESS"
    if request.request_id is not None:
        request = world.settle([request])[request.request_id]
    assert request.status == "SUCCEEDED"
    assert world.writer.assignment_exists(account, arn, ptype, pid)
    assignments = world.reader.account_assignments(account, arn)
    assert sum(a["PrincipalId"] == pid for a in assignments) == 1


def test_a_lost_provision_answer_is_found(world):
    account, arn, ptype, pid = _free_assignment(world, offset=2)
    world.settle([world.writer.create_assignment(account, arn, ptype, pid)])
    _lose(world, "sso-admin:ProvisionPermissionSet")
    request = world.writer.provision(arn, account)
    world.sandbox.set_faults(_faults())
    assert request.found_after_lost_response
    assert world.calls()["sso-admin:ProvisionPermissionSet"] == 1
    if request.request_id is not None:
        assert world.settle([request])[request.request_id].status == "SUCCEEDED"


@pytest.mark.parametrize("kind", ["user", "group", "membership", "permission_set"])
def test_already_exists_is_resolved_by_lookup_never_a_duplicate(world, sandbox, kind):
    ids = sandbox.client("identitystore")
    store = world.writer.instance.identity_store_id
    user_id = next(iter(world.seeded.user_ids.values()))
    group_id = next(iter(world.seeded.group_ids.values()))
    if kind == "user":
        existing = ids.create_user(IdentityStoreId=store, UserName="twin", DisplayName="Twin",
                                   Name={"GivenName": "T", "FamilyName": "W"})["UserId"]
        create = lambda: world.writer.create_user(  # noqa: E731
            {"user_name": "twin", "attributes": {"DisplayName": "Twin", "Name": {"GivenName": "T", "FamilyName": "W"}}})
        operation, conflicts = "identitystore:CreateUser", "identitystore:GetUserId"
    elif kind == "group":
        existing = ids.create_group(IdentityStoreId=store, DisplayName="twins")["GroupId"]
        create = lambda: world.writer.create_group({"display_name": "twins", "description": None})  # noqa: E731
        operation, conflicts = "identitystore:CreateGroup", "identitystore:GetGroupId"
    elif kind == "membership":
        existing = world.writer.membership_id(group_id, user_id) or ids.create_group_membership(
            IdentityStoreId=store, GroupId=group_id, MemberId={"UserId": user_id})["MembershipId"]
        create = lambda: world.writer.create_membership(group_id, user_id)  # noqa: E731
        operation, conflicts = "identitystore:CreateGroupMembership", "identitystore:GetGroupMembershipId"
    else:
        existing = sandbox.client("sso-admin").create_permission_set(
            InstanceArn=world.writer.instance.instance_arn, Name="Twin-904")["PermissionSet"]["PermissionSetArn"]
        create = lambda: world.writer.create_permission_set({**FULL_SET, "name": "Twin-904"})  # noqa: E731
        operation, conflicts = "sso-admin:CreatePermissionSet", "sso-admin:DescribePermissionSet"
    before = world.calls()
    result = create()
    assert (result.id, result.outcome, result.existed) == (existing, ALREADY_EXISTED, True)
    spent = world.calls_since(before)
    assert spent[operation] == 1 and spent[conflicts] == 1
    if kind == "permission_set":  # someone else's set: not overwritten, nothing attached
        assert not any("Attach" in op or "Put" in op for op in spent)


# -- propagation lag: a name the service says is taken, that its reads do not show yet -------------
def _pauses_advance_the_clock(world: World) -> list[float]:
    """The writer's pauses move the emulator's clock instead of sleeping (an injected clock)."""
    waits: list[float] = []

    def pause(seconds: float) -> None:
        waits.append(seconds)
        world.sandbox.advance(seconds)

    world.gateway.pause = pause  # type: ignore[method-assign]
    return waits


def test_a_name_taken_but_not_yet_readable_is_looked_up_again_after_pauses_not_created_twice(world):
    world.sandbox.set_faults({"quirks": {"propagation_lag_seconds": 2}})
    someone = world.sandbox.client("identitystore").create_user(
        IdentityStoreId=world.writer.instance.identity_store_id, UserName="lagging", DisplayName="lagging",
        Name={"GivenName": "l", "FamilyName": "g"})["UserId"]
    waits = _pauses_advance_the_clock(world)
    before = world.calls()
    created = world.writer.create_user({"user_name": "lagging", "attributes": FULL_USER})
    assert created.outcome == ALREADY_EXISTED and created.id == someone
    assert waits == list(LAG_WAITS[:4])  # 3.75 s of pauses: past the 2 s of lag
    assert world.calls_since(before) == {"identitystore:CreateUser": 1, "identitystore:GetUserId": 5}


def test_a_name_taken_that_never_becomes_readable_gives_the_service_answer_after_bounded_pauses(world):
    world.sandbox.set_faults({"quirks": {"propagation_lag_seconds": 3600}})
    world.writer.create_group({"display_name": "unseen", "description": None})
    waits = _pauses_advance_the_clock(world)
    before = world.calls()
    with pytest.raises(ClientError) as refused:
        world.writer.create_group({"display_name": "unseen", "description": None})
    assert refused.value.response["Error"]["Code"] == "ConflictException"
    assert waits == list(LAG_WAITS)
    assert world.calls_since(before) == {"identitystore:CreateGroup": 1,
                                         "identitystore:GetGroupId": len(LAG_WAITS) + 1}

"""Preflight: prove, before the first write, that the caller may make every write a plan needs
and every write that would undo it (``iam:SimulatePrincipalPolicy`` for the caller).

Which calls a change makes is known here, next to the writers that make them; which IAM actions
and resources those calls need comes from the permissions table (``permissions.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from awsideman.adapters import permissions
from awsideman.adapters.aws import client_error_code
from awsideman.core.changes import Change
from awsideman.core.sanitize import sanitize

FORWARD, ROLLBACK = "the restore", "its rollback"
_WRITE = {
    ("user", "create"): ("CreateUser",), ("user", "update"): ("UpdateUser",), ("user", "delete"): ("DeleteUser",),
    ("group", "create"): ("CreateGroup",), ("group", "update"): ("UpdateGroup",),
    ("group", "delete"): ("DeleteGroup",),
    ("membership", "create"): ("CreateGroupMembership",), ("membership", "delete"): ("DeleteGroupMembership",),
    ("assignment", "create"): ("CreateAccountAssignment", "DescribeAccountAssignmentCreationStatus"),
    ("assignment", "delete"): ("DeleteAccountAssignment", "DescribeAccountAssignmentDeletionStatus"),
    ("provision", "provision"): ("ProvisionPermissionSet", "DescribePermissionSetProvisioningStatus"),
    ("permission_set", "delete"): ("DeletePermissionSet",),
}
# A permission set's attribute -> the calls that set it (added/put) and that clear it (removed/deleted).
_PS_ATTRIBUTE = {
    "description": (("UpdatePermissionSet",), ("UpdatePermissionSet",)),
    "session_duration": (("UpdatePermissionSet",), ("UpdatePermissionSet",)),
    "relay_state": (("UpdatePermissionSet",), ("UpdatePermissionSet",)),
    "inline_policy": (("PutInlinePolicyToPermissionSet",), ("DeleteInlinePolicyFromPermissionSet",)),
    "managed_policies": (("AttachManagedPolicyToPermissionSet",), ("DetachManagedPolicyFromPermissionSet",)),
    "customer_managed_policies": (("AttachCustomerManagedPolicyReferenceToPermissionSet",),
                                  ("DetachCustomerManagedPolicyReferenceFromPermissionSet",)),
    "permissions_boundary": (("PutPermissionsBoundaryToPermissionSet",),
                             ("DeletePermissionsBoundaryFromPermissionSet",)),
    "tags": (("TagResource",), ("UntagResource",)),
}
# CreatePermissionSet takes these itself (permission_set_writes.create).
_SET_AT_CREATE = ("description", "session_duration", "relay_state", "tags")
_SERVICE = {"user": "identitystore", "group": "identitystore", "membership": "identitystore"}
_ASSUMED = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+$")
_USER_OR_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(user|role)/.+$")


# The look-ups by natural key a change makes on its way (lookups.py): a denied one would stop
# the run after earlier writes, so they are proved too.
_ID, _IDS = "sso-admin", "identitystore"
_SETS = ((_ID, "ListPermissionSets"), (_ID, "DescribePermissionSet"))
_LOOKUPS = {
    ("user", "update"): ((_IDS, "GetUserId"),), ("user", "delete"): ((_IDS, "GetUserId"),),
    ("group", "update"): ((_IDS, "GetGroupId"),), ("group", "delete"): ((_IDS, "GetGroupId"),),
    ("membership", "create"): ((_IDS, "GetGroupId"), (_IDS, "GetUserId")),
    ("membership", "delete"): ((_IDS, "GetGroupId"), (_IDS, "GetUserId"), (_IDS, "GetGroupMembershipId")),
    ("assignment", "create"): ((_IDS, "GetGroupId"), (_IDS, "GetUserId"), *_SETS),
    ("assignment", "delete"): ((_IDS, "GetGroupId"), (_IDS, "GetUserId"), *_SETS),
    ("permission_set", "update"): _SETS, ("permission_set", "delete"): _SETS, ("provision", "provision"): _SETS,
}


def change_calls(change: Change) -> list[tuple[str, str]]:
    """(service, operation) of the writes ``change`` makes, the polls that settle them and the
    look-ups on the way."""
    return [*_write_calls(change), *_LOOKUPS.get((change.resource, change.action), ())]


def _write_calls(change: Change) -> list[tuple[str, str]]:
    service = _SERVICE.get(change.resource, "sso-admin")
    if change.resource == "permission_set" and change.action in ("create", "update"):
        calls = ["CreatePermissionSet"] if change.action == "create" else []
        before = change.before or {}
        after = change.after or {}
        for name, (setting, clearing) in _PS_ATTRIBUTE.items():
            old, new = before.get(name), after.get(name)
            if old == new or (change.action == "create" and (not new or name in _SET_AT_CREATE)):
                continue
            if isinstance(old, (list, dict)) or isinstance(new, (list, dict)):
                added = _items(new) - _items(old)
                removed = _items(old) - _items(new)
                calls += list(setting) * bool(added) + list(clearing) * bool(removed)
            else:
                calls += list(setting if new else clearing)
        return [(service, call) for call in dict.fromkeys(calls)]
    return [(service, call) for call in _WRITE[(change.resource, change.action)]]


def _items(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {f"{k}={v}" for k, v in value.items()}
    return {repr(item) for item in value or []}


@dataclass(frozen=True)
class Need:
    """One (action, resource) pair the run needs, and why."""

    action: str
    resource: str
    needed_for: frozenset[str]
    changes: tuple[str, ...]


@dataclass
class Denial:
    action: str
    resource: str
    needed_for: list[str]
    changes: list[str]
    decision: str
    denied_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "resource": self.resource, "needed_for": self.needed_for,
                "changes": self.changes[:5], "decision": self.decision, "denied_by": self.denied_by}


@dataclass
class AccessReport:
    """What the preflight proved: every pair allowed, the denied ones, or why it could not tell."""

    principal: str | None = None
    checked: int = 0
    denied: list[Denial] = field(default_factory=list)
    unverified: str | None = None  # why the check could not run (it then proved nothing)

    @property
    def verified(self) -> bool:
        return self.unverified is None

    def to_dict(self) -> dict[str, Any]:
        return {"principal": self.principal, "checked": self.checked, "verified": self.verified,
                "unverified": self.unverified, "denied": [d.to_dict() for d in self.denied]}

    def statement(self) -> dict[str, Any]:
        """The policy statement that would allow what was denied."""
        return {"Effect": "Allow", "Action": sorted({d.action for d in self.denied}),
                "Resource": sorted({d.resource for d in self.denied})}


def needs(changes: Iterable[Change], *, scope: permissions.Scope, compensate: bool,
          forward: str = FORWARD) -> list[Need]:
    """Every (action, resource) the changes need, forward and (``compensate``) for their inverses."""
    found: dict[tuple[str, str], tuple[set[str], list[str]]] = {}
    for change in changes:
        sides = [(change, forward)]
        if compensate and change.reversible:
            sides.append((change.inverse(), ROLLBACK))
        for side, why in sides:
            for service, operation in change_calls(side):
                need = permissions.TABLE[(service, operation)]
                for resource in _resources(need, side, scope):
                    for action in need.actions:
                        reasons, addresses = found.setdefault((action, resource), (set(), []))
                        reasons.add(why)
                        if change.address not in addresses:
                            addresses.append(change.address)
    return [Need(action, resource, frozenset(reasons), tuple(addresses))
            for (action, resource), (reasons, addresses) in sorted(found.items())]


def _resources(need: permissions.Need, change: Change, scope: permissions.Scope) -> list[str]:
    """The concrete resources one call of ``change`` names (its primary ones; see ``check``)."""
    kinds = [kind for kind in need.resources if kind not in ("identity_entries", "permission_set")]
    if change.resource == "assignment":
        scope = scope.with_(accounts=(change.key[0],))
    else:
        kinds = [kind for kind in kinds if kind != "account"]
    return sorted({arn for kind in kinds for arn in permissions.arns(kind, scope)})


def preflight(gateway: Any, changes: Iterable[Change], *, instance_arn: str, identity_store_id: str | None,
              compensate: bool, forward: str = FORWARD, also: Iterable[Need] = ()) -> AccessReport:
    """Simulate the caller's identity policies for what ``changes`` (and, with ``compensate``,
    their inverses) need; never raises for a check that cannot run (``unverified`` says why)."""
    report = AccessReport()
    try:
        identity = gateway.call("sts", "GetCallerIdentity")
    except Exception as exc:  # noqa: BLE001 - a check that cannot run is reported, not fatal
        report.unverified = f"the caller is unknown ({_why(exc)})"
        return report
    caller = str(identity.get("Arn"))
    scope = permissions.Scope(instance_id=instance_arn.rsplit("/", 1)[-1], identity_store_id=identity_store_id,
                              caller_account=str(identity.get("Account") or "") or None,
                              region=getattr(gateway, "region", None))
    needed = needs(changes, scope=scope, compensate=compensate, forward=forward)
    return _check(gateway, caller, [*needed, *also], report)


def command_needs(command: str, scope: permissions.Scope, *, label: str,
                  skip: frozenset[str] = frozenset()) -> list[Need]:
    """Every (action, resource) a command may need in ``scope``, without a plan (``doctor``, the
    shared journal's part of a preflight). Kinds in ``skip`` are not used by this setup; a
    permission set's or identity entry's own ARN is not known without a plan."""
    found = set()
    for need in permissions.needs([command]).values():
        kinds = [k for k in need.resources if k not in skip and k not in ("permission_set", "identity_entries")]
        if not kinds or set(need.resources) <= skip:
            continue
        for arn in {a for kind in kinds for a in permissions.arns(kind, scope)}:
            found |= {Need(action, arn, frozenset({label}), ()) for action in need.actions
                      if action not in permissions.ALWAYS_ALLOWED}
    return sorted(found, key=lambda n: (n.resource, n.action))


def check_needs(gateway: Any, needed: list[Need]) -> AccessReport:
    """Simulate the caller's identity policies for ``needed`` (``awsideman doctor``)."""
    report = AccessReport()
    try:
        caller = str(gateway.call("sts", "GetCallerIdentity").get("Arn"))
    except Exception as exc:  # noqa: BLE001 - a check that cannot run is reported, not fatal
        report.unverified = f"the caller is unknown ({_why(exc)})"
        return report
    return _check(gateway, caller, needed, report)


def _check(gateway: Any, caller: str, needed: list[Need], report: AccessReport) -> AccessReport:
    principal = _principal(gateway, caller)
    report.principal = principal or str(caller)
    if principal is None:
        report.unverified = (f"{caller} is not an IAM user or an assumed role (a root, federated or unknown "
                             "identity): its permissions cannot be simulated")
        return report
    by_resource: dict[str, list[Need]] = {}
    for need in needed:
        by_resource.setdefault(need.resource, []).append(need)
    for resource, group in sorted(by_resource.items()):
        actions = sorted({n.action for n in group})
        try:
            results = _simulate(gateway, principal, actions, resource)
        except Exception as exc:  # noqa: BLE001
            report.unverified = f"iam:SimulatePrincipalPolicy failed ({_why(exc)})"
            report.denied, report.checked = [], 0
            return report
        report.checked += len(actions)
        for need in group:
            result = results.get(need.action)
            decision = str((result or {}).get("EvalDecision") or "implicitDeny")
            if decision == "allowed":
                continue
            report.denied.append(Denial(need.action, resource, sorted(need.needed_for), list(need.changes),
                                        decision, _denied_by(result or {})))
    return report


def _principal(gateway: Any, caller: str) -> str | None:
    """The IAM user or role whose policies apply (an assumed-role session is its role)."""
    if _USER_OR_ROLE.match(caller):
        return caller
    assumed = _ASSUMED.match(caller)
    if assumed is None:
        return None
    partition, account, role = assumed.groups()
    try:  # the role's path is not in the session's ARN
        return str(gateway.call("iam", "GetRole", RoleName=role)["Role"]["Arn"])
    except Exception:  # noqa: BLE001 - without iam:GetRole, assume the role has no path
        return f"arn:{partition}:iam::{account}:role/{role}"


def _simulate(gateway: Any, principal: str, actions: list[str], resource: str) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    marker = None
    while True:
        params: dict[str, Any] = {"PolicySourceArn": principal, "ActionNames": actions, "ResourceArns": [resource]}
        if marker:
            params["Marker"] = marker
        page = gateway.call("iam", "SimulatePrincipalPolicy", **params)
        for result in page.get("EvaluationResults") or []:
            results[str(result.get("EvalActionName"))] = result
        marker = page.get("Marker") if page.get("IsTruncated") else None
        if not marker:
            return results


def _denied_by(result: dict[str, Any]) -> str | None:
    if (result.get("OrganizationsDecisionDetail") or {}).get("AllowedByOrganizations") is False:
        return "an organization SCP"
    if (result.get("PermissionsBoundaryDecisionDetail") or {}).get("AllowedByPermissionsBoundary") is False:
        return "a permissions boundary"
    return None


def _why(exc: BaseException) -> str:
    return client_error_code(exc) or sanitize(str(exc))[:120] or type(exc).__name__

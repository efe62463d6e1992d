"""Backend (model) gap fills for moto's sso-admin: assignments, provisioning, boundaries, tags.

Every function here becomes a method of ``moto.ssoadmin.models.SSOAdminBackend``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.identitystore.models import identitystore_backends
from moto.ssoadmin.exceptions import ConflictException, ResourceNotFoundException
from moto.ssoadmin.models import ManagedPolicy, PermissionSet, SSOAdminBackend

from ._common import LOCK, ValidationException, install, install_all
from .propagation import visible
from .ssoadmin_refusals import check_idle, operation_name
from .ssoadmin_state import AssignmentKey, state_of

ACCOUNT_ID = re.compile(r"^\d{12}$")
# Real AWS only takes AWS managed policies here; a customer policy ARN fails this pattern.
AWS_MANAGED_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::aws:policy/.+$")
MAX_TAGS = 50
_AWS_POLICIES: dict[str, Any] = {}


def validate_target(target_type: str | None, target_id: str | None) -> None:
    if target_type != "AWS_ACCOUNT":
        raise ValidationException(f"TargetType {target_type!r} is not AWS_ACCOUNT")
    if not target_id or not ACCOUNT_ID.match(target_id):
        raise ValidationException(f"TargetId {target_id!r} is not a 12-digit AWS account id")


def find_instance(self: SSOAdminBackend, instance_arn: str) -> Any:
    for instance in self.instances:
        if instance.instance_arn == instance_arn:
            return instance
    raise ResourceNotFoundException(f"Could not find Instance with arn {instance_arn}")


def check_principal(
    self: SSOAdminBackend, instance_arn: str, principal_type: str, principal_id: str
) -> None:
    """The principal must exist in the instance's identity store, as the real service checks."""
    if principal_type not in ("USER", "GROUP"):
        raise ValidationException(f"PrincipalType {principal_type!r} is not USER or GROUP")
    instance = find_instance(self, instance_arn)
    backend = identitystore_backends[self.account_id][self.region_name]
    store = backend.identity_stores.get(instance.identity_store_id)
    members = None if store is None else (store.users if principal_type == "USER" else store.groups)
    if not members or principal_id not in members:
        raise ResourceNotFoundException(
            f"{principal_type} {principal_id} does not exist in identity store {instance.identity_store_id}"
        )


def list_account_assignments(
    self: SSOAdminBackend, instance_arn: str, account_id: str, permission_set_arn: str
) -> list[dict[str, str]]:
    """All assignments of one permission set in one account (unpaged; the response pages)."""
    with LOCK:
        state = state_of(self)
        keys = visible(state, state.by_ps_account.get((permission_set_arn, account_id), {}), lambda k: k)
    return [_listed(key) for key in keys if key[0] == instance_arn]


def list_account_assignments_for_principal(
    self: SSOAdminBackend,
    filter_: dict[str, Any],
    instance_arn: str,
    principal_id: str,
    principal_type: str,
) -> list[dict[str, str]]:
    """All assignments of one principal, optionally for one account (unpaged)."""
    account = (filter_ or {}).get("AccountId")
    with LOCK:
        state = state_of(self)
        keys = visible(state, state.by_principal.get((principal_type, principal_id), {}), lambda k: k)
    return [_listed(k) for k in keys if k[0] == instance_arn and (account is None or k[1] == account)]


def _listed(key: AssignmentKey) -> dict[str, str]:
    _, account, ps_arn, ptype, pid = key
    return {"AccountId": account, "PermissionSetArn": ps_arn, "PrincipalType": ptype, "PrincipalId": pid}


def create_permission_set(
    self: SSOAdminBackend,
    name: str,
    description: str | None,
    instance_arn: str,
    session_duration: str | None,
    relay_state: str | None,
    tags: list[dict[str, str]] | None,
) -> dict[str, Any]:
    """Names are unique per instance; SessionDuration defaults to PT1H; tags are kept."""
    with LOCK:
        find_instance(self, instance_arn)
        if any(p.name == name and p.instance_arn == instance_arn for p in self.permission_sets):
            raise ConflictException(f"PermissionSet with name {name} already exists")
        _check_tags(tags or [])
        permission_set = PermissionSet(
            name, description, instance_arn, session_duration or "PT1H", relay_state, list(tags or [])
        )
        permission_set.permissions_boundary = None
        self.permission_sets.append(permission_set)
        return permission_set.to_json(True)


def update_permission_set(
    self: SSOAdminBackend,
    instance_arn: str,
    permission_set_arn: str,
    description: str | None,
    session_duration: str | None,
    relay_state: str | None,
) -> dict[str, Any]:
    """Change only the fields given; moto reset the others, real AWS keeps them."""
    with LOCK:
        permission_set = self._find_permission_set(instance_arn, permission_set_arn)
        check_idle(state_of(self), instance_arn, permission_set_arn, "UpdatePermissionSet")
        if description is not None:
            permission_set.description = description
        if session_duration is not None:
            permission_set.session_duration = session_duration
        if relay_state is not None:
            permission_set.relay_state = relay_state
        state_of(self).bump(permission_set_arn)
        return permission_set.to_json(True)


def delete_permission_set(
    self: SSOAdminBackend, instance_arn: str, permission_set_arn: str
) -> dict[str, Any]:
    """Refuse while assignments or async requests use the permission set (ConflictException)."""
    with LOCK:
        permission_set = self._find_permission_set(instance_arn, permission_set_arn)
        state = state_of(self)
        check_idle(state, instance_arn, permission_set_arn, "DeletePermissionSet")
        if any(k[2] == permission_set_arn for k in state.assignments):
            raise ConflictException(
                f"PermissionSet {permission_set_arn} is assigned to accounts; delete its assignments first"
            )
        if any(r.body.get("PermissionSetArn") == permission_set_arn for r in state.requests.pending()):
            ps_id = permission_set_arn.rsplit("/", 1)[-1]
            raise ConflictException(f"Another operation is in progress for permission set {ps_id}. "
                                    "Try again after it completes.")
        self.permission_sets.remove(permission_set)
        state.provisioned.pop(permission_set_arn, None)
        state.versions.pop(permission_set_arn, None)
        return permission_set.to_json(include_creation_date=True)


def _find_managed_policy(self: SSOAdminBackend, managed_policy_arn: str) -> ManagedPolicy:
    """AWS managed policies keep their IAM path (job-function/ViewOnlyAccess etc.).

    moto read ``path`` where its data says ``Path``, so it rejected the real ARN of every
    policy with a path and accepted a made-up ARN without it.
    """
    if not AWS_MANAGED_ARN.match(managed_policy_arn or ""):
        raise ValidationException(
            f"Value '{managed_policy_arn}' at 'managedPolicyArn' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: arn:aws:iam::aws:policy/..."
        )
    if not _AWS_POLICIES:
        _AWS_POLICIES.update(json.loads(aws_managed_policies_data))
    name = managed_policy_arn.rsplit("/", 1)[-1]
    policy = _AWS_POLICIES.get(name)
    if policy is not None:
        path = policy.get("Path") or policy.get("path") or "/"
        if managed_policy_arn == f"arn:{self.partition}:iam::aws:policy{path}{name}":
            return ManagedPolicy(managed_policy_arn, name)
    raise ResourceNotFoundException(f"Policy does not exist with ARN: {managed_policy_arn}")


def put_permissions_boundary_to_permission_set(
    self: SSOAdminBackend, instance_arn: str, permission_set_arn: str, permissions_boundary: dict[str, Any]
) -> None:
    """Exactly one of CustomerManagedPolicyReference {Name, Path} or ManagedPolicyArn."""
    boundary = permissions_boundary or {}
    reference = boundary.get("CustomerManagedPolicyReference")
    arn = boundary.get("ManagedPolicyArn")
    if (reference is None) == (arn is None):
        raise ValidationException(
            "PermissionsBoundary needs exactly one of CustomerManagedPolicyReference or ManagedPolicyArn"
        )
    with LOCK:
        permission_set = self._find_permission_set(instance_arn, permission_set_arn)
        check_idle(state_of(self), instance_arn, permission_set_arn, "PutPermissionsBoundaryToPermissionSet")
        if arn is not None:
            self._find_managed_policy(arn)
            permission_set.permissions_boundary = {"ManagedPolicyArn": arn}
        else:
            if not reference.get("Name"):
                raise ValidationException("CustomerManagedPolicyReference.Name is required")
            ref = {"Name": reference["Name"], "Path": reference.get("Path") or "/"}
            permission_set.permissions_boundary = {"CustomerManagedPolicyReference": ref}
        state_of(self).bump(permission_set_arn)


def get_permissions_boundary_for_permission_set(
    self: SSOAdminBackend, instance_arn: str, permission_set_arn: str
) -> dict[str, Any]:
    permission_set = self._find_permission_set(instance_arn, permission_set_arn)
    boundary = getattr(permission_set, "permissions_boundary", None)
    if not boundary:
        ps_id = permission_set_arn.rsplit("/", 1)[-1]
        raise ResourceNotFoundException(f"Could not find PermissionsBoundary for PermissionSet {ps_id}")
    return dict(boundary)


def delete_permissions_boundary_from_permission_set(
    self: SSOAdminBackend, instance_arn: str, permission_set_arn: str
) -> None:
    with LOCK:
        self._find_permission_set(instance_arn, permission_set_arn)
        check_idle(state_of(self), instance_arn, permission_set_arn, "DeletePermissionsBoundaryFromPermissionSet")
        self.get_permissions_boundary_for_permission_set(instance_arn, permission_set_arn)
        self._find_permission_set(instance_arn, permission_set_arn).permissions_boundary = None
        state_of(self).bump(permission_set_arn)


def _check_tags(tags: list[dict[str, str]]) -> None:
    if len(tags) > MAX_TAGS:
        raise ValidationException(f"A resource can have at most {MAX_TAGS} tags")
    for tag in tags:
        if not tag.get("Key"):
            raise ValidationException("Tag keys must not be empty")


def _tag_holder(self: SSOAdminBackend, instance_arn: str, resource_arn: str) -> list[dict[str, str]]:
    """The live tag list of a permission set or instance (created empty if missing)."""
    if resource_arn == instance_arn:
        find_instance(self, instance_arn)
        return state_of(self).instance_tags.setdefault(instance_arn, [])
    permission_set = self._find_permission_set(instance_arn, resource_arn)
    if permission_set.tags is None:
        permission_set.tags = []
    return permission_set.tags


def tag_resource(
    self: SSOAdminBackend, instance_arn: str, resource_arn: str, tags: list[dict[str, str]]
) -> None:
    """Add or overwrite tags by key."""
    with LOCK:
        holder = _tag_holder(self, instance_arn, resource_arn)
        merged = {t["Key"]: t.get("Value", "") for t in holder}
        merged.update({t["Key"]: t.get("Value", "") for t in tags or []})
        new = [{"Key": k, "Value": v} for k, v in merged.items()]
        _check_tags(new)
        holder[:] = new


def untag_resource(self: SSOAdminBackend, instance_arn: str, resource_arn: str, tag_keys: list[str]) -> None:
    with LOCK:
        holder = _tag_holder(self, instance_arn, resource_arn)
        holder[:] = [t for t in holder if t["Key"] not in set(tag_keys or [])]


def list_tags_for_resource(
    self: SSOAdminBackend, instance_arn: str, resource_arn: str
) -> list[dict[str, str]]:
    with LOCK:
        return [dict(t) for t in _tag_holder(self, instance_arn, resource_arn)]


def _status_matches(state: Any, ps_arn: str, version: int, provisioning_status: str | None) -> bool:
    if provisioning_status == "LATEST_PERMISSION_SET_PROVISIONED":
        return version == state.version(ps_arn)
    if provisioning_status == "LATEST_PERMISSION_SET_NOT_PROVISIONED":
        return version != state.version(ps_arn)
    return True


def list_accounts_for_provisioned_permission_set(
    self: SSOAdminBackend, instance_arn: str, permission_set_arn: str, provisioning_status: str | None = None
) -> list[str]:
    """Accounts the permission set is provisioned to (follows assignments and provisioning)."""
    with LOCK:
        self._find_permission_set(instance_arn, permission_set_arn)
        state = state_of(self)
        accounts = state.provisioned.get(permission_set_arn, {})
        return [
            a
            for a, v in accounts.items()
            if _status_matches(state, permission_set_arn, v, provisioning_status)
        ]


def list_permission_sets_provisioned_to_account(
    self: SSOAdminBackend,
    instance_arn: str,
    account_id: str | None = None,
    provisioning_status: str | None = None,
) -> list[str]:
    """Permission set ARNs provisioned to one account, in creation order."""
    with LOCK:
        state = state_of(self)
        out = []
        for permission_set in self.permission_sets:
            if permission_set.instance_arn != instance_arn:
                continue
            arn = permission_set.permission_set_arn
            version = state.provisioned.get(arn, {}).get(account_id or "")
            if version is not None and _status_matches(state, arn, version, provisioning_status):
                out.append(arn)
        return out


def _bumping(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a permission-set mutator: refused while the permission set is busy (quirk), and
    provisioned accounts become out of date after it."""
    operation = operation_name(original.__name__)

    def wrapper(self: SSOAdminBackend, *args: Any, **kwargs: Any) -> Any:
        with LOCK:
            instance_arn = kwargs.get("instance_arn") or args[0]
            ps_arn = kwargs.get("permission_set_arn") or args[1]
            check_idle(state_of(self), instance_arn, ps_arn, operation)
            result = original(self, *args, **kwargs)
            state_of(self).bump(ps_arn)
            return result

    wrapper.__name__ = original.__name__
    wrapper.__doc__ = original.__doc__
    return wrapper


_MUTATORS = (
    "put_inline_policy_to_permission_set",
    "delete_inline_policy_from_permission_set",
    "attach_managed_policy_to_permission_set",
    "detach_managed_policy_from_permission_set",
    "attach_customer_managed_policy_reference_to_permission_set",
    "detach_customer_managed_policy_reference_from_permission_set",
)

_PLAIN = (
    list_account_assignments, list_account_assignments_for_principal,
    create_permission_set, update_permission_set, delete_permission_set, _find_managed_policy,
    put_permissions_boundary_to_permission_set, get_permissions_boundary_for_permission_set,
    delete_permissions_boundary_from_permission_set,
    tag_resource, untag_resource, list_tags_for_resource,
    list_accounts_for_provisioned_permission_set, list_permission_sets_provisioned_to_account,
)


def install_models() -> None:
    """Put the gap fills on SSOAdminBackend (idempotent)."""
    install_all(SSOAdminBackend, _PLAIN)
    for name in _MUTATORS:
        install(SSOAdminBackend, name, _bumping(getattr(SSOAdminBackend, name)))

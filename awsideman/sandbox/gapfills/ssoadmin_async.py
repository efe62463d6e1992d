"""Backend gap fills for sso-admin's asynchronous writes and their statuses.

CreateAccountAssignment, DeleteAccountAssignment and ProvisionPermissionSet validate at once,
are admitted or refused (limit, concurrent operation: see ``async_requests``; the quirks' busy
permission set and denied accounts: ``ssoadmin_refusals``), and take effect
when their request SUCCEEDED, as the real service does: an assignment is listed only once its
creation succeeded, and stays listed until its deletion succeeded. Every function here but
``drop_principal`` becomes a method of ``moto.ssoadmin.models.SSOAdminBackend``.
"""

from __future__ import annotations

from typing import Any

from moto.ssoadmin.exceptions import ResourceNotFoundException
from moto.ssoadmin.models import SSOAdminBackend, ssoadmin_backends

from ._common import LOCK, ValidationException, install_all
from .async_policy import current_policy
from .ssoadmin_models import check_principal, validate_target
from .ssoadmin_refusals import check_allowed, check_idle
from .ssoadmin_state import AssignmentKey, state_of


def _summary(key: AssignmentKey) -> dict[str, str]:
    _, account, ps_arn, ptype, pid = key
    return {"TargetId": account, "TargetType": "AWS_ACCOUNT", "PermissionSetArn": ps_arn,
            "PrincipalType": ptype, "PrincipalId": pid}


def create_account_assignment(
    self: SSOAdminBackend, instance_arn: str, target_id: str, target_type: str,
    permission_set_arn: str, principal_type: str, principal_id: str,
) -> dict[str, Any]:
    """Validate, admit, and go async; the assignment appears when the request SUCCEEDED."""
    validate_target(target_type, target_id)
    check_allowed(self.account_id, "CreateAccountAssignment", target_id)
    with LOCK:
        self._find_permission_set(instance_arn, permission_set_arn)
        check_principal(self, instance_arn, principal_type, principal_id)
        state = state_of(self)
        key = (instance_arn, target_id, permission_set_arn, principal_type, principal_id)
        effect = {"key": key, "version": state.version(permission_set_arn)}
        return state.start_request("create", instance_arn, _summary(key), {(permission_set_arn, target_id)}, effect)


def delete_account_assignment(
    self: SSOAdminBackend, instance_arn: str, target_id: str, target_type: str,
    permission_set_arn: str, principal_type: str, principal_id: str,
) -> dict[str, Any]:
    """Admit and go async; the assignment goes (last one: deprovisioned) when the request SUCCEEDED."""
    validate_target(target_type, target_id)
    check_allowed(self.account_id, "DeleteAccountAssignment", target_id)
    with LOCK:
        state = state_of(self)
        key = (instance_arn, target_id, permission_set_arn, principal_type, principal_id)
        targets = {(permission_set_arn, target_id)}
        # Implementation note: admission first, so a delete racing a pending create of the same
        # assignment gets the ConflictException the service sends, not a misleading not-found.
        if key not in state.assignments:
            state.requests.admit(current_policy(), "delete", instance_arn, frozenset(targets))
            raise ResourceNotFoundException("Could not find the account assignment")
        return state.start_request("delete", instance_arn, _summary(key), targets, {"key": key})


def provision_permission_set(
    self: SSOAdminBackend, instance_arn: str, permission_set_arn: str,
    target_type: str | None = None, target_id: str | None = None,
) -> dict[str, Any]:
    """AWS_ACCOUNT provisions one account; ALL_PROVISIONED_ACCOUNTS the ones provisioned so far."""
    with LOCK:
        self._find_permission_set(instance_arn, permission_set_arn)
        state = state_of(self)
        body: dict[str, Any] = {"PermissionSetArn": permission_set_arn}
        if target_type == "AWS_ACCOUNT":
            validate_target(target_type, target_id)
            check_allowed(self.account_id, "ProvisionPermissionSet", target_id)
            accounts = [target_id or ""]
            body["AccountId"] = target_id
        elif target_type == "ALL_PROVISIONED_ACCOUNTS":
            accounts = list(state.provisioned.get(permission_set_arn, {}))
        else:
            raise ValidationException(
                f"TargetType {target_type!r} is not AWS_ACCOUNT or ALL_PROVISIONED_ACCOUNTS")
        check_idle(state, instance_arn, permission_set_arn, "ProvisionPermissionSet")
        effect = {"accounts": accounts, "version": state.version(permission_set_arn)}
        targets = {(permission_set_arn, account) for account in accounts}
        return state.start_request("provision", instance_arn, body, targets, effect)


def async_status(
    self: SSOAdminBackend, kind: str, request_id: str | None, instance_arn: str | None
) -> dict[str, Any]:
    """The status of one request of `kind` (create, delete, provision), as Describe*Status returns it."""
    with LOCK:
        return state_of(self).requests.get(kind, request_id, instance_arn).view()


def list_async_statuses(
    self: SSOAdminBackend, kind: str, instance_arn: str | None, status: str | None
) -> list[dict[str, Any]]:
    """{RequestId, Status, CreatedDate} of every request of `kind`, optionally of one status."""
    with LOCK:
        return state_of(self).requests.listing(kind, instance_arn, status)


def drop_principal(account_id: str, region: str, identity_store_id: str, principal_type: str,
                   principal_id: str, keep: bool = False) -> None:
    """A deleted user or group loses its assignments at once (``keep``: they stay, orphaned, as in
    AWS); its pending creations end FAILED either way (the principal they name is gone)."""
    backend = ssoadmin_backends[account_id][region]
    instances = {i.instance_arn for i in backend.instances if i.identity_store_id == identity_store_id}
    with LOCK:
        state = state_of(backend)
        for key in [] if keep else list(state.by_principal.get((principal_type, principal_id), {})):
            if key[0] in instances:
                state.unassign(backend, key)
        state.fail_pending(
            lambda r: r.kind == "create" and r.instance_arn in instances
            and (r.body["PrincipalType"], r.body["PrincipalId"]) == (principal_type, principal_id),
            f"{principal_type} {principal_id} was deleted from identity store {identity_store_id}")


_METHODS = (
    create_account_assignment, delete_account_assignment, provision_permission_set, async_status,
    list_async_statuses,
)


def install_models() -> None:
    """Put the async gap fills on SSOAdminBackend (idempotent)."""
    install_all(SSOAdminBackend, _METHODS)

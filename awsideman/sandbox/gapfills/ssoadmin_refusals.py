"""Two refusals of the real sso-admin that the emulator makes only when a quirk asks for them.

- ``provisioning_conflicts``: a write to a permission set (its attributes, policies, boundary,
  its provisioning or its deletion) is refused with ConflictException while any
  CreateAccountAssignment, DeleteAccountAssignment or ProvisionPermissionSet request of that
  permission set is IN_PROGRESS, in whichever account; so only one provisioning of a permission
  set runs at a time.
- ``deny_accounts``: an organization SCP (or a missing provisioning role) that denies an
  operation in chosen target accounts: AccessDeniedException there, success everywhere else.

Each refusal is counted with the policy's faults (``ps_conflict``, ``account_denied``), so a
test can prove the model refused something rather than infer it from timing.
"""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError
from moto.ssoadmin.exceptions import ConflictException

from .async_policy import current_policy
from .ssoadmin_state import SsoState

SERVICE = "sso-admin"
# The service's own words (so the client-side classification meets what production meets).
BUSY_MESSAGE = ("A conflicting operation is currently processing. "
                "Please try again after the current operation has completed.")


class AccessDeniedException(JsonRESTError):
    """sso-admin AccessDeniedException (moto has none for this service)."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__(error_type="AccessDeniedException", message=message)


def check_idle(state: SsoState, instance_arn: str, permission_set_arn: str, operation: str) -> None:
    """Refuse ``operation`` on a permission set with a request in progress (quirk only)."""
    policy = current_policy()
    if not policy.quirks().provisioning_conflicts:
        return
    if any(r.instance_arn == instance_arn and r.body.get("PermissionSetArn") == permission_set_arn
           for r in state.requests.pending()):
        policy.note(SERVICE, operation, "ps_conflict")
        raise ConflictException(BUSY_MESSAGE)


def check_allowed(caller_account: str, operation: str, target_id: str | None) -> None:
    """Refuse ``operation`` in a target account an SCP-like quirk denies."""
    policy = current_policy()
    if not policy.quirks().denied(operation, target_id):
        return
    policy.note(SERVICE, operation, "account_denied")
    raise AccessDeniedException(
        f"User: arn:aws:sts::{caller_account}:assumed-role/SandboxRole/sandbox is not authorized to perform: "
        f"sso:{operation} on resource: arn:aws:sso:::account/{target_id} with an explicit deny in a service "
        "control policy")


def operation_name(method: str) -> str:
    """The API operation of a backend method: put_inline_policy_to_permission_set -> PutInline..."""
    return "".join(part.title() for part in method.split("_"))

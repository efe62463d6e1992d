"""Per-backend state the sso-admin gap fills keep beside moto's own lists.

moto's ``BaseBackend.reset()`` wipes ``backend.__dict__`` (that is how ``mock_aws()`` starts
clean), so the state lives in the backend's ``__dict__`` and is created on first use.
``state_of()`` also brings the state up to date: every asynchronous request that has ended
since the last look is settled first, so no reader ever sees a stale view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moto.ssoadmin.models import AccountAssignment

from .async_policy import current_policy
from .async_requests import OPERATIONS, AsyncRequest, AsyncRequests, Target
from .propagation import note_created

# (instance_arn, account_id, permission_set_arn, principal_type, principal_id)
AssignmentKey = tuple[str, str, str, str, str]


@dataclass
class SsoState:
    """Indexes and async requests for one sso-admin backend."""

    assignments: dict[AssignmentKey, Any] = field(default_factory=dict)
    by_ps_account: dict[tuple[str, str], dict[AssignmentKey, None]] = field(default_factory=dict)
    by_principal: dict[tuple[str, str], dict[AssignmentKey, None]] = field(default_factory=dict)
    requests: AsyncRequests = field(default_factory=AsyncRequests)
    # permission set arn -> {account id: version provisioned there}; dicts keep insertion order
    provisioned: dict[str, dict[str, int]] = field(default_factory=dict)
    # permission set arn -> version, bumped by every change to the permission set
    versions: dict[str, int] = field(default_factory=dict)
    instance_tags: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def add_assignment(self, key: AssignmentKey, assignment: Any) -> None:
        """Index a new assignment under all three lookups."""
        instance, account, ps_arn, ptype, pid = key
        self.assignments[key] = assignment
        self.by_ps_account.setdefault((ps_arn, account), {})[key] = None
        self.by_principal.setdefault((ptype, pid), {})[key] = None

    def remove_assignment(self, key: AssignmentKey) -> Any:
        """Drop an assignment from all lookups and return it."""
        instance, account, ps_arn, ptype, pid = key
        self.by_ps_account.get((ps_arn, account), {}).pop(key, None)
        self.by_principal.get((ptype, pid), {}).pop(key, None)
        return self.assignments.pop(key)

    def version(self, ps_arn: str) -> int:
        return self.versions.get(ps_arn, 1)

    def bump(self, ps_arn: str) -> None:
        """Record a change, so accounts provisioned earlier become out of date."""
        self.versions[ps_arn] = self.version(ps_arn) + 1

    def provision(self, ps_arn: str, account_id: str, version: int | None = None) -> None:
        self.provisioned.setdefault(ps_arn, {})[account_id] = self.version(ps_arn) if version is None else version

    def start_request(self, kind: str, instance_arn: str, body: dict[str, Any], targets: set[Target],
                      effect: dict[str, Any]) -> dict[str, Any]:
        """Admit and start an async request; the caller sees IN_PROGRESS like real AWS returns."""
        policy = current_policy()
        frozen = frozenset(targets)
        self.requests.admit(policy, kind, instance_arn, frozen)
        plan = policy.plan_async("sso-admin", OPERATIONS[kind])
        return self.requests.start(kind, instance_arn, body, frozen, effect, plan, policy.now()).view()

    def settle(self, backend: Any) -> None:
        """Finish every request that has ended: FAILED ones change nothing, SUCCEEDED ones apply."""
        for request in self.requests.due(current_policy().now()):
            if request.failure_reason is None:
                _EFFECTS[request.kind](self, backend, request)
            request.status = "FAILED" if request.failure_reason else "SUCCEEDED"

    def fail_pending(self, predicate: Any, reason: str) -> None:
        """Make IN_PROGRESS requests matching `predicate` end FAILED (their subject is gone)."""
        for request in self.requests.pending():
            if predicate(request):
                request.failure_reason = reason

    def unassign(self, backend: Any, key: AssignmentKey) -> None:
        """Remove an assignment; the last one of a permission set in an account deprovisions it."""
        assignment = self.remove_assignment(key)
        backend.account_assignments.remove(assignment)
        backend.deleted_account_assignments.append(assignment)
        _, account, ps_arn, _, _ = key
        if not self.by_ps_account.get((ps_arn, account)):
            self.provisioned.get(ps_arn, {}).pop(account, None)


def _create_done(state: SsoState, backend: Any, request: AsyncRequest) -> None:
    key: AssignmentKey = request.effect["key"]
    if key not in state.assignments:  # a repeat is accepted but stores nothing new
        assignment = AccountAssignment(key[0], key[1], "AWS_ACCOUNT", key[2], key[3], key[4])
        state.add_assignment(key, assignment)
        backend.account_assignments.append(assignment)
        note_created(state, key)  # SUCCEEDED, yet listings may not show it for a while
    # Creating an assignment provisions the permission set (as it was when asked) to the account.
    state.provision(key[2], key[1], request.effect["version"])


def _delete_done(state: SsoState, backend: Any, request: AsyncRequest) -> None:
    key: AssignmentKey = request.effect["key"]
    if key in state.assignments:  # its principal may have been deleted meanwhile
        state.unassign(backend, key)


def _provision_done(state: SsoState, backend: Any, request: AsyncRequest) -> None:
    ps_arn = request.body["PermissionSetArn"]
    for account in request.effect["accounts"]:
        state.provision(ps_arn, account, request.effect["version"])


_EFFECTS = {"create": _create_done, "delete": _delete_done, "provision": _provision_done}


def state_of(backend: Any) -> SsoState:
    """The gap-fill state of a backend, created on first use (and after every reset), settled."""
    found = backend.__dict__.get("_awsideman_state")
    if found is None:
        found = backend.__dict__["_awsideman_state"] = SsoState()
    found.settle(backend)
    return found

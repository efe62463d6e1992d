"""The asynchronous sso-admin requests of one backend: admission, lifetime, statuses.

CreateAccountAssignment, DeleteAccountAssignment and ProvisionPermissionSet are accepted
IN_PROGRESS and finish (SUCCEEDED or FAILED) at a planned instant of the policy's clock. No
thread ticks them: the backend calls `due(now)` before it reads its state and applies the
effect of every request that has finished since (so an assignment appears, or goes, only once
its request SUCCEEDED, and never after a FAILED one). While a request is IN_PROGRESS it counts
against the per-instance limit and blocks every other request on the same (permission set,
account), as the real service does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.moto_api._internal import mock_random
from moto.ssoadmin.exceptions import ConflictException, ResourceNotFoundException

from ._common import ValidationException
from .async_policy import AsyncPlan, AsyncPolicy

OPERATIONS = {"create": "CreateAccountAssignment", "delete": "DeleteAccountAssignment",
              "provision": "ProvisionPermissionSet"}
STATUSES = ("IN_PROGRESS", "FAILED", "SUCCEEDED")
TOO_MANY = "There are too many requests processing. Please try again later."
# (permission set arn, account id): the unit the service runs one operation at a time on
Target = tuple[str, str]


class ThrottlingException(JsonRESTError):
    """sso-admin ThrottlingException (moto has none for this service)."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__(error_type="ThrottlingException", message=message)


@dataclass
class AsyncRequest:
    """One request: what it reports, what it touches, when it ends and what it then changes."""

    request_id: str
    kind: str
    instance_arn: str
    body: dict[str, Any]
    targets: frozenset[Target]
    done_at: float
    failure_reason: str | None
    effect: dict[str, Any] = field(default_factory=dict)
    status: str = "IN_PROGRESS"

    def view(self) -> dict[str, Any]:
        """The full status object (Describe*Status, and the answer to the call itself)."""
        out = {**self.body, "RequestId": self.request_id, "Status": self.status}
        if self.status == "FAILED":
            out["FailureReason"] = self.failure_reason
        return out

    def metadata(self) -> dict[str, Any]:
        """The listing item: AccountAssignmentOperationStatusMetadata / PermissionSetProvisioningStatusMetadata."""
        return {"RequestId": self.request_id, "Status": self.status, "CreatedDate": self.body["CreatedDate"]}


class AsyncRequests:
    """Every request of a backend by id, and the IN_PROGRESS ones in the order they end."""

    def __init__(self) -> None:
        self._all: dict[str, AsyncRequest] = {}
        self._pending: list[AsyncRequest] = []

    def admit(self, policy: AsyncPolicy, kind: str, instance_arn: str, targets: frozenset[Target]) -> None:
        """Refuse a new request over the limit (ThrottlingException) or on a busy target (Conflict)."""
        operation = OPERATIONS[kind]
        limit = policy.async_limit()
        if limit is not None and sum(r.instance_arn == instance_arn for r in self._pending) >= limit:
            policy.note("sso-admin", operation, "async_cap")
            raise ThrottlingException(TOO_MANY)
        busy = next((t for r in self._pending if r.instance_arn == instance_arn
                     for t in r.targets if t in targets), None)
        if busy is not None:
            policy.note("sso-admin", operation, "async_conflict")
            ps_id, account = busy[0].rsplit("/", 1)[-1], busy[1]
            raise ConflictException(
                f"Another operation is in progress for permission set {ps_id} in account {account}. "
                "Try again after it completes.")

    def start(self, kind: str, instance_arn: str, body: dict[str, Any], targets: frozenset[Target],
              effect: dict[str, Any], plan: AsyncPlan, now: float) -> AsyncRequest:
        """Record an accepted request, IN_PROGRESS until `now + plan.seconds`."""
        request = AsyncRequest(str(mock_random.uuid4()), kind, instance_arn,
                               {**body, "CreatedDate": unix_time()}, targets, now + plan.seconds,
                               plan.failure_reason, effect)
        self._all[request.request_id] = request
        self._pending.append(request)
        self._pending.sort(key=lambda r: r.done_at)  # stable: equal ends keep their start order
        return request

    def due(self, now: float) -> list[AsyncRequest]:
        """Take the requests that have ended by `now`, in the order they ended (caller settles them)."""
        count = next((i for i, r in enumerate(self._pending) if r.done_at > now), len(self._pending))
        ended, self._pending = self._pending[:count], self._pending[count:]
        return ended

    def pending(self) -> list[AsyncRequest]:
        """The IN_PROGRESS requests, soonest end first."""
        return list(self._pending)

    def get(self, kind: str, request_id: str | None, instance_arn: str | None) -> AsyncRequest:
        """One request of this kind (and instance, when given), else ResourceNotFoundException."""
        request = self._all.get(request_id or "")
        if request is None or request.kind != kind or (instance_arn and request.instance_arn != instance_arn):
            raise ResourceNotFoundException(f"Could not find request with id {request_id}")
        return request

    def listing(self, kind: str, instance_arn: str | None, status: str | None) -> list[dict[str, Any]]:
        """Metadata of the requests of one kind, in start order, optionally of one status."""
        if status is not None and status not in STATUSES:
            raise ValidationException(f"Filter.Status must be one of {', '.join(STATUSES)}")
        return [r.metadata() for r in self._all.values()
                if r.kind == kind and (not instance_arn or r.instance_arn == instance_arn)
                and (status is None or r.status == status)]

"""Per-backend state the sso-admin gap fills keep beside moto's own lists.

moto's ``BaseBackend.reset()`` wipes ``backend.__dict__`` (that is how ``mock_aws()`` starts
clean), so the state lives in the backend's ``__dict__`` and is created on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moto.core.utils import unix_time
from moto.moto_api._internal import mock_random
from moto.ssoadmin.exceptions import ResourceNotFoundException

# (instance_arn, account_id, permission_set_arn, principal_type, principal_id)
AssignmentKey = tuple[str, str, str, str, str]


@dataclass
class SsoState:
    """Indexes and async request records for one sso-admin backend."""

    assignments: dict[AssignmentKey, Any] = field(default_factory=dict)
    by_ps_account: dict[tuple[str, str], dict[AssignmentKey, None]] = field(default_factory=dict)
    by_principal: dict[tuple[str, str], dict[AssignmentKey, None]] = field(default_factory=dict)
    # request id -> {"kind": create|delete|provision, "body": {...}, "describes": n}
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
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

    def provision(self, ps_arn: str, account_id: str) -> None:
        self.provisioned.setdefault(ps_arn, {})[account_id] = self.version(ps_arn)

    def new_request(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Start an async request; the caller sees IN_PROGRESS like real AWS returns."""
        request_id = str(mock_random.uuid4())
        stored = {**body, "RequestId": request_id, "CreatedDate": unix_time()}
        self.requests[request_id] = {"kind": kind, "body": stored, "describes": 0}
        return {**stored, "Status": "IN_PROGRESS"}

    def describe_request(self, kind: str, request_id: str) -> dict[str, Any]:
        """IN_PROGRESS on the first describe, SUCCEEDED afterwards (so pollers really poll)."""
        record = self.requests.get(request_id or "")
        if record is None or record["kind"] != kind:
            raise ResourceNotFoundException(f"Could not find request with id {request_id}")
        record["describes"] += 1
        status = "IN_PROGRESS" if record["describes"] == 1 else "SUCCEEDED"
        return {**record["body"], "Status": status}

    def list_requests(self, kind: str, status: str | None) -> list[dict[str, Any]]:
        """Metadata of requests of one kind, as the List*Status calls return it."""
        out = []
        for request_id, record in self.requests.items():
            if record["kind"] != kind:
                continue
            current = "IN_PROGRESS" if record["describes"] == 0 else "SUCCEEDED"
            if status and status != current:
                continue
            out.append(
                {"RequestId": request_id, "Status": current, "CreatedDate": record["body"]["CreatedDate"]}
            )
        return out


def state_of(backend: Any) -> SsoState:
    """The gap-fill state of a backend, created on first use (and after every reset)."""
    found = backend.__dict__.get("_awsideman_state")
    if found is None:
        found = backend.__dict__["_awsideman_state"] = SsoState()
    return found

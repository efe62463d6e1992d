"""Asynchronous sso-admin requests: started once, then settled many at a time.

CreateAccountAssignment, DeleteAccountAssignment and ProvisionPermissionSet answer with a
request that stays IN_PROGRESS until the service finishes it, and an instance runs at most 15
at once. `AsyncRequests.start` sends one without doubling it after a lost answer (adopt the
request already in flight, else count an effect already in place as done, else send again);
`poll` settles many with the List*Status calls (the cost of a round is in its docstring);
`running` says how many the instance has outstanding. What to send is the writer's business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from awsideman.adapters.aws import AwsGateway
from awsideman.adapters.idempotent_writes import APPLIED, FOUND_AFTER_LOST_RESPONSE, MAX_SENDS
from awsideman.adapters.identity_center import PAGE, SSO, Instance
from awsideman.core.exceptions import AmbiguousWriteError

IN_PROGRESS, SUCCEEDED, FAILED = "IN_PROGRESS", "SUCCEEDED", "FAILED"
ASSIGNMENT_CREATE, ASSIGNMENT_DELETE, PROVISION = "assignment-create", "assignment-delete", "provision"
# The request kind of each asynchronous change (resource, action) of a plan.
ASYNC_KIND = {("assignment", "create"): ASSIGNMENT_CREATE, ("assignment", "delete"): ASSIGNMENT_DELETE,
              ("provision", "provision"): PROVISION}


@dataclass(frozen=True)
class AsyncRequest:
    """One asynchronous sso-admin request and its latest known status.

    ``request_id`` is None only when a lost answer was settled by reading the result (the
    assignment exists, the account is provisioned): there is then nothing left to poll.
    """

    kind: str  # ASSIGNMENT_CREATE | ASSIGNMENT_DELETE | PROVISION
    request_id: str | None
    status: str  # IN_PROGRESS | SUCCEEDED | FAILED
    failure_reason: str | None = None
    outcome: str = APPLIED

    @property
    def done(self) -> bool:
        return self.status != IN_PROGRESS

    @property
    def found_after_lost_response(self) -> bool:
        return self.outcome == FOUND_AFTER_LOST_RESPONSE


@dataclass(frozen=True)
class _AsyncApi:
    """The status calls of one kind of asynchronous request."""

    operation: str  # the write itself
    status_key: str  # its status object, in the write's and Describe's answers
    list_operation: str
    list_key: str
    describe_operation: str
    describe_id: str


_ASYNC: dict[str, _AsyncApi] = {
    ASSIGNMENT_CREATE: _AsyncApi(
        "CreateAccountAssignment", "AccountAssignmentCreationStatus", "ListAccountAssignmentCreationStatus",
        "AccountAssignmentsCreationStatus", "DescribeAccountAssignmentCreationStatus",
        "AccountAssignmentCreationRequestId"),
    ASSIGNMENT_DELETE: _AsyncApi(
        "DeleteAccountAssignment", "AccountAssignmentDeletionStatus", "ListAccountAssignmentDeletionStatus",
        "AccountAssignmentsDeletionStatus", "DescribeAccountAssignmentDeletionStatus",
        "AccountAssignmentDeletionRequestId"),
    PROVISION: _AsyncApi(
        "ProvisionPermissionSet", "PermissionSetProvisioningStatus", "ListPermissionSetProvisioningStatus",
        "PermissionSetsProvisioningStatus", "DescribePermissionSetProvisioningStatus",
        "ProvisionPermissionSetRequestId"),
}


def _request(kind: str, status: dict[str, Any], outcome: str = APPLIED) -> AsyncRequest:
    return AsyncRequest(kind, str(status["RequestId"]), str(status["Status"]), status.get("FailureReason"),
                        outcome)


class AsyncRequests:
    """Starting and polling the asynchronous requests of one instance; holds no state of its own."""

    def __init__(self, gateway: AwsGateway, instance: Instance) -> None:
        self.gateway = gateway
        self.instance = instance

    def start(self, kind: str, target: dict[str, Any], identity: dict[str, str],
              done: Callable[[], bool]) -> AsyncRequest:
        """Send an asynchronous write; after a lost answer, find its request or its result first.

        ``target``: the write's parameters; ``identity``: the status fields naming its target;
        ``done``: whether its effect is already in place (read from live state).
        """
        api = _ASYNC[kind]
        lost: AmbiguousWriteError | None = None
        for _ in range(MAX_SENDS):
            try:
                status = self.gateway.call(SSO, api.operation, idempotent=False, **target)[api.status_key]
            except AmbiguousWriteError as exc:
                lost = exc
                found = self._in_flight(kind, api, identity)
                if found is None and done():
                    found = AsyncRequest(kind, None, SUCCEEDED, outcome=FOUND_AFTER_LOST_RESPONSE)
                if found is not None:
                    return found
                continue
            # A resend that is answered applied it: the lookup had shown the first one had not.
            return _request(kind, status)
        assert lost is not None
        raise lost

    def poll(self, requests: Iterable[AsyncRequest]) -> dict[str, AsyncRequest]:
        """The latest status of every request with an id, settling as many as possible at once.

        Per kind with requests still IN_PROGRESS, one round costs:
        - 1 List*Status filtered on IN_PROGRESS (one page: an instance has at most 15
          outstanding): the requests it lists are still running;
        - only if some of ours are no longer listed: List*Status filtered on FAILED, page by
          page until all of them are found or the pages read reach the number still unknown
          (then one Describe*Status each is no dearer); the ones it lists failed, the others
          SUCCEEDED (the only other status);
        - 1 Describe*Status per FAILED request, for its FailureReason (the listing has none).
        So a round is at most 2 calls per kind (6 in all) plus one per failure, whatever the
        number of requests, against one Describe per request per round when polled one by one.
        Requests already settled are returned unchanged and cost nothing.
        """
        latest = {r.request_id: r for r in requests if r.request_id is not None}
        for kind, api in _ASYNC.items():
            pending = {rid for rid, r in latest.items() if r.kind == kind and not r.done}
            if pending:
                latest.update(self._settle(kind, api, pending))
        return latest

    def running(self, kind: str) -> int:
        """How many requests of ``kind`` the instance has IN_PROGRESS (one listing: at most 15 exist)."""
        return len(self._statuses(_ASYNC[kind], IN_PROGRESS))

    def _settle(self, kind: str, api: _AsyncApi, pending: set[str]) -> dict[str, AsyncRequest]:
        running = {s["RequestId"] for s in self._statuses(api, IN_PROGRESS)}
        finished = pending - running
        if not finished:
            return {}
        failed, unknown = self._failed_among(api, finished)
        settled = {rid: AsyncRequest(kind, rid, SUCCEEDED) for rid in finished - failed - unknown}
        for rid in failed | unknown:
            status = self._describe(api, rid)
            settled[rid] = AsyncRequest(kind, rid, str(status["Status"]), status.get("FailureReason"))
        return settled

    def _failed_among(self, api: _AsyncApi, finished: set[str]) -> tuple[set[str], set[str]]:
        """(ids listed FAILED, ids the listing was not read far enough to tell)."""
        failed: set[str] = set()
        token: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"NextToken": token} if token else {}
            answer = self.gateway.call(SSO, api.list_operation, InstanceArn=self.instance.instance_arn,
                                       MaxResults=PAGE, Filter={"Status": FAILED}, **params)
            pages += 1
            failed |= {s["RequestId"] for s in answer.get(api.list_key, [])} & finished
            token = answer.get("NextToken")
            unknown = finished - failed
            if not token or not unknown:
                return failed, set()
            if pages >= len(unknown):  # a long failure history: describing the rest is cheaper
                return failed, unknown

    def _statuses(self, api: _AsyncApi, status: str) -> list[dict[str, Any]]:
        return list(self.gateway.pages(SSO, api.list_operation, api.list_key, MaxResults=PAGE,
                                       InstanceArn=self.instance.instance_arn, Filter={"Status": status}))

    def _describe(self, api: _AsyncApi, request_id: str) -> dict[str, Any]:
        request: dict[str, Any] = {api.describe_id: request_id}
        answer = self.gateway.call(SSO, api.describe_operation, InstanceArn=self.instance.instance_arn, **request)
        return dict(answer[api.status_key])

    def _in_flight(self, kind: str, api: _AsyncApi, identity: dict[str, str]) -> AsyncRequest | None:
        """The IN_PROGRESS request for this target, if any (1 listing + 1 Describe per running request)."""
        for listed in self._statuses(api, IN_PROGRESS):
            status = self._describe(api, listed["RequestId"])
            if all(status.get(key) == value for key, value in identity.items()):
                return _request(kind, status, FOUND_AFTER_LOST_RESPONSE)
        return None

"""The AWS gateway: the only module that imports boto3.

Every API call goes through `AwsGateway.call`: exactly one botocore attempt per try
(botocore retries are off) inside the app's retry policy, which also owns the shared rate
limiter (a token before each attempt, slower after a throttle). Pagination is done here by hand so that each
page is one retried, rate-limited call.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError, ProfileNotFound

from awsideman.core.exceptions import ConfigError, CredentialsExpiredError, MissingRegionError
from awsideman.core.retry import RetryPolicy

log = logging.getLogger("awsideman.aws")

# Operations that only read: their request ids are not kept for the audit trail.
READ_PREFIXES = ("List", "Describe", "Get", "Is", "Search")
CREDENTIALS_REFRESH_STEP = (
    "Refresh the credentials: export new keys and session token (or use a profile that refreshes them: "
    "SSO with `aws sso login`, credential_process or assume-role, which awsideman renews mid-run).")
# The session's credentials expired (not RequestExpired: that is a signature dated too long ago).
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException"})


def _snake(operation: str) -> str:
    from botocore import xform_name

    return xform_name(operation)


class AwsGateway:
    """Clients for one profile/region; every call goes through one retry policy."""

    def __init__(self, *, profile: str | None, region: str | None, retry: RetryPolicy,
                 max_pool: int = 16, timeout: float | None = None) -> None:
        # Imported here, not at the top: boto3 is most of the CLI's start-up, and the offline
        # commands (report, backup list/show/verify, analyze-error) never build a gateway.
        import boto3
        from botocore.config import Config

        self._profile = profile
        self._generation = 0  # bumped each time the credentials are refreshed (new session)
        try:
            self._session = boto3.Session(profile_name=profile, region_name=region)
        except ProfileNotFound as exc:
            raise ConfigError(f"AWS profile {profile!r} not found",
                              remediation=["List profiles with `aws configure list-profiles`.",
                                           "Pass --profile NAME or set AWS_PROFILE."]) from exc
        if not self._session.region_name:
            raise MissingRegionError(
                "No AWS region configured for the Identity Center instance",
                remediation=["Pass --region REGION, set AWS_REGION (or AWS_DEFAULT_REGION), or set `region:` in "
                             "the config file or the AWS profile: the region of the Identity Center instance."])
        self._retry = retry
        # ``timeout`` caps each attempt's connect and read (a notification's sink, bounded end to end).
        self._config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                              max_pool_connections=max_pool, connect_timeout=min(10, timeout or 10),
                              read_timeout=min(60, timeout or 60))
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        # The Date header of the last answer and when it arrived (local epoch seconds).
        self.server_date: tuple[str, float] | None = None
        self._recording = threading.local()  # per thread: the list the writes sent now are noted in
        self._caller: dict[str, Any] | None = None
        self._caller_known = False
        self._halted: CredentialsExpiredError | None = None

    @property
    def credentials_expired(self) -> CredentialsExpiredError | None:
        """The error of credentials that expired and could not be refreshed, else None."""
        return self._halted

    def pause(self, seconds: float) -> None:
        """Wait between two reads of the same thing (the retry policy's sleep: stoppable, injectable)."""
        self._retry.pause(seconds)

    @property
    def region(self) -> str:
        return str(self._session.region_name)

    @property
    def retry_stats(self) -> dict[str, Any]:
        return self._retry.stats.snapshot()

    def client(self, service: str) -> Any:
        # Sessions are not thread-safe; clients are. Create each client once, under a lock.
        with self._lock:
            if service not in self._clients:
                client = self._session.client(service, config=self._config)  # type: ignore[call-overload]
                # The retry policy checks before each attempt, but signing and pooling come
                # after that: a process paused there (SIGSTOP, a frozen VM) would send a change
                # on waking, even after its lease on the shared state ran out, and a worker
                # past the check would send after the credentials were found dead. The last
                # check runs just before the bytes go out, ahead of any other handler.
                client.meta.events.register_first("before-send", self._last_check)
                self._clients[service] = client
            return self._clients[service]

    def _last_check(self, **_: Any) -> None:
        if self._halted is not None:
            raise copy.copy(self._halted)
        if self._retry.stop is not None:
            self._retry.stop.check()

    def call(self, service: str, operation: str, *, idempotent: bool = True, **params: Any) -> dict[str, Any]:
        """One API call (PascalCase operation name), rate-limited and retried by policy.

        ``idempotent=False`` for writes that must not be sent twice (see ``RetryPolicy.call``).
        """
        name = _snake(operation)

        def attempt() -> dict[str, Any]:
            method = getattr(self.client(service), name)  # per attempt: a refresh replaces the clients
            with self._lock:
                self.calls[f"{service}:{operation}"] += 1
            log.debug("request %s:%s %s", service, operation, sorted(params))
            try:
                response = dict(method(**params))
            except ClientError as exc:
                self._note_write(service, operation, exc.response.get("ResponseMetadata"), client_error_code(exc))
                raise
            meta = response.pop("ResponseMetadata", None) or {}
            self._note_write(service, operation, meta, None)
            date = (meta.get("HTTPHeaders") or {}).get("date")
            if date:
                self.server_date = (str(date), time.time())  # the service's clock, for `doctor`
            return response

        generation = self._generation
        try:
            return self._retry.call(attempt, service=service, operation=operation, idempotent=idempotent)
        except ClientError as exc:
            if client_error_code(exc) not in EXPIRED_CODES:
                raise
            # The service refuses an expired key before it looks at the request, so even a
            # write is safe to send again: once, with refreshed credentials, when they can be.
            if not self._refresh_credentials(generation):
                self._halt(service, operation, exc)
                raise
        try:
            return self._retry.call(attempt, service=service, operation=operation, idempotent=idempotent)
        except ClientError as exc:
            if client_error_code(exc) in EXPIRED_CODES:
                self._halt(service, operation, exc)
            raise

    def _refresh_credentials(self, generation: int) -> bool:
        """New credentials after an expiry answer: True when they were (or already are) renewed.

        botocore renews credentials that come from a profile (SSO, credential_process,
        assume-role) before they expire; an answer saying they expired anyway (a clock off, a
        session revoked early) is met by a new session, which resolves them again. Keys from
        the environment or a credentials file are static: a new session would find the same
        dead keys, so nothing is refreshed.
        """
        import boto3
        from botocore.credentials import RefreshableCredentials

        with self._lock:
            if self._generation != generation:  # another worker refreshed meanwhile
                return True
            if not isinstance(self._session.get_credentials(), RefreshableCredentials):
                return False
            log.info("credentials expired; refreshing them from the profile")
            self._session = boto3.Session(profile_name=self._profile, region_name=self._session.region_name)
            self._clients.clear()
            self._generation += 1
            return True

    def _halt(self, service: str, operation: str, exc: ClientError) -> None:
        """Credentials that expired and cannot be refreshed: no request of this run may go out
        after this answer (every later attempt, queued or retrying, is refused before sending)."""
        error = CredentialsExpiredError(
            f"The AWS credentials expired during the run ({service}:{operation} answered "
            f"{client_error_code(exc)}: {client_error_message(exc) or 'expired'}); they cannot be refreshed "
            "(keys from the environment or a credentials file), so no further request was sent.",
            remediation=[CREDENTIALS_REFRESH_STEP])
        self._halted = self._halted or error
        if self._retry.stop is not None:
            self._retry.stop.halt(error)

    @contextlib.contextmanager
    def recording_writes(self, calls: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Note in ``calls`` every write this thread sends meanwhile that the service answered:
        ``{"api": "service:Operation", "request_id": ..., "error": code or absent}`` (the audit
        trail's link to CloudTrail). Reads are left out; so is an attempt that got no answer."""
        previous = getattr(self._recording, "calls", None)
        self._recording.calls = calls
        try:
            yield calls
        finally:
            self._recording.calls = previous

    def _note_write(self, service: str, operation: str, meta: Any, error: str | None) -> None:
        calls = getattr(self._recording, "calls", None)
        request_id = (meta or {}).get("RequestId")
        if calls is None or not request_id or operation.startswith(READ_PREFIXES):
            return
        call = {"api": f"{service}:{operation}", "request_id": str(request_id)}
        calls.append(call if error is None else dict(call, error=error))

    def caller_identity(self) -> dict[str, Any] | None:
        """``sts:GetCallerIdentity`` (``Arn``, ``Account``), asked once per gateway; None when it
        failed (who the caller is is informative: a denied STS call must not stop a run)."""
        with self._lock:
            if self._caller_known:
                return self._caller
        try:
            identity: dict[str, Any] | None = self.call("sts", "GetCallerIdentity")
        except Exception:  # noqa: BLE001 - see the docstring
            identity = None
        with self._lock:
            self._caller, self._caller_known = identity, True
        return identity

    def pages(self, service: str, operation: str, key: str, **params: Any) -> Iterator[Any]:
        """Items under `key` from every page of a NextToken-paginated operation."""
        token: str | None = None
        while True:
            request = dict(params, NextToken=token) if token else params
            response = self.call(service, operation, **request)
            yield from response.get(key, [])
            token = response.get("NextToken")
            if not token:
                return

    def call_count(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def calls_by_operation(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self.calls.items()))


def client_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ClientError, else None (lets other layers avoid botocore)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code"))
    return None


def client_error_message(exc: BaseException) -> str:
    """The service's own message of a ClientError ("" for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Message") or "")
    return ""


def client_error_reason(exc: BaseException) -> str | None:
    """identitystore's machine-readable ``Reason`` (e.g. UNIQUENESS_CONSTRAINT_VIOLATION), else None."""
    if not isinstance(exc, ClientError):
        return None
    response: Any = exc.response  # modeled error fields land at the top level or under Error
    reason = response.get("Reason") or response.get("Error", {}).get("Reason")
    return str(reason) if reason else None

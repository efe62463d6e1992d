"""Fault injection for the sandbox: one rule set, one decision function, two transports.

`FaultRules` is the validated rule file; `FaultInjector.decide(service, operation)` counts the
call, sleeps the configured latency and returns the `Fault` to inject (or None). The
in-process transport is a botocore `before-send` handler placed ahead of moto's stubber
(`install()` / `uninstall()`); the server transport is the WSGI middleware in `server.py`.
Both render faults with `error_response()`, so a client cannot tell the two modes apart.

Rule file (YAML or JSON)::

    seed: 7                      # random.Random(seed): a failing run replays exactly
    latency_ms: 5                # added to every call
    quotas: real                 # real | off | {service: {rate, burst, scope}}
    rules:                       # first matching rule wins, in file order
      - operation: sso-admin:ListAccountAssignments   # Name, service:Name, service:* or *
        throttle: 0.1            # probabilities, summing to at most 1
        server_error: 0.05
        reset: 0.01              # connection reset before the service saw the call
        lost_response: 0.01      # the service applied the call, then the connection dropped
        latency_ms: 20
      - operation: ListPermissionSets
        fail_after: 3            # calls 1..3 succeed, every later call fails with `error`
        error: AccessDeniedException   # or one of PERMANENT_ERRORS, e.g. ExpiredTokenException
"""

from __future__ import annotations

import io
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"
SCOPES = ("shared", "per-operation")
PROBABILITIES = ("throttle", "server_error", "reset", "lost_response")
RULE_KEYS = ("operation", *PROBABILITIES, "latency_ms", "fail_after", "error")
TOP_KEYS = ("seed", "latency_ms", "quotas", "rules")
QUOTA_KEYS = ("rate", "burst", "scope")
PERMANENT_ERRORS = ("AccessDeniedException", "ResourceNotFoundException", "ValidationException",
                    "ConflictException", "ServiceQuotaExceededException", "ExpiredTokenException")
_PATTERN = re.compile(r"^(?:\*|(?:(?P<service>[a-z0-9-]+):)?(?P<op>\*|[A-Za-z][A-Za-z0-9]*))$")

# Implementation note: these are the documented shapes of the quotas (DESIGN section 3):
# sso-admin has one budget shared by all its APIs, identitystore one budget per API.
REAL_QUOTAS: dict[str, tuple[float, float, str]] = {
    "sso-admin": (20.0, 20.0, "shared"),
    "identitystore": (20.0, 20.0, "per-operation"),
}
# Services whose wire protocol is not JSON; everything else here speaks JSON 1.1.
PROTOCOLS = {"s3": "rest-xml", "sts": "query", "iam": "query"}
# The IAM action prefix, used in AccessDenied messages.
IAM_PREFIX = {"sso-admin": "sso", "identitystore": "identitystore"}


class FaultRulesError(ValueError):
    """A fault rule file or mapping is invalid; the message names the file and key path."""


# -- rules -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Quota:
    """A token bucket shape: `rate` calls/s refilled, `burst` calls available at once."""

    rate: float
    burst: float
    scope: str = "shared"


@dataclass(frozen=True)
class OperationRule:
    """Faults for operations matching `operation` (`*`, `Name`, `service:Name`, `service:*`)."""

    operation: str = "*"
    throttle: float = 0.0
    server_error: float = 0.0
    reset: float = 0.0
    lost_response: float = 0.0
    latency_ms: float = 0.0
    fail_after: int | None = None
    error: str = "AccessDeniedException"

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in RULE_KEYS if getattr(self, k) is not None}
        if self.fail_after is None:
            del data["error"]
        return data

    def matches(self, service: str, operation: str) -> bool:
        if self.operation == "*":
            return True
        svc, _, op = self.operation.rpartition(":")
        return (not svc or svc == service) and op in ("*", operation)


@dataclass(frozen=True)
class FaultRules:
    """The whole rule set; an empty `FaultRules()` injects nothing."""

    seed: int = 0
    latency_ms: float = 0.0
    quotas: Mapping[str, Quota] = field(default_factory=dict)
    rules: tuple[OperationRule, ...] = ()

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> FaultRules:
        """Validate `data` strictly; errors read `source: key.path: problem`."""
        return _parse(data, source)

    @classmethod
    def from_file(cls, path: str | Path) -> FaultRules:
        """Load a YAML or JSON rule file (JSON is YAML, so one parser reads both)."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise FaultRulesError(f"{path.name}: cannot read fault rules: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise FaultRulesError(f"{path.name}: not valid YAML/JSON: {exc}") from exc
        return _parse({} if data is None else data, path.name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form accepted by `from_dict` (used to send rules to a served sandbox)."""
        return {
            "seed": self.seed,
            "latency_ms": self.latency_ms,
            "quotas": {s: {"rate": q.rate, "burst": q.burst, "scope": q.scope}
                       for s, q in self.quotas.items()},
            "rules": [r.to_dict() for r in self.rules],
        }


def coerce_rules(rules: FaultRules | Mapping[str, Any] | str | Path | None) -> FaultRules:
    """Accept rules as an object, a mapping, or a file path."""
    if rules is None:
        return FaultRules()
    if isinstance(rules, FaultRules):
        return rules
    if isinstance(rules, (str, Path)):
        return FaultRules.from_file(rules)
    return FaultRules.from_dict(rules)


def _fail(source: str | None, path: str, problem: str) -> FaultRulesError:
    where = f"{path}: " if path else ""
    return FaultRulesError(f"{source}: {where}{problem}" if source else f"{where}{problem}")


def _number(value: Any, source: str | None, path: str, *, low: float = 0.0,
            high: float = math.inf, what: str = "a number >= 0") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _fail(source, path, f"must be {what}")
    return float(value)


def _mapping(value: Any, keys: tuple[str, ...], source: str | None, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(source, path, "must be a mapping")
    for key in value:
        if key not in keys:
            known = ", ".join(keys)
            raise _fail(source, f"{path}.{key}" if path else str(key), f"unknown key (known: {known})")
    return value


def _parse(data: Any, source: str | None) -> FaultRules:
    data = _mapping(data, TOP_KEYS, source, "")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _fail(source, "seed", "must be an integer")
    latency = _number(data.get("latency_ms", 0), source, "latency_ms")
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise _fail(source, "rules", "must be a list")
    return FaultRules(seed=seed, latency_ms=latency, quotas=_parse_quotas(data.get("quotas", "off"), source),
                      rules=tuple(_parse_rule(r, source, f"rules[{i}]") for i, r in enumerate(rules)))


def _parse_quotas(value: Any, source: str | None) -> dict[str, Quota]:
    if value in ("off", None):
        return {}
    if value == "real":
        return {s: Quota(*shape) for s, shape in REAL_QUOTAS.items()}
    if not isinstance(value, Mapping):
        raise _fail(source, "quotas", "must be 'real', 'off' or a mapping of service to {rate, burst, scope}")
    quotas = {}
    for service, spec in value.items():
        path = f"quotas.{service}"
        if not isinstance(service, str) or not re.fullmatch(r"[a-z0-9-]+", service):
            raise _fail(source, path, "must be a service name such as sso-admin")
        spec = _mapping(spec, QUOTA_KEYS, source, path)
        if "rate" not in spec:
            raise _fail(source, f"{path}.rate", "is required")
        rate = _number(spec["rate"], source, f"{path}.rate", low=1e-9, what="a number > 0")
        burst = _number(spec.get("burst", max(rate, 1.0)), source, f"{path}.burst", low=1.0,
                        what="a number >= 1")
        default_scope = REAL_QUOTAS.get(service, (0, 0, "shared"))[2]
        scope = spec.get("scope", default_scope)
        if scope not in SCOPES:
            raise _fail(source, f"{path}.scope", f"must be one of {', '.join(SCOPES)}")
        quotas[service] = Quota(rate, burst, scope)
    return quotas


def _parse_rule(value: Any, source: str | None, path: str) -> OperationRule:
    value = _mapping(value, RULE_KEYS, source, path)
    pattern = value.get("operation", "*")
    if not isinstance(pattern, str) or not _PATTERN.match(pattern):
        raise _fail(source, f"{path}.operation",
                    f"unknown operation pattern {pattern!r} (use *, Name, service:Name or service:*)")
    probs = {k: _number(value.get(k, 0), source, f"{path}.{k}", high=1.0,
                        what="a number between 0 and 1") for k in PROBABILITIES}
    if sum(probs.values()) > 1.0 + 1e-9:
        raise _fail(source, path, f"{' + '.join(PROBABILITIES)} must not exceed 1")
    fail_after = value.get("fail_after")
    if fail_after is not None and (isinstance(fail_after, bool) or not isinstance(fail_after, int)
                                   or fail_after < 0):
        raise _fail(source, f"{path}.fail_after", "must be an integer >= 0")
    error = value.get("error", "AccessDeniedException")
    if error not in PERMANENT_ERRORS:
        raise _fail(source, f"{path}.error", f"must be one of {', '.join(PERMANENT_ERRORS)}")
    if "error" in value and fail_after is None:
        raise _fail(source, f"{path}.error", "needs fail_after (the call count after which it fails)")
    return OperationRule(operation=pattern, latency_ms=_number(value.get("latency_ms", 0), source,
                                                              f"{path}.latency_ms"),
                         fail_after=fail_after, error=error, **probs)


# -- decisions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    """One injected failure: `kind` is throttle, server_error, reset, lost_response or error."""

    kind: str
    service: str
    operation: str
    code: str = ""
    message: str = ""
    retry_after: int | None = None


class TokenBucket:
    """Refills `rate` tokens per second up to `burst`; `take()` never blocks."""

    def __init__(self, quota: Quota, clock: Callable[[], float]) -> None:
        self.quota = quota
        self._clock = clock
        self._tokens = quota.burst
        self._stamp = clock()

    def take(self) -> float:
        """Take a token: 0.0 on success, else the seconds until one is available."""
        now = self._clock()
        self._tokens = min(self.quota.burst, self._tokens + (now - self._stamp) * self.quota.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.quota.rate


class FaultInjector:
    """Counts calls and decides faults from the current rules; safe to share across threads."""

    def __init__(self, rules: FaultRules | Mapping[str, Any] | str | Path | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._calls: dict[str, int] = {}
        self._faults: dict[str, int] = {}
        self.set_rules(rules)

    @property
    def rules(self) -> FaultRules:
        return self._rules

    def set_rules(self, rules: FaultRules | Mapping[str, Any] | str | Path | None) -> None:
        """Swap the rule set atomically; randomness and quota buckets restart from the new rules."""
        parsed = coerce_rules(rules)
        with self._lock:
            self._rules = parsed
            self._random = random.Random(parsed.seed)
            self._buckets: dict[str, TokenBucket] = {}

    def counters(self) -> dict[str, int]:
        """Calls seen per `service:Operation` (faulted or not) since the last reset."""
        with self._lock:
            return dict(self._calls)

    def fault_counters(self) -> dict[str, int]:
        """Faults injected per `service:Operation:kind`."""
        with self._lock:
            return dict(self._faults)

    def reset_counters(self) -> None:
        with self._lock:
            self._calls.clear()
            self._faults.clear()

    def decide(self, service: str, operation: str) -> Fault | None:
        """Count the call, sleep its latency, and return the fault to inject, if any."""
        with self._lock:
            key = f"{service}:{operation}"
            self._calls[key] = count = self._calls.get(key, 0) + 1
            rules = self._rules
            rule = next((r for r in rules.rules if r.matches(service, operation)), None)
            fault = self._choose(rule, service, operation, count)
            if fault is not None:
                fkey = f"{key}:{fault.kind}"
                self._faults[fkey] = self._faults.get(fkey, 0) + 1
        delay = rules.latency_ms + (rule.latency_ms if rule else 0.0)
        if delay > 0:
            self._sleep(delay / 1000.0)
        return fault

    def _choose(self, rule: OperationRule | None, service: str, operation: str, count: int) -> Fault | None:
        if rule is not None and rule.fail_after is not None and count > rule.fail_after:
            return Fault("error", service, operation, rule.error, _error_message(rule.error, service, operation))
        wait = self._take_token(service, operation)
        if wait > 0:
            return Fault("throttle", service, operation, "ThrottlingException", "Rate exceeded",
                         retry_after=max(1, math.ceil(wait)))
        if rule is None or not any(getattr(rule, k) for k in PROBABILITIES):
            return None
        draw, edge = self._random.random(), 0.0
        for kind in PROBABILITIES:
            edge += getattr(rule, kind)
            if draw < edge:
                return _random_fault(kind, service, operation)
        return None

    def _take_token(self, service: str, operation: str) -> float:
        quota = self._rules.quotas.get(service)
        if quota is None:
            return 0.0
        key = service if quota.scope == "shared" else f"{service}:{operation}"
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(quota, self._clock)
        return bucket.take()


def _random_fault(kind: str, service: str, operation: str) -> Fault:
    if kind == "throttle":
        return Fault(kind, service, operation, "ThrottlingException", "Rate exceeded", retry_after=1)
    if kind == "server_error":
        return Fault(kind, service, operation, "InternalServerException",
                     "An internal error occurred. Try again.", retry_after=1)
    return Fault(kind, service, operation)


def _error_message(code: str, service: str, operation: str) -> str:
    if code == "AccessDeniedException":
        action = f"{IAM_PREFIX.get(service, service)}:{operation}"
        return (f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/SandboxRole/sandbox is not authorized to "
                f"perform: {action} because no identity-based policy allows the {action} action")
    return {
        "ResourceNotFoundException": "The specified resource does not exist.",
        "ValidationException": "The request failed validation.",
        "ConflictException": "Operation conflicts with the current state of the resource.",
        "ServiceQuotaExceededException": "The request would exceed a service quota.",
        "ExpiredTokenException": "The security token included in the request is expired",
    }.get(code, code)


# -- wire shapes -----------------------------------------------------------------------------
# Implementation note: the codes below are what each protocol's real service sends, so that
# botocore's parsers produce the same `Error.Code` the product code will meet in production.
_STATUS = {"throttle": 400, "server_error": 500, "error": 400}
_QUERY_CODES = {"ThrottlingException": "Throttling", "InternalServerException": "InternalFailure",
                "AccessDeniedException": "AccessDenied", "ExpiredTokenException": "ExpiredToken"}
_S3_CODES = {"ThrottlingException": ("SlowDown", 503), "InternalServerException": ("InternalError", 500),
             "AccessDeniedException": ("AccessDenied", 403)}
_KMS_CODES = {"InternalServerException": "KMSInternalException"}


def error_response(fault: Fault) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the real-shaped error for `fault` (not for resets/lost responses)."""
    request_id = str(uuid.uuid4())
    status = _STATUS[fault.kind]
    protocol = PROTOCOLS.get(fault.service, "json")
    if protocol == "rest-xml":
        code, status = _S3_CODES.get(fault.code, (fault.code, status))
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
                f"<Message>{_xml(fault.message)}</Message><RequestId>{request_id}</RequestId></Error>")
        return status, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body.encode()
    if protocol == "query":
        code = _QUERY_CODES.get(fault.code, fault.code)
        if code == "AccessDenied":
            status = 403
        side = "Receiver" if status >= 500 else "Sender"
        body = (f"<ErrorResponse><Error><Type>{side}</Type><Code>{code}</Code><Message>{_xml(fault.message)}"
                f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()
    code = _KMS_CODES.get(fault.code, fault.code) if fault.service == "kms" else fault.code
    document: dict[str, Any] = {"__type": code, "message": fault.message}
    if fault.service == "identitystore":  # its errors model RequestId and RetryAfterSeconds
        document["RequestId"] = request_id
        if fault.retry_after is not None:
            document["RetryAfterSeconds"] = fault.retry_after
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id,
               "x-amzn-ErrorType": code}
    if fault.retry_after is not None and fault.kind == "throttle":
        headers["Retry-After"] = str(fault.retry_after)
    return status, headers, json.dumps(document).encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- in-process transport ------------------------------------------------------------------
class _RawBody(io.BytesIO):
    """The `raw` object botocore's AWSResponse reads (`stream()` like urllib3's)."""

    def stream(self, **_: Any):
        yield self.getvalue()


_active: FaultInjector | None = None
_install_lock = threading.Lock()


def _before_send(request: Any, event_name: str = "", **_: Any) -> Any:
    """botocore `before-send` handler: a response or an exception pre-empts moto and the network."""
    injector = _active
    if injector is None:
        return None
    # event_name is `before-send.<service-id, hyphenized>.<OperationName>` (botocore/endpoint.py)
    _, service, operation = event_name.split(".", 2)
    fault = injector.decide(service, operation)
    if fault is None:
        return None
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ConnectionClosedError

    if fault.kind == "lost_response":
        from moto.core.models import botocore_stubber

        botocore_stubber(event_name=event_name, request=request)  # moto applies it; the answer is lost
    if fault.kind in ("reset", "lost_response"):
        # botocore catches exceptions from before-send exactly like transport errors
        raise ConnectionClosedError(endpoint_url=request.url)
    status, headers, body = error_response(fault)
    return AWSResponse(request.url, status, headers, _RawBody(body))


def install(injector: FaultInjector) -> None:
    """Put the in-process handler first among botocore's built-in before-send handlers.

    botocore stops at the first before-send handler that returns a response; moto appends its
    stubber to `BUILTIN_HANDLERS` when imported, so inserting at index 0 runs ours before it.
    Sessions (and their clients) created from now on get the handler; it is inert while no
    injector is installed, so sessions that outlive `uninstall()` are unaffected.
    """
    global _active
    from botocore.handlers import BUILTIN_HANDLERS

    with _install_lock:
        _active = injector
        spec = ("before-send", _before_send)
        if spec not in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.insert(0, spec)


def uninstall() -> None:
    """Remove the handler from botocore's built-ins and disarm it in existing sessions."""
    global _active
    from botocore.handlers import BUILTIN_HANDLERS

    with _install_lock:
        _active = None
        while ("before-send", _before_send) in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(("before-send", _before_send))

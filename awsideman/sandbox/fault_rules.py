"""The fault rule file: its keys, its validation, and the immutable rule set it becomes.

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

Asynchronous sso-admin requests (CreateAccountAssignment, DeleteAccountAssignment,
ProvisionPermissionSet; see ``gapfills/async_requests.py``)::

    async_seconds: 1.0           # time each request stays IN_PROGRESS (default 0: done at once)
    async_max_outstanding: 15    # IN_PROGRESS requests per instance (default 15, the real limit) | off
    rules:
      - operation: CreateAccountAssignment
        async_seconds: 3         # this operation's requests take longer
        async_fail: 0.2          # probability that an accepted request ends FAILED
        async_fail_after: 5      # requests 1..5 succeed, every later one ends FAILED
        failure_reason: "Received a 409 status error: ..."   # the FailureReason reported

Validation is strict: every error names the source (file name or control request) and the
key path, e.g. ``faults.yaml: rules[2].throttle: must be a number between 0 and 1``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from awsideman.sandbox.gapfills.async_policy import MAX_OUTSTANDING

SCOPES = ("shared", "per-operation")
PROBABILITIES = ("throttle", "server_error", "reset", "lost_response")
ASYNC_RULE_KEYS = ("async_seconds", "async_fail", "async_fail_after", "failure_reason")
RULE_KEYS = ("operation", *PROBABILITIES, "latency_ms", "fail_after", "error", *ASYNC_RULE_KEYS)
TOP_KEYS = ("seed", "latency_ms", "quotas", "async_seconds", "async_max_outstanding", "rules")
QUOTA_KEYS = ("rate", "burst", "scope")
PERMANENT_ERRORS = ("AccessDeniedException", "ResourceNotFoundException", "ValidationException",
                    "ConflictException", "ServiceQuotaExceededException", "ExpiredTokenException")
# The service's asynchronous writes: the only operations that have a request status.
ASYNC_OPERATIONS = ("CreateAccountAssignment", "DeleteAccountAssignment", "ProvisionPermissionSet")
ASYNC_SERVICE = "sso-admin"
DEFAULT_FAILURE_REASON = "The request failed (failure injected by the sandbox's fault rules)."
_PATTERN = re.compile(r"^(?:\*|(?:(?P<service>[a-z0-9-]+):)?(?P<op>\*|[A-Za-z][A-Za-z0-9]*))$")

# Implementation note: these are the documented shapes of the quotas (DESIGN section 3):
# sso-admin has one budget shared by all its APIs, identitystore one budget per API.
REAL_QUOTAS: dict[str, tuple[float, float, str]] = {
    "sso-admin": (20.0, 20.0, "shared"),
    "identitystore": (20.0, 20.0, "per-operation"),
}


class FaultRulesError(ValueError):
    """A fault rule file or mapping is invalid; the message names the file and key path."""


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
    async_seconds: float | None = None  # None: the top-level async_seconds
    async_fail: float = 0.0
    async_fail_after: int | None = None
    failure_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in RULE_KEYS if getattr(self, k) is not None}
        if self.fail_after is None:
            del data["error"]
        if not self.async_fail:
            del data["async_fail"]
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
    async_seconds: float = 0.0
    async_max_outstanding: int | None = MAX_OUTSTANDING  # None: no limit

    def rule_for(self, service: str, operation: str) -> OperationRule | None:
        """The first rule matching the call, if any (first match wins, in file order)."""
        return next((r for r in self.rules if r.matches(service, operation)), None)

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
            "async_seconds": self.async_seconds,
            "async_max_outstanding": "off" if self.async_max_outstanding is None else self.async_max_outstanding,
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
                      rules=tuple(_parse_rule(r, source, f"rules[{i}]") for i, r in enumerate(rules)),
                      async_seconds=_number(data.get("async_seconds", 0), source, "async_seconds"),
                      async_max_outstanding=_parse_limit(data.get("async_max_outstanding", MAX_OUTSTANDING), source))


def _parse_limit(value: Any, source: str | None) -> int | None:
    if value in ("off", None) or value is False:  # YAML 1.1 reads an unquoted `off` as false
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(source, "async_max_outstanding", "must be an integer >= 1 or 'off'")
    return value


def _parse_quotas(value: Any, source: str | None) -> dict[str, Quota]:
    if value in ("off", None) or value is False:  # YAML 1.1 reads an unquoted `off` as false
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
    fail_after = _count(value.get("fail_after"), source, f"{path}.fail_after")
    error = value.get("error", "AccessDeniedException")
    if error not in PERMANENT_ERRORS:
        raise _fail(source, f"{path}.error", f"must be one of {', '.join(PERMANENT_ERRORS)}")
    if "error" in value and fail_after is None:
        raise _fail(source, f"{path}.error", "needs fail_after (the call count after which it fails)")
    return OperationRule(operation=pattern, latency_ms=_number(value.get("latency_ms", 0), source,
                                                              f"{path}.latency_ms"),
                         fail_after=fail_after, error=error, **probs, **_parse_async(value, source, path))


def _parse_async(value: Mapping[str, Any], source: str | None, path: str) -> dict[str, Any]:
    """The async keys of one rule: only for rules that can match an asynchronous operation."""
    given = [k for k in ASYNC_RULE_KEYS if k in value]
    if not given:
        return {}
    if not _can_match_async(value.get("operation", "*")):
        raise _fail(source, f"{path}.{given[0]}",
                    f"applies only to asynchronous operations ({ASYNC_SERVICE} {', '.join(ASYNC_OPERATIONS)}); "
                    f"this rule matches {value.get('operation', '*')!r}")
    fields: dict[str, Any] = {}
    if "async_seconds" in value:
        fields["async_seconds"] = _number(value["async_seconds"], source, f"{path}.async_seconds")
    fields["async_fail"] = _number(value.get("async_fail", 0), source, f"{path}.async_fail", high=1.0,
                                   what="a number between 0 and 1")
    fields["async_fail_after"] = _count(value.get("async_fail_after"), source, f"{path}.async_fail_after")
    reason = value.get("failure_reason")
    if reason is not None:
        if not isinstance(reason, str) or not reason.strip():
            raise _fail(source, f"{path}.failure_reason", "must be a non-empty string")
        if not fields["async_fail"] and fields["async_fail_after"] is None:
            raise _fail(source, f"{path}.failure_reason", "needs async_fail or async_fail_after")
        fields["failure_reason"] = reason
    return fields


def _can_match_async(pattern: str) -> bool:
    svc, _, op = pattern.rpartition(":")
    return svc in ("", ASYNC_SERVICE) and (op == "*" or op in ASYNC_OPERATIONS)


def _count(value: Any, source: str | None, path: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise _fail(source, path, "must be an integer >= 0")
    return value

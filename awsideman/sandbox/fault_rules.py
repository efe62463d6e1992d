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

Real-AWS behaviour the emulator leaves out unless asked (``Quirks``; see README, "How it
survives failure")::

    quirks:
      propagation_lag_seconds: 2       # new principals, memberships, assignments unseen by reads this long
      provisioning_conflicts: true     # ConflictException on a permission set with requests in progress
      orphan_assignments: true         # deleting a principal keeps its assignments, as AWS does
      credentials_expire_after_seconds: 60   # per access key, from its first call
      credentials_expire_after_calls: 200    # per access key
      deny_accounts:                   # AccessDenied in chosen target accounts, as an SCP gives
        - operation: CreateAccountAssignment   # the default
          accounts: ["111111111111"]
      case_insensitive_user_names: true

Validation is strict: the document is checked against the published JSON Schema
(``awsideman/schemas/fault-rules.schema.json``), then for what a schema cannot say (the
probabilities of a rule sum to at most 1, `error` needs `fail_after`, async keys only where
an asynchronous operation can match). Every error names the source (file name or control
request) and the key path, e.g. ``faults.yaml: rules[2].throttle: must be a number between 0 and 1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from awsideman.core import schemas
from awsideman.sandbox.gapfills.async_policy import MAX_OUTSTANDING
from awsideman.sandbox.quirks import Quirks, parse_quirks

PROBABILITIES = ("throttle", "server_error", "reset", "lost_response")
ASYNC_RULE_KEYS = ("async_seconds", "async_fail", "async_fail_after", "failure_reason")
RULE_KEYS = ("operation", *PROBABILITIES, "latency_ms", "fail_after", "error", *ASYNC_RULE_KEYS)
PERMANENT_ERRORS = ("AccessDeniedException", "ResourceNotFoundException", "ValidationException",
                    "ConflictException", "ServiceQuotaExceededException", "ExpiredTokenException")
# The service's asynchronous writes: the only operations that have a request status.
ASYNC_OPERATIONS = ("CreateAccountAssignment", "DeleteAccountAssignment", "ProvisionPermissionSet")
ASYNC_SERVICE = "sso-admin"
DEFAULT_FAILURE_REASON = "The request failed (failure injected by the sandbox's fault rules)."

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
    quirks: Quirks = field(default_factory=Quirks)

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
            "quirks": self.quirks.to_dict(),
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


def _off(value: Any) -> bool:
    # YAML 1.1 reads a bare `off` as false: the documented `quotas: off` must still mean off.
    return value in ("off", None) or value is False


def _parse(data: Any, source: str | None) -> FaultRules:
    found = schemas.problems("fault-rules", data)
    if found:
        raise _fail(source, found[0].path, found[0].text)
    rules = data.get("rules") or []
    return FaultRules(seed=int(data.get("seed", 0)), latency_ms=float(data.get("latency_ms", 0)),
                      quotas=_parse_quotas(data.get("quotas", "off")),
                      rules=tuple(_parse_rule(r, source, f"rules[{i}]") for i, r in enumerate(rules)),
                      async_seconds=float(data.get("async_seconds", 0)),
                      async_max_outstanding=_parse_limit(data.get("async_max_outstanding", MAX_OUTSTANDING)),
                      quirks=parse_quirks(data.get("quirks")))


def _parse_limit(value: Any) -> int | None:
    return None if _off(value) else int(value)


def _parse_quotas(value: Any) -> dict[str, Quota]:
    if _off(value):
        return {}
    if value == "real":
        return {s: Quota(*shape) for s, shape in REAL_QUOTAS.items()}
    quotas = {}
    for service, spec in value.items():
        rate = float(spec["rate"])
        burst = float(spec.get("burst", max(rate, 1.0)))
        quotas[service] = Quota(rate, burst, spec.get("scope", REAL_QUOTAS.get(service, (0, 0, "shared"))[2]))
    return quotas


def _parse_rule(value: Mapping[str, Any], source: str | None, path: str) -> OperationRule:
    pattern = value.get("operation", "*")
    probs = {k: float(value.get(k, 0)) for k in PROBABILITIES}
    if sum(probs.values()) > 1.0 + 1e-9:
        raise _fail(source, path, f"{' + '.join(PROBABILITIES)} must not exceed 1")
    fail_after = _count(value.get("fail_after"))
    if "error" in value and fail_after is None:
        raise _fail(source, f"{path}.error", "needs fail_after (the call count after which it fails)")
    return OperationRule(operation=pattern, latency_ms=float(value.get("latency_ms", 0)), fail_after=fail_after,
                         error=value.get("error", "AccessDeniedException"), **probs,
                         **_parse_async(value, source, path))


def _parse_async(value: Mapping[str, Any], source: str | None, path: str) -> dict[str, Any]:
    """The async keys of one rule: only for rules that can match an asynchronous operation."""
    given = [k for k in ASYNC_RULE_KEYS if k in value]
    if not given:
        return {}
    if not _can_match_async(value.get("operation", "*")):
        raise _fail(source, f"{path}.{given[0]}",
                    f"applies only to asynchronous operations ({ASYNC_SERVICE} {', '.join(ASYNC_OPERATIONS)}); "
                    f"this rule matches {value.get('operation', '*')!r}")
    fields: dict[str, Any] = {"async_fail": float(value.get("async_fail", 0)),
                              "async_fail_after": _count(value.get("async_fail_after"))}
    if "async_seconds" in value:
        fields["async_seconds"] = float(value["async_seconds"])
    if value.get("failure_reason") is not None:
        if not fields["async_fail"] and fields["async_fail_after"] is None:
            raise _fail(source, f"{path}.failure_reason", "needs async_fail or async_fail_after")
        fields["failure_reason"] = value["failure_reason"]
    return fields


def _can_match_async(pattern: str) -> bool:
    svc, _, op = pattern.rpartition(":")
    return svc in ("", ASYNC_SERVICE) and (op == "*" or op in ASYNC_OPERATIONS)


def _count(value: Any) -> int | None:
    return None if value is None else int(value)

"""The decision function: count a call, add its latency, and choose the fault to inject.

`FaultInjector.decide(service, operation)` is all a transport asks; it knows nothing of HTTP
or botocore. Quotas are token buckets read from an injectable clock, randomness is seeded by
the rules, so a test never really waits and a failing run replays exactly.

The injector is also the `AsyncPolicy` of the emulated asynchronous requests (see
`gapfills/async_policy.py`): it says how long each stays IN_PROGRESS, how many may be
outstanding and which end FAILED. `advance(seconds)` moves its clock, which is how tests
let requests finish (and quota buckets refill) without sleeping.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from awsideman.sandbox.call_log import CallLog, CallsSince
from awsideman.sandbox.credential_expiry import EXPIRED_CODE, EXPIRED_MESSAGE, CredentialLedger
from awsideman.sandbox.fault_rules import (
    DEFAULT_FAILURE_REASON,
    PROBABILITIES,
    FaultRules,
    OperationRule,
    Quirks,
    Quota,
    coerce_rules,
)
from awsideman.sandbox.gapfills.async_policy import AsyncPlan

ACCOUNT_ID = "123456789012"
# The IAM action prefix, used in AccessDenied messages.
IAM_PREFIX = {"sso-admin": "sso", "identitystore": "identitystore"}


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
                 sleep: Callable[[float], None] = time.sleep, call_log: CallLog | None = None) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._offset = 0.0
        self._sleep = sleep
        self._calls: dict[str, int] = {}
        self._faults: dict[str, int] = {}
        self._async: dict[str, int] = {}
        self._log = call_log or CallLog()
        self._credentials = CredentialLedger()
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
            # a separate stream: adding a call fault must not change which requests end FAILED
            self._async_random = random.Random(f"async:{parsed.seed}")
            self._buckets: dict[str, TokenBucket] = {}

    def now(self) -> float:
        """The injector's clock (quotas, async requests): the real one plus every `advance()`."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward: async requests end and buckets refill as if time had passed."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    def counters(self) -> dict[str, int]:
        """Calls seen per `service:Operation` (faulted or not) since the last reset."""
        with self._lock:
            return dict(self._calls)

    def fault_counters(self) -> dict[str, int]:
        """Faults per `service:Operation:kind`: injected ones (throttle, server_error, reset,
        lost_response, error, async_failed, expired_token) and the model's refusals (async_cap, async_conflict, and with
        quirks ps_conflict, account_denied)."""
        with self._lock:
            return dict(self._faults)

    def call_entries(self, instant: float) -> list[tuple[float, str]]:
        """Each call that started at or after `instant` (wall clock), with its start time."""
        return self._log.entries(instant)

    def calls_since(self, instant: float) -> CallsSince:
        """Calls that started at or after `instant` (wall clock, `time.time()`), per service:Operation."""
        return self._log.since(instant)

    def reset_counters(self) -> None:
        """Forget calls, faults, async request counts and call start times."""
        with self._lock:
            self._calls.clear()
            self._faults.clear()
            self._async.clear()
            self._log.clear()
        self._credentials.clear()

    def decide(self, service: str, operation: str, access_key: str | None = None) -> Fault | None:
        """Count the call, sleep its latency, and return the fault to inject, if any.

        ``access_key`` (the id the request was signed with) is what expiring credentials
        (a quirk) are counted by; a request whose key has expired is refused before anything else,
        as AWS authenticates before it throttles."""
        with self._lock:
            key = f"{service}:{operation}"
            self._log.record(key)
            self._calls[key] = count = self._calls.get(key, 0) + 1
            rules = self._rules
            rule = rules.rule_for(service, operation)
            if self._credentials.expired(access_key, rules.quirks, self.now()):
                fault: Fault | None = Fault("error", service, operation, EXPIRED_CODE, EXPIRED_MESSAGE)
                self._count_fault(service, operation, "expired_token")
            else:
                fault = self._choose(rule, service, operation, count)
                if fault is not None:
                    self._count_fault(service, operation, fault.kind)
        delay = rules.latency_ms + (rule.latency_ms if rule else 0.0)
        if delay > 0:
            self._sleep(delay / 1000.0)
        return fault

    # -- AsyncPolicy ------------------------------------------------------------------------
    def async_limit(self) -> int | None:
        """Outstanding async requests allowed per instance (None: no limit)."""
        return self._rules.async_max_outstanding

    def plan_async(self, service: str, operation: str) -> AsyncPlan:
        """Duration and outcome of an accepted request: the rule's, else the top-level time."""
        with self._lock:
            key = f"{service}:{operation}"
            self._async[key] = count = self._async.get(key, 0) + 1
            rule = self._rules.rule_for(service, operation)
            seconds = self._rules.async_seconds
            if rule is None:
                return AsyncPlan(seconds)
            if rule.async_seconds is not None:
                seconds = rule.async_seconds
            failed = rule.async_fail_after is not None and count > rule.async_fail_after
            if not failed and rule.async_fail:
                failed = self._async_random.random() < rule.async_fail
            if not failed:
                return AsyncPlan(seconds)
            self._count_fault(service, operation, "async_failed")
            return AsyncPlan(seconds, rule.failure_reason or DEFAULT_FAILURE_REASON)

    def quirks(self) -> Quirks:
        return self._rules.quirks

    def mint_credentials(self) -> dict[str, Any]:
        """Fresh credentials (a key never seen, so not expired), shaped as a credential_process prints."""
        return self._credentials.mint(self._rules.quirks)

    def note(self, service: str, operation: str, kind: str) -> None:
        """Count a refusal by the model (`async_cap`, `async_conflict`, `ps_conflict`, `account_denied`)."""
        with self._lock:
            self._count_fault(service, operation, kind)

    def _count_fault(self, service: str, operation: str, kind: str) -> None:
        key = f"{service}:{operation}:{kind}"
        self._faults[key] = self._faults.get(key, 0) + 1

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
            bucket = self._buckets[key] = TokenBucket(quota, self.now)
        return bucket.take()


class InjectorControls:
    """What a test steers an emulator with, for one whose injector runs in this process.

    Mixed into the served emulator and the pytest fixtures' handles: each sets `injector`."""

    injector: FaultInjector

    def set_faults(self, rules: FaultRules | Mapping[str, Any] | str | Path | None) -> None:
        self.injector.set_rules(rules)

    def counters(self) -> dict[str, int]:
        return self.injector.counters()

    def fault_counters(self) -> dict[str, int]:
        return self.injector.fault_counters()

    def reset_counters(self) -> None:
        self.injector.reset_counters()

    def calls_since(self, instant: float) -> CallsSince:
        return self.injector.calls_since(instant)

    def advance(self, seconds: float) -> None:
        """Let async requests end (and quota buckets refill) as if `seconds` had passed."""
        self.injector.advance(seconds)

    def mint_credentials(self) -> dict[str, Any]:
        """Fresh credentials that work again when the old ones expired (quirk)."""
        return self.injector.mint_credentials()


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

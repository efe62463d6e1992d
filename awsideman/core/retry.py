"""The one retry owner: a tenacity policy driven by ``ErrorAnalyzer``.

Rule (DESIGN section 2): botocore's own retries are switched off — the aws gateway builds its
clients with ``botocore.config.Config(retries={"total_max_attempts": 1})`` — and every AWS call
goes through ``RetryPolicy.call``. Two retry layers would multiply attempts (botocore's 3-5
times ours) and hide throttling from the rate limiter and the report.

The parts follow botocore's ``retries/`` package: a read-only ``AttemptContext`` is all that
``is_retryable`` and ``delay_amount`` look at (both can be asked twice without side effects);
state that changes (``RetryStats``, the optional rate limiter) is updated only by the steps of
one ``call`` (``_Run``).

- Retried: what the analyser calls ``recoverable`` (throttling, 5xx, connection errors,
  identitystore CONCURRENT_MODIFICATION, ...; see ``error_table.THROTTLING_CODES`` /
  ``TRANSIENT_CODES``). Anything else costs exactly one call.
- Wait: exponential (``base_delay * exponential_base ** (attempt - 1)``), capped at ``max_delay``,
  with full jitter (uniform in [0, cap]); a larger ``RetryAfterSeconds`` from the service wins,
  except for an isolated throttle (the limiter sees no congestion: see ``core/ratelimit.py``).
- Give up: after ``max_retries`` retries, or as soon as the next wait would end past
  ``deadline`` seconds from the first attempt — then the last error is raised unchanged.
- Recovery policies (``core/recovery.py``, config ``recovery:``) feed these answers for the
  writes a restore's changes are made of: a category's rule may make its errors retryable
  (``action: retry``) or not (a handler's ``skip``), and its limits (``max_attempts``,
  ``base_delay``, ``max_delay``, ``give_up_after``) replace ``retry:``'s for that category.
  No second retry loop: what happens once retries end is the apply engine's (skip, pause, fail).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from awsideman.core.error_table import RATE_LIMITING, RESOURCE_CONFLICT
from awsideman.core.errors import ErrorAnalyzer, ErrorInfo
from awsideman.core.exceptions import AmbiguousWriteError
from awsideman.core.recovery import ErrorFacts, RecoveryPolicy, RecoveryRule, is_change_call, resource_of_operation
from awsideman.core.retry_config import RetryConfig  # re-exported: the config's section, defined apart
from awsideman.core.sanitize import sanitize

if TYPE_CHECKING:
    import tenacity

    from awsideman.core.cancel import StopSignal
    from awsideman.core.ratelimit import RateLimiter

T = TypeVar("T")
log = logging.getLogger("awsideman.retry")

# Failures that prove a request was never applied: safe to send a non-idempotent write again.
# Everything else that is transient (5xx, a connection reset or timeout after the request left)
# is ambiguous for a write: the caller must look the resource up before sending it again.
NOT_SENT_CODES = frozenset({"EndpointConnectionError", "ConnectTimeoutError"})


@dataclass(frozen=True)
class AttemptContext:
    """Read-only facts about one failed attempt: all a retry decision may look at."""

    service: str
    operation: str
    attempt_number: int
    elapsed: float
    exception: BaseException
    info: ErrorInfo
    # The limiter's verdict when the attempt failed: a throttle while the bucket is congested
    # (the quota is below our rate) waits as the service asks; an isolated one need not.
    congested: bool = True

    @property
    def error_code(self) -> str:
        return self.info.code


class RetryStats:
    """Thread-safe counters per ``service:operation`` for the operation report."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ops: dict[str, dict[str, float]] = {}

    def add(self, key: str, **counts: float) -> None:
        """Add ``counts`` (calls, attempts, retries, give_ups, failures, waited_seconds) to ``key``."""
        with self._lock:
            row = self._ops.setdefault(
                key, {"calls": 0, "attempts": 0, "retries": 0, "give_ups": 0, "failures": 0, "throttles": 0,
                      "waited_seconds": 0.0}
            )
            for name, value in counts.items():
                row[name] += value

    def snapshot(self) -> dict[str, Any]:
        """``{"operations": {key: counters}, "attempts": n, "retries": n, "throttles": n, ...}``."""
        with self._lock:
            ops = {key: dict(row) for key, row in sorted(self._ops.items())}
        totals: dict[str, Any] = {
            name: sum(row[name] for row in ops.values())
            for name in ("calls", "attempts", "retries", "give_ups", "failures", "throttles", "waited_seconds")
        }
        totals["waited_seconds"] = round(totals["waited_seconds"], 3)
        return {"operations": ops, **totals}


class RetryPolicy:
    """Run AWS calls with retries decided by the analyser (see the module docstring).

    ``sleep``, ``clock`` and ``rng`` are injectable so tests never really wait. ``on_retry`` is
    called as ``on_retry(context, delay)`` before each wait. An optional shared ``limiter``
    (``RateLimiter``) is acquired before every attempt and told about throttles and successes.
    An optional ``stop`` (``StopSignal``) is checked before every attempt and is the backoff
    sleep, so a stop request ends retries at once instead of after the next wait.
    """

    def __init__(
        self,
        config: RetryConfig | None = None,
        analyzer: ErrorAnalyzer | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_retry: Callable[[AttemptContext, float], None] | None = None,
        limiter: RateLimiter | None = None,
        stop: StopSignal | None = None,
        recovery: RecoveryPolicy | None = None,
    ) -> None:
        self.config = config or RetryConfig()
        self._recovery = recovery
        self.analyzer = analyzer or ErrorAnalyzer()
        self.stats = RetryStats()
        self.limiter = limiter
        self.stop = stop
        self._sleep = stop.sleep if stop is not None and sleep is time.sleep else sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()  # random.Random is not safe to share across threads
        self._on_retry = on_retry

    def pause(self, seconds: float) -> None:
        """Wait as a retry waits (the injected sleep; a stop request ends the wait at once)."""
        self._sleep(seconds)

    @property
    def recovery(self) -> RecoveryPolicy | None:
        """The recovery policy, when it has a rule or a handler (asked only once a call failed)."""
        return self._recovery if self._recovery is not None and self._recovery.configured else None

    # -- the two questions (pure) -------------------------------------------------------------
    def is_retryable(self, context: AttemptContext) -> bool:
        """Only errors the analyser calls recoverable are worth another attempt (or, for a change's
        write, those its recovery policy says to retry)."""
        if not isinstance(context.exception, Exception):
            return False
        facts = self.governed(context)
        return self.recovery.retryable(facts) if self.recovery is not None and facts is not None else (
            context.info.recoverable)

    def governed(self, context: AttemptContext) -> ErrorFacts | None:
        """The facts a recovery policy decides on, for a change's write; None for any other call."""
        if not is_change_call(context.service, context.operation) or self.recovery is None:
            return None
        info = context.info
        return ErrorFacts(category=info.category, code=info.code, message=info.message, severity=info.severity,
                          recoverable=info.recoverable, service=context.service, operation=context.operation,
                          http_status=info.http_status, resource=resource_of_operation(context.operation))

    def limits(self, context: AttemptContext | None) -> RecoveryRule | None:
        """The recovery rule whose retry limits apply to this attempt's error (None: ``retry:``'s)."""
        facts = self.governed(context) if context is not None else None
        return self.recovery.retry_limits(facts) if self.recovery is not None and facts is not None else None

    def was_not_applied(self, context: AttemptContext) -> bool:
        """The service refused the request before applying it (throttled, busy, never reached)."""
        info = context.info
        if not info.recoverable and info.http_status is not None and info.http_status < 500 and (
                self.governed(context) is not None):
            return True  # a refusal (4xx) a policy retries: the service answered, and it said no
        return info.category == RATE_LIMITING or (info.category == RESOURCE_CONFLICT and info.recoverable) or (
            info.code in NOT_SENT_CODES or type(context.exception).__name__ in NOT_SENT_CODES)

    def delay_amount(self, context: AttemptContext) -> float:
        """Seconds before the next attempt: the backoff cap for this attempt (jittered), or RetryAfter.

        An isolated throttle (the limiter sees no congestion) ignores RetryAfter: the retry
        still takes a token from the limiter, which is what keeps the rate under the quota.
        """
        cfg, rule = self.config, self.limits(context)
        base = rule.base_delay if rule is not None and rule.base_delay is not None else cfg.base_delay
        most = rule.max_delay if rule is not None and rule.max_delay is not None else max(cfg.max_delay, base)
        cap = min(most, base * cfg.exponential_base ** (context.attempt_number - 1))
        delay = self._uniform(0.0, cap) if cfg.jitter else cap
        retry_after = context.info.retry_after
        if context.info.category == RATE_LIMITING and not context.congested:
            retry_after = None
        return max(delay, retry_after) if retry_after is not None else delay

    # -- running -------------------------------------------------------------------------------
    def call(self, fn: Callable[[], T], *, service: str, operation: str, idempotent: bool = True) -> T:
        """Call ``fn()`` until it succeeds, fails for good, runs out of retries or hits the deadline.

        A non-idempotent call (``idempotent=False``: every Create* here) is sent again only after
        a failure that proves it was not applied; an ambiguous one (lost response) raises
        ``AmbiguousWriteError`` so the caller looks the resource up instead of duplicating it.
        """
        import tenacity  # here, not at the top: a command that makes no AWS call never loads it

        run = _Run(self, service, operation, idempotent)
        self.stats.add(run.key, calls=1)
        retrying = tenacity.Retrying(sleep=self._sleep, retry=run.should_retry, wait=run.delay,
                                     stop=run.should_give_up, before_sleep=run.record_retry, reraise=True)
        try:
            return retrying(run.attempt, fn)
        except Exception as exc:
            ambiguous = run.record_failure(exc)
            if ambiguous is not None:
                raise ambiguous from exc
            raise

    def _tell_limiter(self, exc: Exception, service: str, operation: str) -> None:
        """Count a throttled attempt (the metrics report them) and slow the limiter down."""
        if self.analyzer.analyze(exc, f"{service}:{operation}").category != RATE_LIMITING:
            return
        self.stats.add(f"{service}:{operation}", throttles=1)
        if self.limiter is not None:
            self.limiter.on_throttle(service, operation)

    def _uniform(self, low: float, high: float) -> float:
        with self._rng_lock:
            return self._rng.uniform(low, high)


class _Run:
    """One ``RetryPolicy.call``: its attempts, each analysed once, and the steps tenacity asks for.

    tenacity calls ``should_retry``, ``delay``, ``should_give_up`` and ``record_retry`` in that
    order after a failed attempt; all of them read the same frozen ``AttemptContext``.
    """

    def __init__(self, policy: RetryPolicy, service: str, operation: str, idempotent: bool) -> None:
        self.policy = policy
        self.service = service
        self.operation = operation
        self.idempotent = idempotent
        self.key = f"{service}:{operation}"
        self.start = policy._clock()
        self.contexts: dict[int, AttemptContext] = {}

    def attempt(self, fn: Callable[[], T]) -> T:
        """One try: honour a stop request, take a limiter token, call, tell the limiter of a throttle."""
        policy = self.policy
        if policy.stop is not None:
            policy.stop.check()
        policy.stats.add(self.key, attempts=1)
        if policy.limiter is not None:
            policy.limiter.acquire(self.service, self.operation)
            if policy.stop is not None:  # the limiter's wait may have outlasted a stop request
                policy.stop.check()
        try:
            return fn()
        except Exception as exc:
            policy._tell_limiter(exc, self.service, self.operation)
            raise

    def classify(self, state: tenacity.RetryCallState) -> AttemptContext | None:
        """The failed attempt's context (analysed on first ask); None after a success."""
        outcome = state.outcome
        if outcome is None or not outcome.failed:
            return None
        if state.attempt_number not in self.contexts:
            exc = outcome.exception()
            if exc is None:  # failed outcomes always carry one; this keeps the types honest
                return None
            policy = self.policy
            info = policy.analyzer.analyze(exc, self.key)
            congested = policy.limiter is None or policy.limiter.congested(self.service, self.operation)
            self.contexts[state.attempt_number] = AttemptContext(
                self.service, self.operation, state.attempt_number, policy._clock() - self.start, exc, info,
                congested)
        return self.contexts[state.attempt_number]

    def should_retry(self, state: tenacity.RetryCallState) -> bool:
        """Recoverable, and (for a write) provably not applied."""
        context = self.classify(state)
        return context is not None and self.policy.is_retryable(context) and (
            self.idempotent or self.policy.was_not_applied(context))

    def delay(self, state: tenacity.RetryCallState) -> float:
        """Backoff with jitter and cap, or the service's RetryAfter (``RetryPolicy.delay_amount``)."""
        context = self.classify(state)
        return self.policy.delay_amount(context) if context is not None else 0.0

    def should_give_up(self, state: tenacity.RetryCallState) -> bool:
        """Out of retries, or the next wait would end past the deadline."""
        config = self.policy.config
        context = self.classify(state)
        rule = self.policy.limits(context)
        attempts = rule.max_attempts if rule is not None and rule.max_attempts is not None else config.max_retries + 1
        deadline = rule.give_up_after if rule is not None and rule.give_up_after is not None else config.deadline
        out_of_retries = state.attempt_number >= attempts
        past_deadline = context is not None and context.elapsed + (state.upcoming_sleep or 0.0) > deadline
        if out_of_retries or past_deadline:
            log.debug("giving up on %s after %d attempt(s): %s", self.key, state.attempt_number,
                      "deadline" if past_deadline and not out_of_retries else "retries exhausted")
        return out_of_retries or past_deadline

    def record_retry(self, state: tenacity.RetryCallState) -> None:
        """Count the retry and its wait, log it, and tell ``on_retry`` (before the injected sleep)."""
        policy = self.policy
        context = self.classify(state)
        delay = state.upcoming_sleep or 0.0
        policy.stats.add(self.key, retries=1, waited_seconds=delay)
        if context is None:
            return
        log.debug("retrying %s (attempt %d failed: %s: %s) in %.2fs", self.key, context.attempt_number,
                  context.info.code, sanitize(context.info.message), delay)
        if policy._on_retry is not None:
            policy._on_retry(context, delay)

    def record_failure(self, exc: Exception) -> AmbiguousWriteError | None:
        """Count the failed call; for a write whose answer was lost, the error to raise instead."""
        last = self.contexts[max(self.contexts)] if self.contexts else None
        gave_up = last is not None and self.policy.is_retryable(last)
        self.policy.stats.add(self.key, failures=1, give_ups=1 if gave_up else 0)
        if self.idempotent or not gave_up or last is None or self.policy.was_not_applied(last):
            return None
        return AmbiguousWriteError(
            f"The answer to {self.operation} was lost ({last.info.code}); it may or may not have been applied",
            original=exc)

"""RetryPolicy: injected sleep and clock, so nothing here really waits."""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

import awsideman.adapters  # noqa: F401 - registers the reader of botocore's exceptions (the core has none)
from awsideman.core.ratelimit import RateLimitConfig, RateLimiter
from awsideman.core.retry import AttemptContext, RetryConfig, RetryPolicy


def client_error(code: str, message: str = "x", op: str = "ListUsers", **extra: object) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    response.update(extra)
    return ClientError(response, op)


class FakeTime:
    """A clock that only moves when someone sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Flaky:
    """Raises the given errors in turn, then returns ``result``; counts calls."""

    def __init__(self, errors: Sequence[BaseException], result: object = "ok", cost: float = 0.0,
                 time: FakeTime | None = None) -> None:
        self.errors = list(errors)
        self.result = result
        self.calls = 0
        self.cost = cost
        self.time = time

    def __call__(self) -> object:
        self.calls += 1
        if self.time is not None:
            self.time.now += self.cost
        if self.errors:
            raise self.errors.pop(0)
        return self.result


def policy(time: FakeTime, **config: Any) -> RetryPolicy:
    config.setdefault("jitter", False)
    return RetryPolicy(RetryConfig(**config), sleep=time.sleep, clock=time.clock)


def test_recoverable_errors_are_retried_with_growing_delays():
    time = FakeTime()
    fn = Flaky([client_error("ThrottlingException"), EndpointConnectionError(endpoint_url="https://x"),
                client_error("InternalServerException")])
    assert policy(time).call(fn, service="identitystore", operation="ListUsers") == "ok"
    assert fn.calls == 4
    assert time.sleeps == [0.25, 0.5, 1.0]


def test_delays_are_capped():
    time = FakeTime()
    fn = Flaky([client_error("ThrottlingException")] * 6)
    policy(time, max_delay=1.0).call(fn, service="sso-admin", operation="ListInstances")
    assert time.sleeps == [0.25, 0.5, 1.0, 1.0, 1.0, 1.0]


def test_full_jitter_stays_within_the_cap():
    time = FakeTime()
    fn = Flaky([client_error("ThrottlingException")] * 8)
    retry = RetryPolicy(RetryConfig(max_delay=2.0), sleep=time.sleep, clock=time.clock, rng=random.Random(7))
    retry.call(fn, service="sso-admin", operation="ListInstances")
    caps = [min(2.0, 0.25 * 2**n) for n in range(8)]
    assert len(time.sleeps) == 8
    assert all(0 <= slept <= cap for slept, cap in zip(time.sleeps, caps, strict=True))
    assert len(set(time.sleeps)) > 1  # actually jittered


def test_non_recoverable_error_costs_exactly_one_call():
    time = FakeTime()
    denied = client_error("AccessDeniedException", "denied", "ListAccountAssignments")
    fn = Flaky([denied])
    retry = policy(time)
    with pytest.raises(ClientError) as raised:
        retry.call(fn, service="sso-admin", operation="ListAccountAssignments")
    assert raised.value is denied
    assert fn.calls == 1
    assert time.sleeps == []
    row = retry.stats.snapshot()["operations"]["sso-admin:ListAccountAssignments"]
    assert (row["attempts"], row["retries"], row["give_ups"], row["failures"]) == (1, 0, 0, 1)


def test_gives_up_after_max_retries_with_the_last_error():
    time = FakeTime()
    errors = [client_error("ThrottlingException", f"attempt {n}") for n in range(10)]
    fn = Flaky(errors[:])
    retry = policy(time, max_retries=3)
    with pytest.raises(ClientError) as raised:
        retry.call(fn, service="identitystore", operation="ListGroups")
    assert fn.calls == 4
    assert raised.value is errors[3]
    assert retry.stats.snapshot()["give_ups"] == 1


def test_never_sleeps_past_the_deadline():
    time = FakeTime()
    start = time.now
    fn = Flaky([client_error("ThrottlingException")] * 20, cost=0.5, time=time)
    retry = policy(time, base_delay=1.0, max_delay=100.0, deadline=10.0)
    with pytest.raises(ClientError):
        retry.call(fn, service="sso-admin", operation="ListPermissionSets")
    # attempts at 0 (+0.5), sleep 1, attempt (+0.5), sleep 2, attempt (+0.5), sleep 4 -> t=8.5;
    # next would be 8 more -> past 10: give up without sleeping.
    assert time.sleeps == [1.0, 2.0, 4.0]
    assert fn.calls == 4
    assert time.now - start <= 10.0


def test_retry_after_seconds_is_honoured_when_larger():
    time = FakeTime()
    fn = Flaky([client_error("ThrottlingException", RetryAfterSeconds=5),
                client_error("ThrottlingException", RetryAfterSeconds=0.01)])
    policy(time).call(fn, service="identitystore", operation="ListUsers")
    assert time.sleeps == [5.0, 0.5]  # 5 beats 0.25; backoff 0.5 beats 0.01


def test_retry_after_cannot_push_past_the_deadline():
    time = FakeTime()
    fn = Flaky([client_error("ThrottlingException", RetryAfterSeconds=60)])
    with pytest.raises(ClientError):
        policy(time, deadline=30.0).call(fn, service="identitystore", operation="ListUsers")
    assert time.sleeps == [] and fn.calls == 1


def test_stats_per_operation():
    time = FakeTime()
    retry = policy(time)
    retry.call(Flaky([client_error("ThrottlingException")] * 2), service="identitystore", operation="ListUsers")
    retry.call(Flaky([]), service="identitystore", operation="ListUsers")
    retry.call(Flaky([client_error("ThrottlingException")]), service="sso-admin", operation="ListInstances")
    snap = retry.stats.snapshot()
    users = snap["operations"]["identitystore:ListUsers"]
    assert (users["calls"], users["attempts"], users["retries"], users["give_ups"]) == (2, 4, 2, 0)
    assert snap["operations"]["sso-admin:ListInstances"]["retries"] == 1
    assert (snap["calls"], snap["attempts"], snap["retries"]) == (3, 6, 3)
    assert snap["waited_seconds"] == pytest.approx(0.25 + 0.5 + 0.25)


def test_on_retry_sees_a_read_only_context():
    time = FakeTime()
    seen: list[tuple[AttemptContext, float]] = []
    retry = RetryPolicy(RetryConfig(jitter=False), sleep=time.sleep, clock=time.clock,
                        on_retry=lambda ctx, delay: seen.append((ctx, delay)))
    retry.call(Flaky([client_error("ThrottlingException")]), service="identitystore", operation="ListUsers")
    (context, delay), = seen
    assert (context.service, context.operation, context.attempt_number, context.error_code) == (
        "identitystore", "ListUsers", 1, "ThrottlingException")
    assert delay == 0.25
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.attempt_number = 5  # type: ignore[misc]
    # The predicates are pure: asking twice gives the same answer and changes nothing.
    before = retry.stats.snapshot()
    assert retry.is_retryable(context) and retry.is_retryable(context)
    assert retry.delay_amount(context) == retry.delay_amount(context) == 0.25
    assert retry.stats.snapshot() == before


def test_retries_are_logged_at_debug_and_sanitised(caplog):
    time = FakeTime()
    secret = "AKIAIOSFODNN7EXAMPLE"
    with caplog.at_level(logging.DEBUG, logger="awsideman.retry"):
        policy(time).call(Flaky([client_error("ThrottlingException", f"key {secret} throttled")]),
                          service="identitystore", operation="ListUsers")
    records = [r for r in caplog.records if r.name == "awsideman.retry"]
    assert records and all(r.levelno == logging.DEBUG for r in records)
    assert "identitystore:ListUsers" in caplog.text
    assert secret not in caplog.text


def test_non_exceptions_are_not_retried():
    time = FakeTime()
    fn = Flaky([KeyboardInterrupt()])
    with pytest.raises(KeyboardInterrupt):
        policy(time).call(fn, service="identitystore", operation="ListUsers")
    assert fn.calls == 1


def test_limiter_is_acquired_and_told_about_throttles():
    time = FakeTime()
    limiter = RateLimiter(RateLimitConfig(), clock=time.clock, sleep=time.sleep)
    retry = RetryPolicy(RetryConfig(jitter=False), sleep=time.sleep, clock=time.clock, limiter=limiter)
    retry.call(Flaky([client_error("ThrottlingException")] * 2), service="sso-admin", operation="ListInstances")
    assert limiter.snapshot()["throttles"] == 2


def test_retry_after_is_honoured_for_congestion_and_not_for_an_isolated_throttle():
    time = FakeTime()
    limiter = RateLimiter(RateLimitConfig(window=1.0, min_window_calls=5), clock=time.clock, sleep=time.sleep)
    retry = RetryPolicy(RetryConfig(jitter=False), sleep=time.sleep, clock=time.clock, limiter=limiter)
    throttle = client_error("ThrottlingException", RetryAfterSeconds=3)
    retry.call(Flaky([throttle]), service="sso-admin", operation="ListInstances")
    assert time.sleeps[-1] == 0.25  # no congestion known: the usual backoff, paced by the limiter
    assert not limiter.congested("sso-admin", "ListInstances")
    for _ in range(10):  # half the attempts throttled over a window: suspected congestion
        if limiter.congested("sso-admin", "ListInstances"):
            break
        retry.call(Flaky([throttle]), service="sso-admin", operation="ListInstances")
        time.now += 0.2
    assert limiter.congested("sso-admin", "ListInstances")
    retry.call(Flaky([throttle]), service="sso-admin", operation="ListInstances")
    assert time.sleeps[-1] == 3  # the service's RetryAfterSeconds


def test_stats_are_thread_safe():
    retry = RetryPolicy(RetryConfig(jitter=False), sleep=lambda s: None)

    def worker() -> None:
        for _ in range(200):
            retry.call(Flaky([client_error("ThrottlingException")]), service="identitystore", operation="ListUsers")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    row = retry.stats.snapshot()["operations"]["identitystore:ListUsers"]
    assert (row["calls"], row["attempts"], row["retries"]) == (1600, 3200, 1600)


# -- config ----------------------------------------------------------------------------------------
def test_config_defaults():
    cfg = RetryConfig()
    assert (cfg.max_retries, cfg.base_delay, cfg.max_delay, cfg.exponential_base, cfg.jitter, cfg.deadline) == (
        8, 0.25, 20.0, 2.0, True, 900.0)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"base_delay": -0.1}, "base_delay"),
        ({"base_delay": 5.0, "max_delay": 1.0}, "max_delay"),
        ({"exponential_base": 0.5}, "exponential_base"),
        ({"jitter": "yes"}, "jitter"),
        ({"deadline": "soon"}, "deadline"),
    ],
)
def test_config_validation_names_the_bad_value(values, named):
    with pytest.raises(ValueError, match=named):
        RetryConfig(**values)


def test_from_mapping():
    assert RetryConfig.from_mapping({"max-retries": 3, "deadline": 60}) == RetryConfig(max_retries=3, deadline=60)
    assert RetryConfig.from_mapping(None) == RetryConfig()
    with pytest.raises(ValueError, match="max_retires.*retry_forever|retry_forever.*max_retires"):
        RetryConfig.from_mapping({"max_retires": 3, "retry_forever": True})


# -- non-idempotent writes ----------------------------------------------------------------------


def test_a_write_is_resent_only_when_it_was_provably_not_applied():
    time = FakeTime()
    throttled = Flaky([client_error("ThrottlingException", op="CreateUser"),
                       EndpointConnectionError(endpoint_url="https://x")])
    assert policy(time).call(throttled, service="identitystore", operation="CreateUser", idempotent=False) == "ok"
    assert throttled.calls == 3


@pytest.mark.parametrize("lost", [
    client_error("InternalServerException", op="CreateUser", HTTPStatusCode=500),
    ConnectionResetError(104, "Connection reset by peer"),
])
def test_a_write_whose_answer_was_lost_is_not_resent(lost):
    from awsideman.core.exceptions import AmbiguousWriteError

    time = FakeTime()
    write = Flaky([lost])
    with pytest.raises(AmbiguousWriteError, match="CreateUser") as raised:
        policy(time).call(write, service="identitystore", operation="CreateUser", idempotent=False)
    assert write.calls == 1 and raised.value.original is lost
    read = Flaky([lost])
    assert policy(time).call(read, service="identitystore", operation="ListUsers") == "ok"
    assert read.calls == 2

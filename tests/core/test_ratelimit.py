"""RateLimiter: token buckets per quota, congestion told from isolated throttles, thread safety."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from awsideman.core.ratelimit import RateLimitConfig, RateLimiter
from awsideman.sandbox.fault_rules import Quota
from awsideman.sandbox.injector import TokenBucket


class FakeTime:
    """A clock that only moves when someone sleeps (or the test advances it); thread-safe."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept += seconds
            self.now += seconds


def limiter(time: FakeTime, **config: Any) -> RateLimiter:
    return RateLimiter(RateLimitConfig(**config), clock=time.clock, sleep=time.sleep)


def test_rate_over_time_is_the_configured_rate():
    time = FakeTime()
    rl = limiter(time, sso_admin_rate=20, burst=10)
    for _ in range(110):
        rl.acquire("sso-admin", "ListPermissionSets")
    # the burst of 10 is free, the other 100 come at 20/s
    assert time.now == pytest.approx(100 / 20)


def test_burst_is_free_then_calls_are_paced():
    time = FakeTime()
    rl = limiter(time, identitystore_rate=10, burst=3)
    waits = [rl.acquire("identitystore", "ListUsers") for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == [pytest.approx(0.1), pytest.approx(0.1)]


def test_idle_time_refills_up_to_the_burst():
    time = FakeTime()
    rl = limiter(time, sso_admin_rate=10, burst=2)
    for _ in range(2):
        rl.acquire("sso-admin", "A")
    time.now += 100.0  # long idle: refill caps at the burst, not 1000 tokens
    waits = [rl.acquire("sso-admin", "A") for _ in range(3)]
    assert waits[:2] == [0.0, 0.0] and waits[2] == pytest.approx(0.1)


def test_sso_admin_operations_share_one_bucket():
    time = FakeTime()
    rl = limiter(time, sso_admin_rate=20, burst=4)
    for op in ("ListInstances", "ListPermissionSets", "DescribePermissionSet", "ListAccountAssignments"):
        assert rl.acquire("sso-admin", op) == 0.0
    assert rl.acquire("sso-admin", "ListTagsForResource") == pytest.approx(1 / 20)


def test_identitystore_has_one_bucket_per_api():
    time = FakeTime()
    rl = limiter(time, identitystore_rate=20, burst=4)
    for _ in range(4):
        assert rl.acquire("identitystore", "ListUsers") == 0.0
    for _ in range(4):
        assert rl.acquire("identitystore", "ListGroups") == 0.0  # its own budget
    assert rl.acquire("identitystore", "ListUsers") > 0


def test_other_services_and_disabled_limiter_never_wait():
    time = FakeTime()
    rl = limiter(time, burst=1)
    assert all(rl.acquire("s3", "PutObject") == 0.0 for _ in range(1000))
    off = limiter(time, enabled=False, burst=1)
    assert all(off.acquire("sso-admin", "ListInstances") == 0.0 for _ in range(1000))
    assert time.slept == 0.0
    assert rl.current_rate("s3", "PutObject") is None


def serve(rl: RateLimiter, time: FakeTime, seconds: float, *, quota: float = 20.0, noise: float = 0.0,
          seed: int = 0, operation: str = "ListAccountAssignmentsForPrincipal") -> tuple[int, int]:
    """Send sso-admin calls back to back for `seconds` against a service whose quota is `quota`
    calls/s (the sandbox's own token bucket) and which sheds `noise` of the calls it accepts.
    Returns (attempts, throttles)."""
    rng = random.Random(seed)
    service = TokenBucket(Quota(quota, quota), time.clock)
    attempts = throttles = 0
    end = time.now + seconds
    while time.now < end:
        rl.acquire("sso-admin", operation)
        attempts += 1
        time.now += 0.001  # a call takes a moment
        if service.take() > 0 or rng.random() < noise:
            throttles += 1
            rl.on_throttle("sso-admin", operation)
    return attempts, throttles


def test_a_lower_real_quota_is_found_quickly_and_hardly_throttled_after():
    time = FakeTime()
    rl = limiter(time, sso_admin_rate=20)
    serve(rl, time, 10, quota=10)  # settling
    assert rl.congested("sso-admin", "X")
    attempts, throttles = serve(rl, time, 120, quota=10)
    assert 9.0 * 120 <= attempts <= 10.3 * 120  # at least 90 % of the real quota
    assert throttles <= 0.03 * attempts


def test_isolated_throttles_do_not_slow_down():
    time = FakeTime()
    rl = limiter(time, sso_admin_rate=20)
    attempts, _ = serve(rl, time, 120, quota=20, noise=0.3)
    assert attempts >= 0.95 * 20 * 120  # one probe at the start costs a few calls, no more
    assert rl.current_rate("sso-admin", "X") == pytest.approx(20.0)
    assert not rl.congested("sso-admin", "X")
    assert rl.snapshot()["noise"]["sso-admin:*"] == pytest.approx(0.3, abs=0.1)


def test_congestion_on_top_of_noise_is_still_found():
    time = FakeTime()
    rl = limiter(time, sso_admin_rate=20)
    serve(rl, time, 60, quota=20, noise=0.2)  # noise learned at the configured rate
    serve(rl, time, 40, quota=12, noise=0.2)  # then the service's quota drops (found within 40 s)
    attempts, _ = serve(rl, time, 60, quota=12, noise=0.2)
    assert attempts <= 13.0 * 60 and rl.congested("sso-admin", "X")


def test_the_rate_has_a_floor_and_other_buckets_are_unaffected():
    time = FakeTime()
    rl = limiter(time, identitystore_rate=20, min_rate=1.0, min_window_calls=1, window=1.0)
    for _ in range(20):  # every call throttled: whatever the limiter tries, the share stays 100 %
        rl.acquire("identitystore", "ListUsers")
        rl.on_throttle("identitystore", "ListUsers")
        time.now += 1.0
    assert rl.current_rate("identitystore", "ListGroups") == 20.0
    assert rl.snapshot()["throttles"] == 20


def test_lock_is_not_held_while_sleeping():
    time = FakeTime()
    held: list[bool] = []

    def sleep(seconds: float) -> None:
        held.append(rl._lock.locked())
        time.sleep(seconds)

    rl = RateLimiter(RateLimitConfig(burst=1), clock=time.clock, sleep=sleep)
    for _ in range(3):
        rl.acquire("sso-admin", "ListInstances")
    assert held == [False, False]


def test_threads_get_distinct_reservations():
    # Frozen clock, no-op sleep: 200 acquires from 8 threads must be handed the waits
    # 0, 1/20, ..., 199/20 exactly once each; a lost update would duplicate or skip one.
    rl = RateLimiter(RateLimitConfig(sso_admin_rate=20, burst=1), clock=lambda: 0.0, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [rl.acquire("sso-admin", "Op") for _ in range(25)]
        with lock:
            waits.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(round(w * 20) for w in waits) == list(range(200))


def test_real_threads_short_real_run():
    # The real clock and sleep (the defaults) with real threads. Only bounds that a loaded
    # machine cannot break: it can delay threads, never make the limiter hand out tokens early.
    rl = RateLimiter(RateLimitConfig(identitystore_rate=200, burst=1))
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [rl.acquire("identitystore", "ListUsers") for _ in range(10)]
        with lock:
            waits.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Every reservation was served (no token lost between threads), and no caller is asked to
    # wait longer than the deepest possible reservation: 40 tokens at 200/s with a burst of 1.
    # (The pacing itself is asserted on an injected clock in the tests above.)
    assert len(waits) == 40
    assert all(0.0 <= w <= 39 / 200 + 1e-9 for w in waits)


def test_config_validation_and_from_mapping():
    assert RateLimitConfig.from_mapping({"sso-admin-rate": 5, "enabled": False}) == RateLimitConfig(
        sso_admin_rate=5, enabled=False)
    with pytest.raises(ValueError, match="sso_admin_rate"):
        RateLimitConfig(sso_admin_rate=0)
    with pytest.raises(ValueError, match="safety"):
        RateLimitConfig(safety=1.5)
    with pytest.raises(ValueError, match="min_window_calls"):
        RateLimitConfig(min_window_calls=0)
    with pytest.raises(ValueError, match="ssoadmin"):
        RateLimitConfig.from_mapping({"ssoadmin": 3})

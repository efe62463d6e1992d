"""Client-side token buckets that keep calls under the Identity Center quotas (DESIGN section 3).

- sso-admin: ONE bucket shared by all its operations (the service has one ~20 calls/s budget).
- identitystore: one bucket PER operation (~20 calls/s per API).
- dynamodb (the shared state table): one bucket, ``dynamodb_rate``.
- any other service: unlimited (S3, KMS, STS have quotas far above what a backup needs).

A throttle is not always a sign of sending too fast. *Congestion* (the service's quota is lower
than the configured rate) makes the share of throttled attempts grow with the rate; *isolated*
throttles (the service sheds a share of calls whatever the rate) do not. One window of calls
cannot tell them apart, so the limiter asks the service: every ``window`` seconds (and at least
``min_window_calls`` attempts) it compares the window's throttled share with the noise it has
learned. More than the noise explains is a suspicion; the next window runs at the rate the
service would accept if it were congestion (``rate x (1 - share) / (1 - noise) x safety``). If the excess
goes away, it was congestion and the lower rate stays; if the share stays the same, it was
noise: the configured rate comes back at once and the share is learned as noise; if only some
of it went away, the quota is lower still and the next window probes again from there. Without excess the
rate creeps back up by ``increase_factor`` per window (a tenth of that near the quota measured
under congestion), never above the configured rate.
``congested()`` tells the retry policy which kind of throttle it is looking at.

Implementation note: all buckets live behind one lock, but the lock is never held while sleeping.
``acquire`` reserves a token (the bucket may go negative, i.e. into debt), computes how long the
caller must wait for that reservation to mature, releases the lock and sleeps. Callers are
therefore served in reservation order and nobody sleeps holding the lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from awsideman.core.config_section import ConfigSection, is_integer, is_number

SSO_ADMIN = "sso-admin"
DETECTABLE = 0.1  # an excess throttled share this large is found within one window
NOISE_MEMORY = 2000.0  # attempts
IDENTITYSTORE = "identitystore"
DYNAMODB = "dynamodb"


@dataclass(frozen=True)
class RateLimitConfig(ConfigSection):
    """Rates in calls per second; ``burst`` is the bucket size (calls allowed back to back)."""

    section = "rate_limit"

    sso_admin_rate: float = 20.0
    identitystore_rate: float = 20.0
    # The shared state table (state: dynamodb://...): on-demand tables take thousands of writes
    # a second, so this only keeps a burst of journal writes from meeting DynamoDB's throttling.
    dynamodb_rate: float = 500.0
    burst: float = 10.0
    enabled: bool = True
    min_rate: float = 1.0
    # A window must hold enough attempts for its throttled share to mean something.
    window: float = 2.0
    min_window_calls: int = 20
    increase_factor: float = 1.02
    safety: float = 0.95

    def _problems(self) -> list[str]:
        problems = []
        for name in ("sso_admin_rate", "identitystore_rate", "dynamodb_rate", "burst", "min_rate", "window"):
            value = getattr(self, name)
            if not is_number(value) or value <= 0:
                problems.append(f"{name} must be a positive number, not {value!r}")
        if not isinstance(self.enabled, bool):
            problems.append(f"enabled must be true or false, not {self.enabled!r}")
        if not is_number(self.safety) or not 0 < self.safety <= 1:
            problems.append(f"safety must be in (0, 1], not {self.safety!r}")
        if not is_number(self.increase_factor) or self.increase_factor < 1:
            problems.append(f"increase_factor must be a number >= 1, not {self.increase_factor!r}")
        if not is_integer(self.min_window_calls) or self.min_window_calls < 1:
            problems.append(f"min_window_calls must be an integer >= 1, not {self.min_window_calls!r}")
        return problems

    def rate_for(self, service: str) -> float | None:
        """Configured rate for a service, or None when it is not limited."""
        if service == SSO_ADMIN:
            return float(self.sso_admin_rate)
        if service == IDENTITYSTORE:
            return float(self.identitystore_rate)
        if service == DYNAMODB:
            return float(self.dynamodb_rate)
        return None


class _Bucket:
    """One token bucket and its congestion detector (state only; the limiter's lock guards it)."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.max_rate = rate
        self.rate = rate
        self.capacity = max(1.0, burst)
        self.tokens = self.capacity
        self.stamp = now
        self.window_start = now
        self.attempts = 0
        self.throttles = 0
        self.noise = 0.0  # the throttled share the service sheds whatever the rate
        self.noise_throttles = 0.0
        self.noise_attempts = 0.0
        self.probe: float | None = None  # the share that raised a suspicion, while testing it
        self.congested = False
        self.judged = False
        self.quota: float | None = None  # the service's rate as last measured under congestion

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def reserve(self, now: float) -> float:
        """Take one token (possibly on credit) and return how long until it is really ours."""
        self.refill(now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def set_rate(self, rate: float, now: float) -> None:
        self.refill(now)  # tokens earned so far at the old rate
        self.rate = rate

    def window_calls(self, config: RateLimitConfig) -> int:
        """Attempts a window needs so that an excess of ``DETECTABLE`` stands out of the noise (3 sigma)."""
        return max(config.min_window_calls, math.ceil(9 * self.noise * (1 - self.noise) / DETECTABLE ** 2))

    def close_window(self, now: float, config: RateLimitConfig) -> None:
        """At the end of a full window: suspect, confirm or dismiss congestion; creep up."""
        if now - self.window_start < config.window or self.attempts < self.window_calls(config):
            return
        share = self.throttles / self.attempts
        sigma = math.sqrt(self.noise * (1 - self.noise) / self.attempts)  # the noise's own spread
        if not self.judged:
            # The first window is not judged: the service's bucket starts full, so it accepts
            # more than its rate and the share would understate any congestion.
            self.judged = True
        elif self.probe is not None:
            self._verdict(share, now, config)
        elif share > self.noise + max(0.02, 3 * sigma):
            self._suspect(share, now, config)
        elif self.rate >= self.max_rate:  # at full rate and no excess: what is left is noise
            self._learn_noise(self.throttles, self.attempts)
            self.congested = False
        elif share <= self.noise + max(0.01, sigma):  # creep up only while nothing points at the quota
            # Near the quota congestion was last found at, creep ten times slower: every step
            # past it costs throttled calls, and the quota rarely moves.
            near = self.quota is not None and self.rate >= self.quota
            step = (config.increase_factor - 1) / (10 if near else 1)
            self.set_rate(min(self.max_rate, self.rate * (1 + step)), now)
        self.window_start, self.attempts, self.throttles = now, 0, 0

    def _suspect(self, share: float, now: float, config: RateLimitConfig) -> None:
        """Run the next window at the rate the quota would pass if this share were congestion."""
        self.probe = share
        accepted = (1 - share) / (1 - min(self.noise, 0.9))
        self.quota = self.rate * accepted
        self.set_rate(max(config.min_rate, self.rate * accepted * config.safety), now)

    def _verdict(self, share: float, now: float, config: RateLimitConfig) -> None:
        suspected = self.probe or 0.0
        self.probe = None
        spread = 2 * math.sqrt(suspected * (1 - suspected) / self.attempts)
        if share - self.noise < (suspected - self.noise) / 2:  # the excess went away with the rate
            self.congested = True
        elif share >= suspected - spread:  # the same share at a lower rate: noise, whatever we do
            self._learn_noise(suspected * self.attempts, self.attempts)
            self._learn_noise(self.throttles, self.attempts)
            self.congested = False
            self.quota = None
            self.set_rate(self.max_rate, now)
        else:  # less excess, but some left: the quota is lower still
            self._suspect(share, now, config)

    def _learn_noise(self, throttles: float, attempts: int) -> None:
        # Counts decay by half every NOISE_MEMORY attempts, so a service that stops shedding is noticed.
        keep = 0.5 ** (attempts / NOISE_MEMORY)
        self.noise_throttles = self.noise_throttles * keep + throttles
        self.noise_attempts = self.noise_attempts * keep + attempts
        self.noise = self.noise_throttles / self.noise_attempts


class RateLimiter:
    """Thread-safe token buckets per service (and per operation for identitystore)."""

    def __init__(
        self,
        config: RateLimitConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config or RateLimitConfig()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._throttles = 0
        self._waited = 0.0

    def _key(self, service: str, operation: str) -> tuple[str, str] | None:
        if not self.config.enabled or self.config.rate_for(service) is None:
            return None
        # sso-admin and DynamoDB (one table): every operation draws from the same budget;
        # identitystore: per API.
        return (service, "*") if service in (SSO_ADMIN, DYNAMODB) else (service, operation)

    def _bucket(self, key: tuple[str, str], now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            rate = self.config.rate_for(key[0]) or 1.0
            bucket = self._buckets[key] = _Bucket(rate, self.config.burst, now)
        return bucket

    def acquire(self, service: str, operation: str) -> float:
        """Block until a call to ``service``/``operation`` may go; return the seconds waited."""
        key = self._key(service, operation)
        if key is None:
            return 0.0
        with self._lock:
            now = self._clock()
            bucket = self._bucket(key, now)
            bucket.close_window(now, self.config)
            bucket.attempts += 1
            delay = bucket.reserve(now)
            self._waited += delay
        if delay > 0:
            self._sleep(delay)  # outside the lock: other threads keep reserving meanwhile
        return delay

    def on_throttle(self, service: str, operation: str) -> None:
        """The service throttled an attempt: counted in the bucket's window (see the module doc)."""
        key = self._key(service, operation)
        if key is None:
            return
        with self._lock:
            self._throttles += 1
            self._bucket(key, self._clock()).throttles += 1

    def congested(self, service: str, operation: str) -> bool:
        """Are this bucket's throttles congestion (the quota is lower than our rate) right now?

        Without a bucket (the limiter is off, or the service has no rate) nothing else paces the
        retries, so every throttle is treated as congestion: the service's Retry-After is kept.
        """
        key = self._key(service, operation)
        if key is None:
            return True
        with self._lock:
            bucket = self._buckets.get(key)
            return bucket is not None and (bucket.congested or bucket.probe is not None)

    def current_rate(self, service: str, operation: str) -> float | None:
        """The bucket's current rate in calls/s (None when unlimited)."""
        key = self._key(service, operation)
        if key is None:
            return None
        with self._lock:
            return self._bucket(key, self._clock()).rate

    def snapshot(self) -> dict[str, Any]:
        """Rates per bucket, throttle count and total time spent waiting (for the report)."""
        with self._lock:
            return {
                "buckets": {f"{s}:{o}": round(b.rate, 3) for (s, o), b in sorted(self._buckets.items())},
                "noise": {f"{s}:{o}": round(b.noise, 3) for (s, o), b in sorted(self._buckets.items()) if b.noise},
                "throttles": self._throttles,
                "waited_seconds": round(self._waited, 3),
            }

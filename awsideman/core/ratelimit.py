"""Client-side token buckets that keep calls under the Identity Center quotas (DESIGN section 3).

- sso-admin: ONE bucket shared by all its operations (the service has one ~20 calls/s budget).
- identitystore: one bucket PER operation (~20 calls/s per API).
- any other service: unlimited (S3, KMS, STS have quotas far above what a backup needs).

The rate adapts AIMD-style, like botocore's adaptive mode but simpler: a throttle multiplies the
bucket's rate by ``decrease_factor`` (floor ``min_rate``), each success adds
``increase_per_success`` back, up to the configured rate. A well-tuned run therefore stays just
under the point where the service starts throttling.

Implementation note: all buckets live behind one lock, but the lock is never held while sleeping.
``acquire`` reserves a token (the bucket may go negative, i.e. into debt), computes how long the
caller must wait for that reservation to mature, releases the lock and sleeps. Callers are
therefore served in reservation order and nobody sleeps holding the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

SSO_ADMIN = "sso-admin"
IDENTITYSTORE = "identitystore"


@dataclass(frozen=True)
class RateLimitConfig:
    """Rates in calls per second; ``burst`` is the bucket size (calls allowed back to back)."""

    sso_admin_rate: float = 20.0
    identitystore_rate: float = 20.0
    burst: float = 10.0
    enabled: bool = True
    decrease_factor: float = 0.7
    increase_per_success: float = 0.5
    min_rate: float = 1.0
    # Throttles arriving within this window are one congestion event (cut once), as TCP cuts
    # once per round trip: otherwise a burst of throttled in-flight calls collapses the rate.
    decrease_interval: float = 1.0

    def __post_init__(self) -> None:
        problems = []
        for name in ("sso_admin_rate", "identitystore_rate", "burst", "min_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                problems.append(f"{name} must be a positive number, not {value!r}")
        if not isinstance(self.enabled, bool):
            problems.append(f"enabled must be true or false, not {self.enabled!r}")
        if isinstance(self.decrease_factor, bool) or not 0 < self.decrease_factor < 1:
            problems.append(f"decrease_factor must be between 0 and 1, not {self.decrease_factor!r}")
        if isinstance(self.decrease_interval, bool) or not self.decrease_interval >= 0:
            problems.append(f"decrease_interval must be >= 0 seconds, not {self.decrease_interval!r}")
        if isinstance(self.increase_per_success, bool) or not self.increase_per_success >= 0:
            problems.append(f"increase_per_success must be >= 0, not {self.increase_per_success!r}")
        if problems:
            raise ValueError("invalid rate_limit config: " + "; ".join(problems))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> RateLimitConfig:
        """Build from a config mapping (dashes or underscores); unknown keys raise ValueError naming them."""
        data = {str(k).replace("-", "_"): v for k, v in (data or {}).items()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown rate_limit keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**data)

    def rate_for(self, service: str) -> float | None:
        """Configured rate for a service, or None when it is not limited."""
        if service == SSO_ADMIN:
            return float(self.sso_admin_rate)
        if service == IDENTITYSTORE:
            return float(self.identitystore_rate)
        return None


class _Bucket:
    """One token bucket (state only; the limiter's lock guards it)."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.max_rate = rate
        self.rate = rate
        self.capacity = max(1.0, burst)
        self.tokens = self.capacity
        self.stamp = now
        self.last_decrease: float | None = None

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def reserve(self, now: float) -> float:
        """Take one token (possibly on credit) and return how long until it is really ours."""
        self.refill(now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


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
        # sso-admin: every operation draws from the same budget; identitystore: per API.
        return (service, "*") if service == SSO_ADMIN else (service, operation)

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
            delay = self._bucket(key, now).reserve(now)
            self._waited += delay
        if delay > 0:
            self._sleep(delay)  # outside the lock: other threads keep reserving meanwhile
        return delay

    def on_throttle(self, service: str, operation: str) -> None:
        """The service throttled us: cut this bucket's rate (multiplicative decrease)."""
        key = self._key(service, operation)
        if key is None:
            return
        with self._lock:
            now = self._clock()
            bucket = self._bucket(key, now)
            bucket.refill(now)
            self._throttles += 1
            recent = bucket.last_decrease is not None and now - bucket.last_decrease < self.config.decrease_interval
            if not recent:
                bucket.rate = max(self.config.min_rate, bucket.rate * self.config.decrease_factor)
                bucket.last_decrease = now

    def on_success(self, service: str, operation: str) -> None:
        """A call succeeded: creep back toward the configured rate (additive increase)."""
        key = self._key(service, operation)
        if key is None:
            return
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is not None and bucket.rate < bucket.max_rate:
                bucket.refill(self._clock())
                bucket.rate = min(bucket.max_rate, bucket.rate + self.config.increase_per_success)

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
                "throttles": self._throttles,
                "waited_seconds": round(self._waited, 3),
            }

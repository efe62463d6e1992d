"""When calls started: a bounded log of (wall-clock time, service:Operation) for measurements.

A test that signals a client process asks "how many API calls started more than 1 s after the
signal?". Counters cannot answer that; this log can, for the last `capacity` calls. Times are
wall-clock (`time.time()`), so another process on the same machine can compare its own
instants with them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CAPACITY = 100_000


@dataclass(frozen=True)
class CallsSince:
    """Calls started at or after `since`; `complete` is False when older entries were dropped
    that may have been after `since` (the log's capacity was too small to answer exactly)."""

    since: float
    calls: dict[str, int] = field(default_factory=dict)
    complete: bool = True

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since, "calls": dict(self.calls), "total": self.total, "complete": self.complete}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallsSince:
        return cls(float(data["since"]), dict(data["calls"]), bool(data["complete"]))


class CallLog:
    """Thread-safe ring of call start times; the oldest entries go first when it is full."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, clock: Callable[[], float] = time.time) -> None:
        self._entries: deque[tuple[float, str]] = deque(maxlen=capacity)
        self._clock = clock
        self._lock = threading.Lock()
        self._horizon: float | None = None  # start time of the newest entry dropped so far

    def record(self, key: str) -> None:
        """Note that a call to `key` (service:Operation) starts now."""
        with self._lock:
            if len(self._entries) == self._entries.maxlen:
                self._horizon = self._entries[0][0]
            self._entries.append((self._clock(), key))

    def since(self, instant: float) -> CallsSince:
        """Calls per service:Operation that started at or after `instant` (wall clock)."""
        calls: dict[str, int] = {}
        with self._lock:
            # Implementation note: entries are appended in start order, so scan from the newest
            # and stop at the first older one (a big log answers a recent instant quickly).
            for started, key in reversed(self._entries):
                if started < instant:
                    break
                calls[key] = calls.get(key, 0) + 1
            complete = self._horizon is None or self._horizon < instant
        return CallsSince(instant, calls, complete)

    def entries(self, instant: float) -> list[tuple[float, str]]:
        """(start time, service:Operation) of the calls that started at or after `instant`, oldest first."""
        with self._lock:
            return [entry for entry in self._entries if entry[0] >= instant]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._horizon = None

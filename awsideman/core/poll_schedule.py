"""When the apply engine asks how its outstanding asynchronous requests ended (pure: clock injected).

A poll round costs sso-admin calls, out of the same ~20 calls/s budget the assignment requests
themselves need, so a round that cannot settle anything is budget taken from the work. A round
is due once the oldest outstanding request could have ended (it started a learned duration ago)
and never sooner than ``interval`` after the last round: with few requests outstanding there are
few rounds (one per request), with many, one per ``interval`` at most (several end per round).
A round is never put off beyond ``longest`` either, so a request far slower than those before it
is still noticed in time; one that is overdue is asked about after half its age again, not every
``interval``.

The duration is learned from the requests settled so far: the shortest of the last few, measured
from the answer to the round that saw it ended, which overstates the real duration by at most one
gap between rounds; before any has settled, it is ``interval``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

RECENT = 16  # settled requests the learned duration looks back on


class PollSchedule:
    """The start times of outstanding requests and when the next round is due."""

    def __init__(self, interval: float, clock: Callable[[], float], *, longest: float | None = None) -> None:
        self.interval = interval
        self.longest = longest if longest is not None else 8 * interval
        self.clock = clock
        self.started: dict[str, float] = {}
        self.recent: deque[float] = deque(maxlen=RECENT)
        self.last_round: float | None = None

    def start(self, request_id: str) -> None:
        """A request was answered IN_PROGRESS: it is outstanding from now."""
        self.started.setdefault(request_id, self.clock())

    def settle(self, request_id: str) -> None:
        """The last round saw this request end: it teaches the duration."""
        began = self.started.pop(request_id, None)
        if began is not None and self.last_round is not None:
            self.recent.append(max(0.0, self.last_round - began))

    @property
    def duration(self) -> float:
        """How long a request is expected to take."""
        return min(self.recent) if self.recent else self.interval

    def due_at(self) -> float | None:
        """When the next round is due (None: nothing is outstanding)."""
        if not self.started:
            return None
        ends = [began + self.duration for began in self.started.values()]
        if self.last_round is None:
            return min(ends)
        last = self.last_round
        due = []
        fresh = [end for end in ends if end > last]  # not asked about since it could have ended
        if fresh:
            due.append(min(max(min(fresh), last + self.interval), last + self.longest))
        if len(fresh) < len(ends):
            # Overdue (a round since it could have ended did not see it end): ask again after half
            # its age, so a request twice as slow as usual costs a round or two, not one per interval.
            oldest = min(self.started.values())
            due.append(last + min(self.longest, max(self.interval, (last - oldest) / 2)))
        return min(due)

    def due(self) -> bool:
        due = self.due_at()
        return due is not None and self.clock() >= due

    def polled(self) -> None:
        """A round was sent now."""
        self.last_round = self.clock()

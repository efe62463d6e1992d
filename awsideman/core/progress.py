"""Phases of a run: what is being done, how far it is, how fast, and when it started and ended.

Services open one phase at a time (reading, planning, applying, polling, compensating) and
advance it as units of work settle, from any thread. A listener (the renderer) is told of every
start, advance and end; the records of finished phases go into the operation's summary in the
journal, so every view of the run shows the same phases.

Phases never overlap: opening a phase ends the one still open. Durations come from the
injected monotonic clock (tests pass a fake one), the ``started_at``/``finished_at`` stamps from
the injected timestamp function (the journal's, so they sort with its other times).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

STARTED, ADVANCED, ENDED = "started", "advanced", "ended"


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PhaseView:
    """A phase as it stands at one moment (what a display draws; safe to keep across threads)."""

    name: str
    done: int
    total: int | None
    elapsed: float
    event: str

    @property
    def rate(self) -> float | None:
        """Units settled per second so far (None before the first or in the first instant)."""
        return self.done / self.elapsed if self.done and self.elapsed > 0 else None

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far (None without a total or a rate)."""
        rate = self.rate
        if self.total is None or rate is None:
            return None
        return max(self.total - self.done, 0) / rate

    def line(self) -> str:
        """One plain line: ``applying: 12/40, 3.0/s, 4 s elapsed, about 9 s left``."""
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        if self.event == ENDED:
            return f"{self.name}: {count} in {self.elapsed:.1f} s"
        parts = [f"{self.name}: {count}"]
        if self.rate is not None:
            parts.append(f"{self.rate:.1f}/s")
        parts.append(f"{self.elapsed:.0f} s elapsed")
        if self.eta is not None:
            parts.append(f"about {self.eta:.0f} s left")
        return ", ".join(parts)


class PhaseListener(Protocol):
    def phase_changed(self, view: PhaseView) -> None: ...


class Phase:
    """An open (or ended) phase: ``advance()`` as units settle; set ``total`` when it is known."""

    def __init__(self, tracker: PhaseTracker, name: str, total: int | None) -> None:
        self._tracker = tracker
        self.name = name
        self._total = total
        self.done = 0
        self.started = tracker.clock()
        self.started_at = tracker.timestamp()
        self.finished: float | None = None
        self.finished_at: str | None = None

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int | None) -> None:
        with self._tracker.lock:
            self._total = value
            self._tracker.changed(self, ADVANCED)

    def add_total(self, count: int) -> None:
        """More units became known (a reader discovers steps as it goes)."""
        with self._tracker.lock:
            self._total = (self._total or 0) + count
            self._tracker.changed(self, ADVANCED)

    def advance(self, count: int = 1) -> None:
        with self._tracker.lock:
            if self.finished is not None:
                return
            self.done += count
            self._tracker.changed(self, ADVANCED)

    def end(self) -> None:
        self._tracker.end(self)

    def view(self, event: str) -> PhaseView:
        end = self.finished if self.finished is not None else self._tracker.clock()
        return PhaseView(self.name, self.done, self._total, max(end - self.started, 0.0), event)

    def record(self) -> dict[str, Any]:
        """The journal's form: name, started_at, finished_at, done, total, seconds."""
        end = self.finished if self.finished is not None else self._tracker.clock()
        return {"name": self.name, "started_at": self.started_at, "finished_at": self.finished_at,
                "done": self.done, "total": self._total, "seconds": round(max(end - self.started, 0.0), 6)}

    def __enter__(self) -> Phase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.end()


class PhaseTracker:
    """The phases of one command run (see the module docstring).

    Calling the tracker with a message (``progress("Read users")``) is the older, free-text
    progress: passed on to ``note`` without opening a phase.
    """

    def __init__(self, *, listener: PhaseListener | None = None, note: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, timestamp: Callable[[], str] = _utc_now) -> None:
        self.listener = listener
        self.note = note
        self.clock = clock
        self.timestamp = timestamp
        self.lock = threading.RLock()
        self.phases: list[Phase] = []
        self._current: Phase | None = None
        self._taken = 0

    def __call__(self, message: str) -> None:
        if self.note is not None:
            self.note(message)

    def phase(self, name: str, total: int | None = None) -> Phase:
        """Open a phase (ending the one still open) and return it."""
        with self.lock:
            if self._current is not None:
                self.end(self._current)
            opened = Phase(self, name, total)
            self.phases.append(opened)
            self._current = opened
            self.changed(opened, STARTED)
        return opened

    def end(self, phase: Phase | None = None) -> None:
        """End ``phase`` (default: the open one); ending it twice does nothing."""
        with self.lock:
            phase = phase or self._current
            if phase is None or phase.finished is not None:
                return
            phase.finished = self.clock()
            phase.finished_at = self.timestamp()
            if self._current is phase:
                self._current = None
            self.changed(phase, ENDED)

    def changed(self, phase: Phase, event: str) -> None:
        # Called under the lock, so a display sees a phase's counts in the order they happened.
        if self.listener is not None:
            self.listener.phase_changed(phase.view(event))

    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [phase.record() for phase in self.phases]

    def take(self) -> list[dict[str, Any]]:
        """End the open phase and return the records of the phases since the last ``take``
        (one operation's phases when a process runs several)."""
        self.end()
        with self.lock:
            taken = [phase.record() for phase in self.phases[self._taken:]]
            self._taken = len(self.phases)
        return taken


class _NoPhase:
    """What a service gets when its caller tracks no phases (tests, library use)."""

    total: int | None = None

    def advance(self, count: int = 1) -> None:
        pass

    def add_total(self, count: int) -> None:
        pass

    def end(self) -> None:
        pass

    def __enter__(self) -> _NoPhase:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass


def open_phase(progress: Any, name: str, total: int | None = None) -> Any:
    """A phase of ``progress`` when it tracks phases (a ``PhaseTracker``), else a no-op phase:
    services take any ``progress`` callable and still work with a plain function."""
    opener = getattr(progress, "phase", None)
    return opener(name, total) if callable(opener) else _NoPhase()

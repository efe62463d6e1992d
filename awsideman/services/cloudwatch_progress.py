"""A long run's progress in CloudWatch, every ``metrics.cloudwatch.progress_interval`` seconds.

The end-of-run figures (``services/cloudwatch.py``) say how a run ended; an operator watching a
two-hour restore also wants to see it move. While a phase is open, a daemon thread sends the
figures the progress bar shows, once per interval:

- ``progress_done`` and ``progress_total`` (dimensions ``operation`` and ``phase``): units of
  the open phase settled so far, and how many there are when known;
- ``progress_elapsed_seconds`` (dimension ``operation``): how long the run has been going.

They come from the same phase tracker as the bar and the phases the journal records. Sending
never blocks the run (it happens on the thread), is bounded like the end-of-run figures, and a
failure is counted for one warning at the end, never the run's error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from awsideman.core.progress import ENDED, STARTED, PhaseView

log = logging.getLogger("awsideman.cloudwatch")
Sample = tuple[str, tuple[tuple[str, str], ...], float]


def progress_samples(kind: str, view: PhaseView, elapsed: float) -> list[Sample]:
    """The samples of one progress report: the open phase's counts and the run's elapsed time."""
    labels = (("operation", kind), ("phase", view.name))
    samples: list[Sample] = [("progress_done", labels, float(view.done))]
    if view.total is not None:
        samples.append(("progress_total", labels, float(view.total)))
    samples.append(("progress_elapsed_seconds", (("operation", kind),), round(elapsed, 3)))
    return samples


class ProgressBeacon:
    """Sends the open phase every ``interval`` seconds from a thread of its own (module docstring).

    ``send(samples)`` does the sending; ``kind()`` names the operation running (None: nothing to
    report yet); ``clock`` measures the run's elapsed time. ``tick()`` is one report, which tests
    call directly instead of waiting for the thread.
    """

    def __init__(self, send: Callable[[Sequence[Sample]], Any], kind: Callable[[], str | None], *,
                 interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._send, self._kind, self.interval, self._clock = send, kind, interval, clock
        self._lock = threading.Lock()
        self._view: PhaseView | None = None
        self._started = clock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failures = 0
        self.last_error: str | None = None

    def phase_changed(self, view: PhaseView) -> None:
        """Keep the latest view of the open phase (none between phases); start the thread once."""
        with self._lock:
            self._view = None if view.event == ENDED else view
            start = view.event == STARTED and self._thread is None and not self._closed.is_set()
            if start:
                self._thread = threading.Thread(target=self._loop, name="awsideman-progress", daemon=True)
        if start:
            assert self._thread is not None
            self._thread.start()

    def tick(self) -> bool:
        """Report the open phase now; False when there was nothing to report or it failed."""
        with self._lock:
            view = self._view
        kind = self._kind()
        if view is None or kind is None:
            return False
        try:
            self._send(progress_samples(kind, view, self._clock() - self._started))
        except Exception as exc:  # noqa: BLE001 - progress is an extra: the run's own outcome stands
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("could not send the progress to CloudWatch: %s", self.last_error)
            return False
        self.sent += 1
        return True

    def close(self, timeout: float = 1.0) -> None:
        """Stop reporting; a report being sent is given ``timeout`` seconds, then left behind."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._closed.wait(self.interval):
            self.tick()

"""One stop signal per run, shared by every worker thread (s3transfer's TransferCoordinator idea).

Ctrl-C and SIGTERM do not raise in the middle of whatever the main thread happens to run:
while an operation is in progress (``armed``), the signal handler only sets the stop signal.
Every API attempt checks it first, and every wait (retry backoff, rate limiter) is a wait on
it, so all workers stop within one in-flight call, the pool is joined, and the operation is
recorded as interrupted by the thread that owns it. Outside an operation (start-up), and at a
prompt inside one (``disarmed``), the first signal raises at once, as Python normally does.

A run can also be halted by an error that makes every further request pointless, such as
credentials that expired and cannot be refreshed (``halt``): from then on every check raises
that error, so no worker sends another request, but it is not a stop request (the run failed;
nobody asked it to stop) and what the run does next is up to its owner.
"""

from __future__ import annotations

import contextlib
import copy
import signal
import threading
from collections.abc import Callable, Iterator

from awsideman.core.exceptions import Terminated


class StopSignal:
    """Set once by a signal (or a caller); checked and waited on by every worker."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._armed = 0
        self.signum: int | None = None
        self._guards: list[Callable[[], None]] = []
        self._halted: BaseException | None = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def halted(self) -> BaseException | None:
        """The error that halted the run (``halt``), else None."""
        return self._halted

    def halt(self, error: BaseException) -> bool:
        """Refuse every further check with ``error``; True the first time (the first error is kept)."""
        with self._lock:
            if self._halted is not None:
                return False
            self._halted = error
            return True

    @property
    def armed(self) -> bool:
        return self._armed > 0

    def request(self, signum: int = signal.SIGINT) -> bool:
        """Ask everything to stop; True the first time, False when already stopping."""
        with self._lock:
            if self._event.is_set():
                return False
            self.signum = signum
            self._event.set()
            return True

    def check(self) -> None:
        """Raise ``Terminated`` if a stop was requested (call before starting any new work).

        Guards (``add_guard``) run too: a runner that lost its lease on the shared state must
        not start another API call either.
        """
        if self._event.is_set():
            raise Terminated(self.signum or signal.SIGINT)
        if self._halted is not None:
            # A copy per raise: workers raise it at once, and one object would share a traceback.
            raise copy.copy(self._halted)
        for guard in self._guards:
            guard()

    def add_guard(self, guard: Callable[[], None]) -> None:
        """Also run ``guard()`` (which raises to refuse) on every ``check``."""
        self._guards.append(guard)

    def remove_guard(self, guard: Callable[[], None]) -> None:
        if guard in self._guards:
            self._guards.remove(guard)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, but wake and raise ``Terminated`` the moment a stop is requested."""
        if self._event.wait(max(0.0, seconds)):
            raise Terminated(self.signum or signal.SIGINT)

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True as soon as a stop is requested (raises nothing)."""
        return self._event.wait(max(0.0, seconds))

    @contextlib.contextmanager
    def arm(self) -> Iterator[None]:
        """While inside, a signal only requests the stop; the work unwinds at its next check."""
        with self._lock:
            self._armed += 1
        try:
            yield
        finally:
            with self._lock:
                self._armed -= 1

    @contextlib.contextmanager
    def disarmed(self) -> Iterator[None]:
        """While inside (a prompt within an operation), a signal raises at once, as outside one."""
        with self._lock:
            saved, self._armed = self._armed, 0
        try:
            yield
        finally:
            with self._lock:
                self._armed += saved


def install_handlers(stop: StopSignal) -> None:
    """Route SIGINT and SIGTERM to ``stop`` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, _frame: object) -> None:
        first = stop.request(signum)
        # A second signal while stopping is ignored: raising now would interrupt the clean-up
        # (journal writes, joining workers) and print a traceback.
        if first and not stop.armed:
            raise Terminated(signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


_PROCESS_STOP = StopSignal()


def process_stop() -> StopSignal:
    """The stop signal of this process, the one ``install_handlers`` is given by the CLI."""
    return _PROCESS_STOP

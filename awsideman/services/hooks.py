"""Named points a run passes between two durable writes, announced to whoever listens.

The product only announces; nothing listens unless a caller adds an observer. The sandbox's
kill points (``awsideman.sandbox.crashpoints``) listen, so an end-to-end test can stop a
process in the window between, say, the store write and the journal record (DESIGN section 8)
and prove the journal tells the truth there. With no observer a point costs one empty loop.
"""

from __future__ import annotations

from collections.abc import Callable

Observer = Callable[[str], None]

_observers: list[Observer] = []


def observe(observer: Observer) -> Callable[[], None]:
    """Call ``observer(point)`` at every point reached from now on; returns what removes it."""
    _observers.append(observer)
    return lambda: _observers.remove(observer)


def reached(point: str) -> None:
    """Tell the observers this run is at ``point`` (an observer may end the process here)."""
    for observer in tuple(_observers):
        observer(point)

"""Where a collection records finished steps, so a resumed run skips them."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from awsideman.journal import Sealer, StateJournal


class Checkpoints(Protocol):
    def get(self, step: str) -> Any | None: ...

    def put(self, step: str, data: Any) -> None: ...


class JournalCheckpoints:
    """Checkpoints committed to the operation journal as each step finishes.

    With a ``sealer`` (an encrypted backup) the data is encrypted before it reaches the journal.
    """

    def __init__(self, journal: StateJournal, operation_id: str, sealer: Sealer | None = None) -> None:
        self._journal = journal
        self._operation_id = operation_id
        self._sealer = sealer
        self._done = journal.checkpoints(operation_id, sealer)
        self._lock = threading.Lock()
        self.reused = len(self._done)

    def get(self, step: str) -> Any | None:
        with self._lock:
            return self._done.get(step)

    def put(self, step: str, data: Any) -> None:
        self._journal.save_checkpoint(self._operation_id, step, data, self._sealer)
        with self._lock:
            self._done[step] = data

    def forget(self) -> None:
        """Drop the steps held in memory (they stay in the journal for a resume)."""
        with self._lock:
            self._done.clear()


class NoCheckpoints:
    """For reads that are not resumable (the live read of a restore plan): nothing is kept."""

    reused = 0

    def get(self, step: str) -> Any | None:
        return None

    def put(self, step: str, data: Any) -> None:
        return None

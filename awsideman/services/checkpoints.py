"""Where a collection records finished steps, so a resumed run skips them."""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from awsideman.core.journal import Journal


class Checkpoints(Protocol):
    def get(self, step: str) -> Any | None: ...

    def put(self, step: str, data: Any) -> None: ...


class MemoryCheckpoints:
    """Checkpoints for a run nobody will resume (tests, benchmarks)."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, step: str) -> Any | None:
        with self._lock:
            return self._data.get(step)

    def put(self, step: str, data: Any) -> None:
        with self._lock:
            self._data[step] = data


class JournalCheckpoints:
    """Checkpoints committed to the operation journal as each step finishes."""

    HEARTBEAT_SECONDS = 5.0

    def __init__(self, journal: Journal, operation_id: str) -> None:
        self._journal = journal
        self._operation_id = operation_id
        self._done = journal.checkpoints(operation_id)
        self._lock = threading.Lock()
        self._last_beat = 0.0
        self.reused = len(self._done)

    def get(self, step: str) -> Any | None:
        with self._lock:
            return self._done.get(step)

    def put(self, step: str, data: Any) -> None:
        self._journal.save_checkpoint(self._operation_id, step, data)
        with self._lock:
            self._done[step] = data
            beat = time.monotonic() - self._last_beat > self.HEARTBEAT_SECONDS
            if beat:
                self._last_beat = time.monotonic()
        if beat:
            self._journal.heartbeat(self._operation_id)

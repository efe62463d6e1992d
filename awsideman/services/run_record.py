"""What a command leaves behind besides its result: a log file per operation and metrics.

``RunRecorder`` is attached to a command's ``Context``: it logs awsideman's records (requests,
retries, progress) to a private, sanitised file while the command runs, and when the context
closes, whatever happened, it names that file after the operation the command ran
(``$AWSIDEMAN_HOME/logs/<operation_id>.log``), removes logs older than ``retention_days`` and
writes the Prometheus metrics file if one is configured.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from awsideman.config import Settings
from awsideman.core.files import make_private_dirs
from awsideman.core.sanitize import sanitize
from awsideman.journal import Operation, StateJournal, utc_timestamp
from awsideman.journal.db import timestamp_key
from awsideman.journal.liveness import this_process

log = logging.getLogger("awsideman")


class _SanitisingFileHandler(logging.FileHandler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream = self.stream or self._open()
            self.stream.write(sanitize(self.format(record)) + "\n")
            self.flush()
        except Exception:
            self.handleError(record)


class RunRecorder:
    """Log file and metrics of the operations one command runs (see the module docstring)."""

    def __init__(self, settings: Settings, metrics_file: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.metrics_file = metrics_file or settings.metrics_file
        self.clock = clock
        self.since = utc_timestamp()
        self.logs = settings.home / "logs"
        self.handler: _SanitisingFileHandler | None = None
        self.path: Path | None = None
        self.metrics_written: list[str] = []
        self.earlier: set[str] = set()

    def start(self) -> RunRecorder:
        # Operations this process already ran (the demo runs several commands in one process).
        from awsideman.services.state_backend import journal_exists, open_journal

        with contextlib.suppress(Exception):
            if journal_exists(self.settings):
                journal = open_journal(self.settings)
                try:
                    self.earlier = {op.id for op in self.operations(journal)}
                finally:
                    journal.close()
        with contextlib.suppress(OSError):
            make_private_dirs(self.logs)
            self.path = self.logs / f".run-{os.getpid()}-{int(self.clock() * 1000)}.log"
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.close(fd)
            self.handler = _SanitisingFileHandler(self.path, encoding="utf-8")
            self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
            self.handler.setLevel(logging.DEBUG)
            log.addHandler(self.handler)
            log.setLevel(logging.DEBUG)
        return self

    def progress(self, message: str) -> None:
        log.info("%s", message)

    def finish(self, journal: StateJournal | None, gateway: Any) -> list[Operation]:
        """Name the log after the operations run, rotate old logs, write metrics; return the operations."""
        self._detach()
        ops = self.operations(journal) if journal is not None else []
        self._keep_log(ops)
        self.rotate()
        if self.metrics_file and ops and journal is not None:
            self._metrics(journal, ops, gateway)
        return ops

    def operations(self, journal: StateJournal) -> list[Operation]:
        """The operations this process started or claimed since the recorder started, oldest first."""
        owner = this_process()[0]
        ops = [op for op in journal.list_operations(limit=20)
               if op.owner == owner and timestamp_key(op.updated_at) >= self.since and op.id not in self.earlier]
        return list(reversed(ops))

    def _detach(self) -> None:
        if self.handler is not None:
            log.removeHandler(self.handler)
            self.handler.close()
            self.handler = None

    def _keep_log(self, ops: list[Operation]) -> None:
        if self.path is None:
            return
        with contextlib.suppress(OSError):
            if not ops:
                self.path.unlink()
                return
            for op in ops[1:]:
                (self.logs / f"{op.id}.log").write_bytes(self.path.read_bytes())
                os.chmod(self.logs / f"{op.id}.log", 0o600)
            target = self.logs / f"{ops[0].id}.log"
            if target.exists():  # a resumed operation: its earlier runs' log comes first
                with target.open("ab") as handle:
                    handle.write(self.path.read_bytes())
                self.path.unlink()
            else:
                os.replace(self.path, target)

    def rotate(self) -> int:
        """Delete log files older than ``retention_days``; return how many."""
        cutoff = self.clock() - self.settings.retention_days * 86400
        removed = 0
        for path in self.logs.glob("*.log"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def _metrics(self, journal: StateJournal, ops: list[Operation], gateway: Any) -> None:
        from awsideman.services.metrics import RunFigures, operation_samples, write_metrics

        stats = gateway.retry_stats if gateway is not None else {}
        figures = RunFigures(api_calls=int(stats.get("attempts", 0) or 0), retries=int(stats.get("retries", 0) or 0),
                             throttles=int(stats.get("throttles", 0) or 0))
        last_of_kind = {op.kind: op for op in ops}  # one set of samples per kind: the newest run
        samples = []
        for op in last_of_kind.values():
            fresh = journal.get_operation(op.id)
            samples += operation_samples(fresh, journal, figures if op is ops[-1] else _no_figures(), self.clock())
        assert self.metrics_file is not None
        write_metrics(self.metrics_file, samples)
        self.metrics_written.append(str(self.metrics_file))


def _no_figures() -> Any:
    from awsideman.services.metrics import RunFigures

    return RunFigures()

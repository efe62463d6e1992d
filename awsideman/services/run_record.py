"""What a command leaves behind besides its result: a log file per operation and metrics.

``RunRecorder`` is attached to a command's ``Context``: it logs awsideman's records (requests,
retries, phases, failed changes) to a private, sanitised file while the command runs, one line
per event (``services/log_context.py``: time, level, operation, phase, logger, message), and
when the context closes, whatever happened, it names that file after the operation the command
ran (``$AWSIDEMAN_HOME/logs/<operation_id>.log``), ends it with the operation's account (its
analysed errors with what to do, then its status and next command), removes logs older than
``retention_days`` and writes the Prometheus metrics file if one is configured. With ``notify:``
sinks it first sends each finished operation's account to them (``services/notify.py``), and
with ``metrics: {cloudwatch: ...}`` it sends the same figures to CloudWatch
(``services/cloudwatch.py``); what could not be delivered is a warning (``warnings``), a line
in the log and, for notifications, a metric, never the command's error.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
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
from awsideman.journal.liveness import this_process
from awsideman.journal.records import timestamp_key
from awsideman.services.log_context import LineFormatter, OperationFilter, format_line

log = logging.getLogger("awsideman")


class _SanitisingFileHandler(logging.FileHandler):
    # A worker thread can be preempted between making its record and writing it, so a line may be
    # written after a later-stamped one; a line is never stamped earlier than the one above it,
    # which keeps the file sorted by time as written (readers and `analyze-error --file` rely on it).
    last_created = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream = self.stream or self._open()
            if record.created < self.last_created:
                record = copy.copy(record)
                record.created = self.last_created
            self.last_created = record.created
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
        # What could not be delivered (notifications, CloudWatch): the command warns of each.
        self.warnings: list[str] = []
        self.notifier: Any = None  # a services.notify.Notifier; built from the settings when None
        self.cloudwatch_calls = 0
        self.beacon: Any = None  # a services.cloudwatch_progress.ProgressBeacon, from the first phase

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
            self.handler.setFormatter(LineFormatter())
            self.handler.addFilter(OperationFilter())
            self.handler.setLevel(logging.DEBUG)
            log.addHandler(self.handler)
            log.setLevel(logging.DEBUG)
        return self

    def progress(self, message: str) -> None:
        log.info("%s", message)

    def phase_changed(self, view: Any) -> None:
        """Every phase event: with ``metrics.cloudwatch.progress_interval`` the open phase goes to
        CloudWatch once per interval while the run lasts (``services/cloudwatch_progress.py``)."""
        config = self.settings.metrics.cloudwatch
        if config is None or not config.progress_interval:
            return
        if self.beacon is None:
            from awsideman.services import cloudwatch
            from awsideman.services.cloudwatch_progress import ProgressBeacon
            from awsideman.services.log_context import current_kind

            def send(samples: Any) -> None:
                self.cloudwatch_calls += cloudwatch.send(self.settings, samples, now=self.clock())

            self.beacon = ProgressBeacon(send, current_kind, interval=config.progress_interval)
        self.beacon.phase_changed(view)

    def finish(self, journal: StateJournal | None, gateway: Any) -> list[Operation]:
        """Notify the sinks, name the log after the operations run, rotate old logs, send and write
        metrics; return the operations. What could not be delivered is in ``warnings``."""
        if self.beacon is not None:
            self.beacon.close()
            if self.beacon.failures:
                self.warnings.append(f"Could not send {self.beacon.failures} progress report(s) to CloudWatch: "
                                     f"{sanitize(self.beacon.last_error or '')}")
        self._detach()
        ops = self.operations(journal) if journal is not None else []
        deliveries = self._notify(journal, ops) if journal is not None else {}
        for op_id, path in self._keep_log(ops).items():
            assert journal is not None
            self._end_log(journal, op_id, path, deliveries.get(op_id, []))
        self.rotate()
        cloudwatch = self.settings.metrics.cloudwatch is not None
        if (self.metrics_file or cloudwatch) and ops and journal is not None:
            samples = self._samples(journal, ops, gateway, deliveries)
            if cloudwatch:
                self._cloudwatch(samples)
            if self.metrics_file:
                from awsideman.services.metrics import write_metrics

                write_metrics(self.metrics_file, samples)
                self.metrics_written.append(str(self.metrics_file))
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

    def _keep_log(self, ops: list[Operation]) -> dict[str, Path]:
        """The run's log under each operation's name; returns the files written."""
        kept: dict[str, Path] = {}
        if self.path is None:
            return kept
        with contextlib.suppress(OSError):
            if not ops:
                self.path.unlink()
                return kept
            for op in ops[1:]:
                (self.logs / f"{op.id}.log").write_bytes(self.path.read_bytes())
                os.chmod(self.logs / f"{op.id}.log", 0o600)
                kept[op.id] = self.logs / f"{op.id}.log"
            target = self.logs / f"{ops[0].id}.log"
            if target.exists():  # a resumed operation: its earlier runs' log comes first
                with target.open("ab") as handle:
                    handle.write(self.path.read_bytes())
                self.path.unlink()
            else:
                os.replace(self.path, target)
            kept[ops[0].id] = target
        return dict(sorted(kept.items()))

    def _end_log(self, journal: StateJournal, operation_id: str, path: Path, deliveries: list[Any]) -> None:
        """End the operation's log with where it was sent, then its account: what a reader looks for last."""
        from awsideman.services.account import operation_account

        lines = [format_line(logging.INFO if d.ok else logging.WARNING, d.line(), operation_id=operation_id,
                             created=self.clock()) for d in deliveries]
        try:
            lines += ending_lines(operation_account(journal, operation_id), self.clock())
        except Exception as exc:  # the journal failed now: the log still says so, and the run's outcome stands
            lines.append(format_line(logging.WARNING, f"the operation's account could not be read: {exc}",
                                     operation_id=operation_id, created=self.clock()))
        with contextlib.suppress(OSError), path.open("a", encoding="utf-8") as handle:
            handle.writelines(sanitize(line) + "\n" for line in lines)

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

    def _notify(self, journal: StateJournal, ops: list[Operation]) -> dict[str, list[Any]]:
        """Send each finished operation's account to the sinks that want it (``notify:``)."""
        if not self.settings.notify:
            return {}
        from awsideman.services.account import operation_account
        from awsideman.services.notify import Notifier

        notifier = self.notifier or Notifier(self.settings)
        sent: dict[str, list[Any]] = {}
        for op in ops:
            try:
                account = operation_account(journal, op.id)
            except Exception as exc:  # the journal failed now: nothing to send, and the run's outcome stands
                self.warnings.append(f"{op.id}: no notification sent: its account could not be read: {exc}")
                continue
            if account.status == "running":  # its end was not recorded: there is no ending to announce
                continue
            sent[op.id] = notifier.for_account(account)
            self.warnings += [f"{op.id}: {d.line()}" for d in sent[op.id] if not d.ok]
        return sent

    def _samples(self, journal: StateJournal, ops: list[Operation], gateway: Any,
                 deliveries: dict[str, list[Any]]) -> list[Any]:
        from awsideman.services.metrics import RunFigures, operation_samples

        stats = gateway.retry_stats if gateway is not None else {}
        run = RunFigures(api_calls=int(stats.get("attempts", 0) or 0), retries=int(stats.get("retries", 0) or 0),
                         throttles=int(stats.get("throttles", 0) or 0))
        last_of_kind = {op.kind: op for op in ops}  # one set of samples per kind: the newest run
        samples = []
        for op in last_of_kind.values():
            figures = run if op is ops[-1] else RunFigures()
            if self.settings.notify:
                figures = dataclasses.replace(figures, notifications_failed=sum(
                    not d.ok for d in deliveries.get(op.id, [])))
            samples += operation_samples(journal.get_operation(op.id), journal, figures, self.clock())
        return samples

    def _cloudwatch(self, samples: list[Any]) -> None:
        """Send the samples to CloudWatch; a failure is a warning, never the run's error."""
        from awsideman.services import cloudwatch

        try:
            self.cloudwatch_calls += cloudwatch.send(self.settings, samples, now=self.clock())
        except Exception as exc:  # noqa: BLE001 - metrics are extras: the command's own outcome stands
            from awsideman.core.errors import ErrorAnalyzer

            info = ErrorAnalyzer().analyze(exc)
            self.warnings.append(f"Could not send the metrics to CloudWatch: {info.code}: {sanitize(info.message)}")


def ending_lines(account: Any, created: float | None = None) -> list[str]:
    """The last lines of an operation's log, from its account (``services.account``): each analysed
    error (``error category=... code=...: message``) with its ``what to do:`` steps, then
    ``KIND OP ended: status=...; next: COMMAND``. The same errors and status as ``report show``."""
    lines = []
    for error in account.errors:
        recoverable = "yes" if error.get("recoverable") else "no"
        lines.append(format_line(
            logging.ERROR, f"error category={error['category']} severity={error['severity']} recoverable="
            f"{recoverable} code={error['code']}: {error['message']}", operation_id=account.operation_id,
            created=created))
        lines += [format_line(logging.INFO, f"what to do: {step}", operation_id=account.operation_id, created=created)
                  for step in error.get("remediation") or []]
    ended = f"{account.kind} {account.operation_id} ended: status={account.status}"
    if account.next_command:
        ended += f"; next: {account.next_command}"
    level = logging.INFO if account.status == "succeeded" else logging.WARNING
    lines.append(format_line(level, ended, operation_id=account.operation_id, created=created))
    return lines



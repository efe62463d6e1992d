"""An operation's life in one place: start or claim, lock, finish, fail or interrupt.

``with run_operation(...) as run:`` does for every kind (backup, restore, rollback) what
SQLAlchemy's ``Session.begin()`` does for a transaction: the body does the work and sets
``run.finish(...)``; leaving the block records the outcome. A signal while the body runs only
requests a stop (see ``core.cancel``); the body unwinds at its next check, and the operation is
recorded as ``interrupted`` after its workers were joined, with the command to continue.

A failure to record the outcome of work that did succeed (journal locked, disk full after the
backup is safely in the store) is a warning on the run, not a failure of the work.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from awsideman.core.cancel import StopSignal
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import AwsidemanError, JournalError, LeaseLostError, OperationInterrupted
from awsideman.journal import FAILED, INTERRUPTED, PARTIAL, SUCCEEDED, LockHolder, Operation, StateJournal
from awsideman.services.log_context import bind_operation, release_operation

# Statuses after which nothing of the operation is needed to continue it.
_DONE = (SUCCEEDED, PARTIAL)


@dataclass
class OperationRun:
    """The operation being run, and the outcome the body settles on."""

    operation: Operation
    status: str = SUCCEEDED
    backup_id: str | None = None
    summary: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    stale_lock: LockHolder | None = None
    finished: bool = False

    @property
    def id(self) -> str:
        return self.operation.id

    def finish(self, status: str, *, backup_id: str | None = None, summary: dict[str, Any] | None = None) -> None:
        """The outcome to record when the block ends normally."""
        self.status, self.backup_id, self.summary, self.finished = status, backup_id, summary, True


@dataclass(frozen=True)
class OperationSpec:
    """What to run: a new operation (kind, params) or a claim of an existing one (resume)."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    instance_arn: str | None = None
    resume: str | None = None
    claimable: Iterable[str] = (FAILED, INTERRUPTED)
    lock: bool = False
    lock_timeout: float = 0.0
    sealing: dict[str, Any] | None = None
    # How to continue this operation, for the message printed when it is stopped or fails.
    next_command: Callable[[str], str] | None = None


@contextlib.contextmanager
def run_operation(journal: StateJournal, spec: OperationSpec, *, stop: StopSignal,
                  analyzer: ErrorAnalyzer | None = None, phases: Any = None) -> Iterator[OperationRun]:
    """Start (or claim) the operation, yield it, and record how it ended (see module docstring).

    ``phases`` (a ``core.progress.PhaseTracker``, e.g. ``ctx.progress``): the run's phases are
    recorded in the summary as ``phases`` whatever the outcome, so every view shows them.
    """
    analyzer = analyzer or ErrorAnalyzer()
    if spec.resume:
        operation = journal.claim_operation(spec.resume, claimable=spec.claimable)
    else:
        operation = journal.start_operation(spec.kind, spec.params, spec.instance_arn, sealing=spec.sealing)
    run = OperationRun(operation)
    logged = bind_operation(operation.id)  # every log line from here on names the operation
    try:
        with stop.arm():
            if spec.lock and operation.instance_arn:
                run.stale_lock = _lock(journal, operation, spec, stop)
            yield run
    except KeyboardInterrupt as exc:
        _record(journal, run, INTERRUPTED, _with_phases(
            {"error": f"stopped by signal {getattr(exc, 'signum', signal.SIGINT)}"}, phases))
        raise _interrupted(run, spec, exc) from exc
    except BaseException as exc:
        info = analyzer.analyze(exc)
        with contextlib.suppress(JournalError):
            journal.record_error(run.id, info)
        _record(journal, run, FAILED, _with_phases({"error": info.message, "category": info.category}, phases))
        _tag(exc, run.id, spec)
        raise
    else:
        status = run.status if run.finished else FAILED
        try:
            journal.finish_operation(run.id, status, backup_id=run.backup_id,
                                     summary=_with_phases(run.summary, phases), clear_checkpoints=status in _DONE)
        except JournalError as exc:
            run.warnings.append(f"The result could not be recorded in the journal: {exc.message}")
    finally:
        release_operation(logged)
        if spec.lock and operation.instance_arn:
            with contextlib.suppress(JournalError):
                journal.release_lock(operation.instance_arn, operation.id)


def _with_phases(summary: dict[str, Any] | None, phases: Any) -> dict[str, Any] | None:
    """``summary`` plus ``phases``: the phases since the previous operation of this run ended."""
    taken = phases.take() if phases is not None and hasattr(phases, "take") else []
    if not taken:
        return summary
    return {**(summary or {}), "phases": taken}


def takeover_note(holder: LockHolder) -> str:
    """What to tell the operator when a stale lock was taken over (its holder may have left work half-done)."""
    why = (f"whose lease expired at {holder.expires_at} (pid {holder.pid} on {holder.host})" if holder.expires_at
           else "whose process died")
    return (f"Took over the lock of {holder.operation_id}, {why}; check it with "
            f"`awsideman report show {holder.operation_id}`.")


def _lock(journal: StateJournal, operation: Operation, spec: OperationSpec, stop: StopSignal) -> LockHolder | None:
    assert operation.instance_arn is not None
    if spec.lock_timeout > 0:
        return journal.wait_for_lock(operation.instance_arn, operation.id, timeout=spec.lock_timeout,
                                     sleep=stop.sleep)
    return journal.acquire_lock(operation.instance_arn, operation.id)


def _record(journal: StateJournal, run: OperationRun, status: str, summary: dict[str, Any] | None) -> None:
    """Record a failure or interruption; a journal that fails now must not hide the first error."""
    try:
        journal.finish_operation(run.id, status, summary=summary)
    except JournalError as exc:
        run.warnings.append(f"The {status} state could not be recorded in the journal: {exc.message}")


def _interrupted(run: OperationRun, spec: OperationSpec, exc: BaseException) -> OperationInterrupted:
    signum = int(getattr(exc, "signum", signal.SIGINT))
    name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C" if signum == signal.SIGINT else f"signal {signum}"
    next_steps = [f"Continue: {spec.next_command(run.id)}"] if spec.next_command else []
    stopped = OperationInterrupted(f"{spec.kind.capitalize()} {run.id} stopped by {name}; what finished is kept",
                                   signum=signum, remediation=next_steps + run.warnings)
    stopped.operation_id = run.id  # type: ignore[attr-defined]
    return stopped


def _tag(error: BaseException, operation_id: str, spec: OperationSpec) -> None:
    """Let the CLI name the operation and the command that continues it."""
    error.operation_id = operation_id  # type: ignore[attr-defined]
    error.operation_kind = spec.kind  # type: ignore[attr-defined]
    # A runner that lost its lease no longer owns the operation: resuming it is the new holder's call.
    if spec.next_command is None or getattr(error, "next_command", None) or isinstance(error, LeaseLostError):
        return
    command = spec.next_command(operation_id)
    named = " ".join(getattr(error, "remediation", None) or [])
    if command not in named and not (isinstance(error, AwsidemanError) and error.exit_code == 2):
        error.next_command = command  # type: ignore[attr-defined]

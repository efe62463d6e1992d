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
from dataclasses import dataclass, field, replace
from typing import Any

from awsideman.core.cancel import StopSignal
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import AwsidemanError, Declined, JournalError, LeaseLostError, OperationInterrupted
from awsideman.journal import FAILED, INTERRUPTED, PARTIAL, SUCCEEDED, LockHolder, Operation, StateJournal
from awsideman.services.log_context import bind_operation, release_operation

# Statuses after which nothing of the operation is needed to continue it.
_DONE = (SUCCEEDED, PARTIAL)


@dataclass
class OperationRun:
    """The operation being run, and the outcome the body settles on.

    An operation starts before anything can fail (credentials, region, discovery, the backup's
    verification), so every run that got past argument checks is in the journal: the body
    names the instance once it is discovered (``record_instance``), takes the instance's lock
    (``take_lock``) and asks for confirmation (``ask``) inside the operation.
    """

    operation: Operation
    journal: StateJournal | None = None
    spec: OperationSpec | None = None
    stop: StopSignal | None = None
    status: str = SUCCEEDED
    backup_id: str | None = None
    summary: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    stale_lock: LockHolder | None = None
    finished: bool = False
    locked: str | None = None

    @property
    def id(self) -> str:
        return self.operation.id

    def finish(self, status: str, *, backup_id: str | None = None, summary: dict[str, Any] | None = None) -> None:
        """The outcome to record when the block ends normally."""
        self.status, self.backup_id, self.summary, self.finished = status, backup_id, summary, True

    def record_instance(self, instance_arn: str, caller: dict[str, Any] | None = None) -> None:
        """The instance this operation works on, once discovered, and who runs it (``caller``:
        ``arn`` and ``account``; the journal adds the host). A resumed run records its own caller."""
        assert self.journal is not None
        if self.operation.instance_arn != instance_arn or caller is not None:
            self.journal.record_instance(self.id, instance_arn, caller=caller)
            self.operation = replace(self.operation, instance_arn=instance_arn)

    def record_sealing(self, sealing: dict[str, Any] | None) -> None:
        """How this operation's checkpoints are sealed (made after the start: it needs KMS)."""
        assert self.journal is not None
        if sealing is not None:
            self.journal.record_sealing(self.id, sealing)
            self.operation = replace(self.operation, sealing=sealing)

    def take_lock(self) -> None:
        """Take the instance's lock for this operation (released when the block ends); exit 6 if held."""
        assert self.journal is not None and self.spec is not None and self.stop is not None
        instance_arn = self.operation.instance_arn
        if instance_arn is None or self.locked:
            return
        self.stale_lock = _lock(self.journal, self.operation, self.spec, self.stop)
        self.locked = instance_arn

    def ask(self, confirm: Callable[..., bool] | None, *args: Any, declined: str = "Nothing changed") -> None:
        """Ask ``confirm(*args)`` (None: no question); a no raises ``Declined`` and the
        operation is forgotten (nothing happened). A Ctrl-C at the plan or the prompt is a no."""
        if confirm is None:
            return
        assert self.stop is not None
        with self.stop.disarmed():
            try:
                agreed = confirm(*args)
            except KeyboardInterrupt:  # Ctrl-C while the plan is shown, before the prompt: a no
                agreed = False
        if not agreed:
            raise Declined(declined, signum=self.stop.signum if self.stop.requested else None)


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
    # The backup it is about (a restore's), known from the start.
    backup_id: str | None = None
    # A dry run that ends well leaves no operation (nothing happened); one that fails is kept,
    # with ``params.dry_run``, so its report says what went wrong.
    dry_run: bool = False
    # ``next_command`` only once a change was journaled (a restore that failed before any
    # change has nothing to continue).
    continue_only_after_progress: bool = False


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
        params = dict(spec.params, dry_run=True) if spec.dry_run else spec.params
        operation = journal.start_operation(spec.kind, params, spec.instance_arn, sealing=spec.sealing,
                                            backup_id=spec.backup_id)
    run = OperationRun(operation, journal=journal, spec=spec, stop=stop)
    logged = bind_operation(operation.id, operation.kind)  # every log line from here on names the operation
    try:
        with stop.arm():
            if spec.lock and operation.instance_arn:
                run.take_lock()
            yield run
    except Declined:
        if spec.resume:  # declining to continue leaves it as it was: stopped, resumable
            _with_phases(None, phases)
            _record(journal, run, INTERRUPTED, None)
        else:
            _discard(journal, run, phases)
        raise
    except KeyboardInterrupt as exc:
        _record(journal, run, INTERRUPTED, _with_phases(
            {"error": f"stopped by signal {getattr(exc, 'signum', signal.SIGINT)}"}, phases))
        raise _interrupted(journal, run, spec, exc) from exc
    except BaseException as exc:
        info = analyzer.analyze(exc)
        with contextlib.suppress(JournalError):
            journal.record_error(run.id, info)
        _record(journal, run, FAILED, _with_phases({"error": info.message, "category": info.category}, phases))
        _tag(journal, exc, run.id, spec)
        raise
    else:
        if spec.dry_run and not spec.resume:
            _discard(journal, run, phases)
            return
        status = run.status if run.finished else FAILED
        try:
            journal.finish_operation(run.id, status, backup_id=run.backup_id,
                                     summary=_with_phases(run.summary, phases), clear_checkpoints=status in _DONE)
        except JournalError as exc:
            run.warnings.append(f"The result could not be recorded in the journal: {exc.message}")
    finally:
        release_operation(logged)
        if run.locked:
            with contextlib.suppress(JournalError):
                journal.release_lock(run.locked, operation.id)


def _discard(journal: StateJournal, run: OperationRun, phases: Any) -> None:
    """Forget an operation in which nothing happened; one that cannot be forgotten is recorded."""
    try:
        journal.discard_operation(run.id)
        _with_phases(None, phases)  # its phases go with it
    except JournalError:
        _record(journal, run, SUCCEEDED, _with_phases({"nothing_changed": True}, phases))


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


def _interrupted(journal: StateJournal, run: OperationRun, spec: OperationSpec,
                 exc: BaseException) -> OperationInterrupted:
    signum = int(getattr(exc, "signum", signal.SIGINT))
    name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C" if signum == signal.SIGINT else f"signal {signum}"
    stopped = OperationInterrupted(f"{spec.kind.capitalize()} {run.id} stopped by {name}; what finished is kept",
                                   signum=signum, remediation=_continue_steps(journal, run.id, spec) + run.warnings)
    stopped.operation_id = run.id  # type: ignore[attr-defined]
    stopped.operation_kind = spec.kind  # type: ignore[attr-defined]
    stopped.account = _account(journal, run.id)  # type: ignore[attr-defined]
    return stopped


def _continue_steps(journal: StateJournal, operation_id: str, spec: OperationSpec) -> list[str]:
    """How to go on after a stop, from the operation's account (what `report show` says next)."""
    from awsideman.services.account import operation_account

    try:
        account = operation_account(journal, operation_id)
    except Exception:  # the journal failed now: the spec still knows the command
        return [f"Continue: {spec.next_command(operation_id)}"] if spec.next_command else []
    steps = [f"Continue: {account.next_command}"] if account.next_command else []
    return steps + [s for s in account.recovery if not account.next_command or account.next_command not in s]


def _account(journal: StateJournal, operation_id: str) -> dict[str, Any] | None:
    """What the command's closing document says of an operation that ended by an exception."""
    from awsideman.services.account import operation_account

    try:
        account = operation_account(journal, operation_id)
    except Exception:
        return None
    return {"operation_id": account.operation_id, "kind": account.kind, "status": account.status,
            "backup_id": account.backup_id, "counts": account.counts,
            "duration_seconds": account.duration_seconds, "next_command": account.next_command}


def _tag(journal: StateJournal, error: BaseException, operation_id: str, spec: OperationSpec) -> None:
    """Let the CLI name the operation, its account and the command that continues it."""
    error.operation_id = operation_id  # type: ignore[attr-defined]
    error.operation_kind = spec.kind  # type: ignore[attr-defined]
    error.account = _account(journal, operation_id)  # type: ignore[attr-defined]
    # A runner that lost its lease no longer owns the operation: resuming it is the new holder's call.
    if spec.next_command is None or getattr(error, "next_command", None) or isinstance(error, LeaseLostError):
        return
    if spec.dry_run or (spec.continue_only_after_progress and not _progressed(journal, operation_id)):
        return
    command = spec.next_command(operation_id)
    named = " ".join(getattr(error, "remediation", None) or [])
    if command not in named and not (isinstance(error, AwsidemanError) and error.exit_code == 2):
        error.next_command = command  # type: ignore[attr-defined]


def _progressed(journal: StateJournal, operation_id: str) -> bool:
    try:
        return bool(journal.changes(operation_id))
    except JournalError:
        return True  # cannot tell: offer the way on

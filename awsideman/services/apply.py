"""The apply engine: journaled, dependency-ordered, concurrent changes within the quotas.

For each change (DESIGN sections 5 and 6.3): the change and its inverse are committed to the
journal as an INTENT, then the call is made; a synchronous change is then marked APPLIED, an
asynchronous one (assignment create/delete, provisioning) keeps its request id on the intent
and is marked APPLIED or FAILED when polling settles it.

Scheduling: a change starts once every change it depends on has been applied. Synchronous
calls run on ``concurrency`` worker threads (the shared rate limiter paces them); at most
``max_outstanding`` asynchronous requests are outstanding at once (the service refuses a 16th)
and never two for the same (permission set, account) (the service allows one at a time). Nor
does a permission set's update or provisioning run beside another request of that permission
set (the service refuses it: ``permission_set_gate``); other permission sets are not held up.
Outstanding requests are settled by the writer's ``poll``, a few listing calls per round, when
``core/poll_schedule`` says a round could settle one (fewer rounds when few are outstanding).

On the first failure nothing new starts; what is in flight finishes (and outstanding requests
are polled to their end), so the outcome lists exactly what was applied. When the run is
halted (credentials that expired and cannot be refreshed: ``StopSignal.halt``) no request at
all goes out any more, polls included: outstanding requests are left running like on a stop,
and the outcome says ``halted``. On a stop request
nothing new starts either, but outstanding requests are left running: their intents keep the
request ids, which the next ``rollback`` or ``restore --resume`` reconciles.

With a recovery policy (config ``recovery:``, ``core/recovery.py``) a failure is first put to
it: ``skip`` leaves the change out and the run goes on (the changes that depend on it are
skipped too, each journaled as failed with the reason, so the account shows them); ``pause``
stops the run like a failure but for its rollback (the restore is resumable); ``fail`` (and a
``retry`` whose attempts are spent) is the failure above. The decision is journaled with the
change's error.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

from awsideman.core.cancel import StopSignal
from awsideman.core.changes import RESOURCES, Change
from awsideman.core.errors import ErrorAnalyzer, ErrorInfo, is_expected
from awsideman.core.exceptions import (
    AsyncRequestFailed,
    InternalError,
    IrreversibleChangeError,
    LeaseLostError,
    UnjournaledChangeError,
)
from awsideman.core.poll_schedule import PollSchedule
from awsideman.core.progress import open_phase
from awsideman.core.recovery import PAUSE, SKIP, Decision, ErrorFacts, RecoveryPolicy
from awsideman.journal import ChangeState, StateJournal
from awsideman.services import hooks
from awsideman.services.account_denial import AccountNames, name_the_account
from awsideman.services.change_calls import Outcome, execute
from awsideman.services.permission_set_gate import PermissionSetGate
from awsideman.services.resolver import Resolver

log = logging.getLogger("awsideman.apply")

MAX_OUTSTANDING = 15  # the service's fixed limit on outstanding asynchronous requests
POLL_INTERVAL = 0.5


@dataclass
class Failure:
    """A change that failed, with the analysed error."""

    change: Change
    error: ErrorInfo


@dataclass
class Skipped:
    """A change left out by a recovery policy (``because``: the skipped change it depends on)."""

    change: Change
    error: ErrorInfo
    decision: Decision
    because: str | None = None


@dataclass
class ApplyOutcome:
    """What a run of the engine did."""

    applied: list[Change] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    not_started: list[Change] = field(default_factory=list)
    unsettled: list[Change] = field(default_factory=list)  # async requests left running (stopped)
    stopped: bool = False
    halted: BaseException | None = None  # the error that halted the run (StopSignal.halt)
    skipped: list[Skipped] = field(default_factory=list)  # left out by a recovery policy (skip)
    paused: Decision | None = None  # a recovery policy stopped the run (pause)
    # The run's time budget ran out (``budget_spent``): what had not started was left alone.
    out_of_budget: bool = False

    @property
    def ok(self) -> bool:
        """Nothing failed, stopped or was left undone (changes a policy skipped do not count)."""
        return not (self.failed or self.not_started or self.unsettled or self.stopped or self.halted
                    or self.out_of_budget)

    def raise_unjournaled(self) -> None:
        """Raise for changes answered after the lease ran out: this runner's journal is fenced
        off, so the error is the only record of them."""
        late = [f.error.message for f in self.failed if f.error.code == UnjournaledChangeError.code]
        if late:
            raise UnjournaledChangeError(" ".join(late))


class _Halted(Exception):  # noqa: N818 - not an error of the change: it never started
    """Raised by a change refused before its intent because the run was halted."""


@dataclass
class _Running:
    change: Change
    seq: int


class ApplyEngine:
    """Runs a list of changes for one journaled operation (see the module docstring)."""

    def __init__(self, writer: Any, resolver: Resolver, journal: StateJournal, operation_id: str, *,
                 stop: StopSignal, analyzer: ErrorAnalyzer | None = None, concurrency: int = 8,
                 max_outstanding: int = MAX_OUTSTANDING, poll_interval: float = POLL_INTERVAL,
                 kind_prefix: str = "", on_applied: Callable[[Change], None] | None = None,
                 progress: Callable[[str], None] | None = None, phase: str = "applying",
                 accounts: AccountNames | None = None, recovery: RecoveryPolicy | None = None,
                 budget_spent: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.writer, self.resolver, self.journal, self.operation_id = writer, resolver, journal, operation_id
        self.stop, self.analyzer = stop, analyzer or ErrorAnalyzer()
        self.concurrency, self.max_outstanding, self.poll_interval = concurrency, max_outstanding, poll_interval
        self.kind_prefix = kind_prefix
        self.on_applied = on_applied or (lambda _change: None)
        self.progress = progress or (lambda _msg: None)
        self.phase = phase  # the name the run's progress shows (applying, compensating)
        self.accounts = accounts  # names a denied account in the error (None: by id only)
        self.recovery = recovery if recovery is not None and recovery.configured else None
        # Asked before each round of starts (a rollback's time budget): True starts nothing more,
        # and what is in flight (and outstanding requests) still finishes, like after a failure.
        self.budget_spent = budget_spent
        self.clock = clock  # when polls are due (core/poll_schedule)

    def run(self, changes: list[Change]) -> ApplyOutcome:
        """Apply ``changes`` (in dependency order) and report what happened to each."""
        with open_phase(self.progress, self.phase, len(changes)) as phase:
            run = _Run(self, changes, phase)
            self._run(run)
        return run.outcome

    def _run(self, run: _Run) -> None:
        # One lane of `concurrency` workers per resource kind: each kind is paced by its own quota
        # bucket (identitystore limits each API separately), so users, memberships and
        # assignments proceed side by side instead of queueing behind each other.
        with ThreadPoolExecutor(max_workers=self.concurrency * len(RESOURCES), thread_name_prefix="apply") as pool:
            run.loop(pool)

    # -- one change, on a worker thread ------------------------------------------------------
    def start(self, change: Change) -> tuple[_Running, Outcome]:
        """Journal the intent, then make the call; raises the call's error after journaling it."""
        if self.stop.halted is not None:
            raise _Halted()
        self.stop.check()
        try:
            inverse = change.inverse().to_dict()
        except IrreversibleChangeError:
            inverse = None
        seq = self.journal.record_intent(self.operation_id, f"{self.kind_prefix}{change.resource}:{change.action}",
                                         change.to_dict(), inverse, address=change.address)
        running = _Running(change, seq)
        calls: list[dict[str, Any]] = []  # the writes sent for it, with their AWS request ids (audit trail)
        try:
            with self.writer.recording(calls):
                outcome = execute(change, self.writer, self.resolver)
        except Exception as exc:
            self.fail(running, exc, calls=calls)
            raise
        self._vouch(change)
        request = outcome.request
        if request is not None and request.request_id is not None:
            hooks.reached("apply:after-async-call")  # sent, its id not journaled yet
            self.journal.record_request(self.operation_id, seq, request.request_id, calls=calls)
        if request is not None and request.status == "FAILED":
            error = AsyncRequestFailed(f"{change.address}: request {request.request_id} ended FAILED: "
                                       f"{request.failure_reason or 'no reason given'}")
            self.fail(running, error, calls=calls)
            raise error
        if request is None or request.status == "SUCCEEDED":
            # Settled at once (synchronous, or an async answer already final / found by lookup).
            self.applied(running, outcome.detail or _settled_detail(request), calls=calls)
            return running, Outcome(outcome.detail)
        return running, outcome

    def _vouch(self, change: Change) -> None:
        """After the answer: can this runner still vouch for its lease on the shared state?

        The last check before the send passed; a process paused right after it (SIGSTOP, a
        frozen VM) sends on waking, perhaps after another runner took over. Identity Center
        cannot refuse that request, and this runner's journal writes are fenced off from then
        on, so the only record left is the error, which must name the change.
        """
        try:
            self.journal.ensure_lease()
        except LeaseLostError as exc:
            raise UnjournaledChangeError(
                f"{change.address} ({change.action}) was answered after this runner's lease on the shared "
                f"state ran out ({exc.message}); it may have been made after another runner took over, "
                "and the journal has no record of it.") from exc

    def skip_unstarted(self, change: Change, info: ErrorInfo, decision: Decision) -> None:
        """Journal a change that is never started because a recovery policy skipped what it needs."""
        seq = self.journal.record_intent(self.operation_id, f"{self.kind_prefix}{change.resource}:{change.action}",
                                         change.to_dict(), None, address=change.address)
        self.journal.mark_change(self.operation_id, seq, ChangeState.FAILED, error=_with_decision(info, decision),
                                 detail=info.message)

    def applied(self, running: _Running, detail: str | None, *, calls: list[dict[str, Any]] | None = None) -> None:
        # The intent is what must be durable before the call; an outcome lost with the process
        # leaves an intent that resume and rollback settle from live state.
        self.journal.mark_change(self.operation_id, running.seq, ChangeState.APPLIED, detail=detail, calls=calls,
                                 wait=False)
        self.on_applied(running.change)

    def explain(self, change: Change, exc: BaseException) -> ErrorInfo:
        """The analysed error of a change, naming the account it was denied in."""
        return name_the_account(change, self.analyzer.analyze(exc), self.accounts)

    def decide(self, change: Change, info: ErrorInfo) -> Decision | None:
        """What the recovery policy does with this failed change (None: no policy, fail as always)."""
        if self.recovery is None:
            return None
        return self.recovery.decide(ErrorFacts(
            category=info.category, code=info.code, message=info.message, severity=info.severity,
            recoverable=info.recoverable, operation=info.operation, http_status=info.http_status,
            resource=change.resource, address=change.address))

    def fail(self, running: _Running, exc: BaseException, *, calls: list[dict[str, Any]] | None = None) -> ErrorInfo:
        info = self.explain(running.change, exc)
        self.journal.mark_change(self.operation_id, running.seq, ChangeState.FAILED,
                                 error=_with_decision(info, self.decide(running.change, info)),
                                 detail=info.message, calls=calls)
        # A warning: the operation's analysed error ends its log (RunRecorder), this is the event.
        log.warning("%s failed: %s (%s): %s", running.change.address, info.code, info.category, info.message)
        return info


class _Run:
    """The scheduling state of one ``ApplyEngine.run`` (main thread only).

    Ready changes wait in one heap per resource kind, in plan order; a change enters its heap
    when the last change it depends on has been applied, so scheduling costs O(log n) per
    change however long the plan is.
    """

    def __init__(self, engine: ApplyEngine, changes: list[Change], phase: Any) -> None:
        self.engine = engine
        self.phase = phase  # advanced once per change settled, applied or failed
        self.order = {c.address: i for i, c in enumerate(changes)}
        self.waiting: dict[str, int] = {}
        self.dependents: dict[str, list[Change]] = {}
        self.ready: dict[str, list[tuple[int, Change]]] = {}
        self.launched: set[str] = set()
        self.changes = changes
        for change in changes:
            deps = [d for d in change.depends_on if d in self.order]
            self.waiting[change.address] = len(deps)
            for dep in deps:
                self.dependents.setdefault(dep, []).append(change)
            if not deps:
                self.make_ready(change)
        self.in_flight: dict[Future[tuple[_Running, Outcome]], Change] = {}
        self.outstanding: dict[str, tuple[_Running, Any]] = {}
        self.busy_pairs: set[tuple[str, str]] = set()
        self.gate = PermissionSetGate()
        self.parked: dict[str, list[tuple[int, Change]]] = {}  # by permission set, until it is freed
        self.outcome = ApplyOutcome()
        self.stopping = False
        self.schedule = PollSchedule(engine.poll_interval, engine.clock)

    def make_ready(self, change: Change) -> None:
        heapq.heappush(self.ready.setdefault(change.resource, []), (self.order[change.address], change))

    def loop(self, pool: ThreadPoolExecutor) -> None:
        while True:
            if (not self.stopping and self.engine.budget_spent is not None and len(self.launched) < len(self.changes)
                    and self.engine.budget_spent()):
                self.stopping = self.outcome.out_of_budget = True
            if not self.stopping:
                self.launch(pool)
            if not self.in_flight and not self.outstanding:
                break
            if self.in_flight:
                finished, _ = wait(list(self.in_flight), timeout=self.engine.poll_interval / 2,
                                   return_when=FIRST_COMPLETED)
            else:
                # Only asynchronous requests left: `wait` on no future returns at once, and this
                # loop would spin (a CPU at 100 %) until the next poll. Sleep until then instead.
                finished = set()
                due = self.schedule.due_at()
                self.engine.stop.wait(self.engine.poll_interval if due is None else due - self.engine.clock())
            for future in finished:
                self.settle(future)
            self.poll()
            if self.engine.stop.halted is not None:
                self.stopping, self.outcome.halted = True, self.engine.stop.halted
                if not self.in_flight:
                    break
            if self.engine.stop.requested:
                self.stopping = self.outcome.stopped = True
                if not self.in_flight:
                    break
        self.outcome.unsettled = [running.change for running, _ in self.outstanding.values()]
        self.outcome.not_started = [c for c in self.changes if c.address not in self.launched]
        if self.outcome.not_started and not (self.outcome.failed or self.outcome.stopped or self.outcome.halted
                                             or self.outcome.out_of_budget):
            # Nothing failed and nothing stopped us, yet changes never started: a scheduling bug
            # must not pass for a failed restore with no error.
            raise InternalError(f"Internal error (a bug in awsideman): {len(self.outcome.not_started)} change(s) "
                                f"never started, e.g. {self.outcome.not_started[0].address}")

    def launch(self, pool: ThreadPoolExecutor) -> None:
        lanes = Counter(c.resource for c in self.in_flight.values())
        for resource, heap in self.ready.items():
            deferred = []
            while heap and lanes[resource] < self.engine.concurrency:
                item = heapq.heappop(heap)
                change = item[1]
                if change.is_async:
                    async_busy = len(self.outstanding) + sum(c.is_async for c in self.in_flight.values())
                    if async_busy >= self.engine.max_outstanding:
                        deferred.append(item)
                        break
                    if change.exclusive_key in self.busy_pairs:
                        deferred.append(item)
                        continue
                if not self.gate.admit(change):
                    # Parked, not deferred: it cannot start before a change of its permission set
                    # ends, so looking at it on every turn of the loop would be wasted work.
                    self.parked.setdefault(self.gate.name(change), []).append(item)
                    continue
                if change.exclusive_key is not None:
                    self.busy_pairs.add(change.exclusive_key)
                self.launched.add(change.address)
                self.in_flight[pool.submit(self.engine.start, change)] = change
                lanes[resource] += 1
            for item in deferred:
                heapq.heappush(heap, item)

    def settle(self, future: Future[tuple[_Running, Outcome]]) -> None:
        change = self.in_flight.pop(future)
        try:
            running, outcome = future.result()
        except (KeyboardInterrupt, _Halted):
            self.release(change)
            self.launched.discard(change.address)  # stopped before its intent: it never started
            return
        except Exception as exc:
            self.release(change)
            if not is_expected(exc):
                raise InternalError(f"Internal error (a bug in awsideman) applying {change.address}: "
                                    f"{type(exc).__name__}: {exc}") from exc
            self.failed(change, self.engine.explain(change, exc))
            return
        if outcome.request is None:  # synchronous, or an asynchronous answer already final
            self.release(change)
            self.succeeded(change)
        else:
            self.outstanding[outcome.request.request_id] = (running, outcome.request)
            self.schedule.start(outcome.request.request_id)
            self.poll(force=getattr(outcome.request, "status", "IN_PROGRESS") != "IN_PROGRESS")

    def poll(self, force: bool = False) -> None:
        if self.engine.stop.halted is not None or not self.outstanding or not (force or self.schedule.due()):
            return
        self.schedule.polled()
        try:
            settled = self.engine.writer.poll([request for _, request in self.outstanding.values()])
        except Exception:
            if self.engine.stop.halted is None:
                raise
            return  # the poll met the credentials' end: the requests are left to resume or rollback
        for request_id, request in settled.items():
            if request.status == "IN_PROGRESS" or request_id not in self.outstanding:
                continue
            running, _ = self.outstanding.pop(request_id)
            self.schedule.settle(request_id)
            self.release(running.change)
            if request.status == "SUCCEEDED":
                self.engine.applied(running, f"request {request_id} SUCCEEDED")
                self.succeeded(running.change)
            else:
                reason = getattr(request, "failure_reason", None) or "no reason given"
                error = AsyncRequestFailed(f"{running.change.address}: request {request_id} ended FAILED: {reason}")
                self.failed(running.change, self.engine.fail(running, error))

    def release(self, change: Change) -> None:
        if change.exclusive_key is not None:
            self.busy_pairs.discard(change.exclusive_key)
        for item in self.parked.pop(self.gate.leave(change) or "", []):
            heapq.heappush(self.ready[item[1].resource], item)

    def succeeded(self, change: Change) -> None:
        self.outcome.applied.append(change)
        self.phase.advance()
        for dependent in self.dependents.get(change.address, []):
            self.waiting[dependent.address] -= 1
            if self.waiting[dependent.address] == 0:
                self.make_ready(dependent)

    def failed(self, change: Change, info: ErrorInfo) -> None:
        decision = self.engine.decide(change, info)
        self.phase.advance()
        if decision is not None and decision.action == SKIP:
            self.outcome.skipped.append(Skipped(change, info, decision))
            self.skip_dependents(change, info, decision)
            return
        self.outcome.failed.append(Failure(change, info))
        self.stopping = True  # nothing new starts after a failure retries could not fix
        if decision is not None and decision.action == PAUSE and self.outcome.paused is None:
            self.outcome.paused = decision

    def skip_dependents(self, change: Change, info: ErrorInfo, decision: Decision) -> None:
        """Leave out what cannot be made without a skipped change (a membership of a skipped user),
        each journaled as failed with the reason, so every view of the run lists it."""
        pending = list(self.dependents.get(change.address, []))
        while pending:
            dependent = pending.pop()
            if dependent.address in self.launched:
                continue
            self.launched.add(dependent.address)
            reason = f"not made: it depends on {change.address}, which was skipped ({decision.rule})"
            self.engine.skip_unstarted(dependent, replace(info, message=reason, remediation=()), decision)
            self.outcome.skipped.append(Skipped(dependent, info, decision, because=change.address))
            self.phase.advance()
            pending.extend(self.dependents.get(dependent.address, []))


def _with_decision(info: ErrorInfo, decision: Decision | None) -> dict[str, Any]:
    """The error as journaled: with the policy's decision (and its category, if a handler changed it)."""
    data = info.to_dict()
    if decision is not None:
        data["decision"] = decision.to_dict()
        data["category"] = decision.category
    return data


def _settled_detail(request: Any) -> str:
    how = "found by natural key after a lost answer" if getattr(request, "found_after_lost_response", False) else (
        f"request {request.request_id} SUCCEEDED")
    return str(how)

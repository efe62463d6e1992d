"""Undoing a restore from its journal: the one path of automatic and manual rollback.

1. Settle: an asynchronous change still INTENT with a request id (the process died or stopped
   while it ran) is polled to its end and journaled APPLIED or FAILED, so no inverse races a
   request the service is still working on.
2. Check access: one cheap read per kind of resource the inverses touch. Denied or expired
   credentials stop here, naming the permissions, instead of after half of the reverts.
3. Revert: one inverse per address, taken from the earliest open change of that address
   (APPLIED, INTENT, or FAILED half-way: its ``before`` is the state before the restore; a resumed
   restore may have journaled the address twice), in reverse dependency order. Every inverse
   is idempotent against live state, so an INTENT whose call may or may not have landed needs
   no guessing, and a rollback that was itself interrupted is simply run again. Each inverse
   is journaled under the operation doing the rollback like any change, and the restore's
   changes of that address are marked COMPENSATED as it lands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

from awsideman.adapters.async_requests import ASYNC_KIND, AsyncRequest
from awsideman.adapters.revert_access import ACCESS_PROBES, REVERT_PERMISSIONS
from awsideman.core.changes import Change
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import AwsidemanError, IrreversibleChangeError
from awsideman.core.ordering import rollback_order
from awsideman.core.progress import open_phase
from awsideman.core.rollback_policy import RollbackPolicy, budget_reason, kept_reason, kept_with_dependents
from awsideman.journal import ChangeRecord, ChangeState
from awsideman.services.account_denial import AccountNames
from awsideman.services.apply import POLL_INTERVAL, ApplyEngine
from awsideman.services.change_calls import created_id
from awsideman.services.context import Context
from awsideman.services.resolver import Resolver

OPEN_STATES = (ChangeState.APPLIED, ChangeState.INTENT, ChangeState.FAILED)
COMPENSATION_PREFIX = "compensate:"
SETTLE_TIMEOUT = 900.0  # an assignment request normally settles within a minute


@dataclass
class Compensation:
    """What a rollback did: addresses reverted, what is left changed (and why), the errors."""

    compensated: list[str] = field(default_factory=list)
    leftover: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False
    # Left in effect on purpose by the policy (rollback.keep): addresses, also in ``leftover``.
    kept: list[str] = field(default_factory=list)
    # The policy's time budget ran out: what had not started is in ``leftover``, still open.
    out_of_budget: bool = False
    # Kept because its revert needs a kept change reverted: address -> reason (journaled).
    kept_reasons: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Everything the policy wanted reverted is reverted (what it kept may be left over)."""
        return len(self.leftover) == len(self.kept) and not self.out_of_budget


def open_changes(records: Iterable[ChangeRecord]) -> dict[str, list[ChangeRecord]]:
    """The restore's changes that may still be in effect, by address, oldest first.

    Compensations an automatic rollback journaled under the restore itself are not changes to undo.
    """
    by_address: dict[str, list[ChangeRecord]] = {}
    for record in records:
        compensation = record.kind.startswith(COMPENSATION_PREFIX)
        if (record.state in OPEN_STATES and not compensation and not _never_applied(record)
                and not _orphan_delete(record)):
            by_address.setdefault(str(record.address), []).append(record)
    return by_address


def _orphan_delete(record: ChangeRecord) -> bool:
    """An orphan assignment's delete (``--prune``): journaled without an inverse, never reverted.

    Assigning a principal that no longer exists is refused by AWS, and the assignment granted no
    one access: a rollback leaves it deleted and says so (`orphans_not_given_back`) instead of
    stopping before everything it can revert.
    """
    forward = record.forward or {}
    return forward.get("resource") == "assignment" and bool((forward.get("before") or {}).get("orphan"))


def orphans_not_given_back(records: Iterable[ChangeRecord]) -> str | None:
    """The rollback's note on the orphan assignments the restore deleted (None: it deleted none)."""
    gone = sorted({str(r.address) for r in records if r.state in (ChangeState.APPLIED, ChangeState.INTENT)
                   and not r.kind.startswith(COMPENSATION_PREFIX) and _orphan_delete(r)})
    if not gone:
        return None
    return (f"{len(gone)} orphan assignment(s) deleted by --prune stay deleted: their user or group no longer "
            f"exists, so they cannot be assigned again (they granted no one access): {', '.join(gone[:5])}"
            f"{', ...' if len(gone) > 5 else ''}")


def _never_applied(record: ChangeRecord) -> bool:
    """A FAILED change the service refused outright: one call, a definite answer, nothing to undo.

    A permission set create or update is several calls (it may have failed half-way) and a lost
    answer (AmbiguousWrite) may have landed: those stay open and are reverted.
    """
    if record.state is not ChangeState.FAILED:
        return False
    forward = record.forward or {}
    several_calls = forward.get("resource") == "permission_set" and forward.get("action") != "delete"
    return not several_calls and (record.error or {}).get("code") != "AmbiguousWrite"


def inverses_of(by_address: dict[str, list[ChangeRecord]]) -> list[Change]:
    """The changes to revert (the earliest record of each address), in reverse dependency order."""
    return rollback_order(_forward(records) for records in by_address.values())


def _forward(records: list[ChangeRecord]) -> Change:
    """The change as journaled; a create carries the id its answer gave (hint ``created_id``), so
    its revert deletes exactly that resource by id: no lookup by name per delete, and none that
    a lagging read could answer "absent"."""
    change = Change.from_dict(records[0].forward)
    if change.action != "create":
        return change
    made = next((found for record in records if (found := created_id(record.detail))), None)
    return replace(change, hints={**change.hints, "created_id": made}) if made else change


def settle_requests(ctx: Context, writer: Any, operation_id: str, *, timeout: float = SETTLE_TIMEOUT,
                    interval: float = POLL_INTERVAL) -> list[ChangeRecord]:
    """Wait for the operation's open asynchronous intents to end; journal how; return the changes.

    An intent with a request id is polled to its status. One without (the process died between
    sending it and journaling the answer) cannot be asked about by id, so the wait lasts until
    the instance has no request of that kind running: only then does live state show its effect.
    """
    records = ctx.journal.changes(operation_id)
    pending: dict[str, tuple[ChangeRecord, AsyncRequest]] = {}
    blind: set[str] = set()
    for record in records:
        kind = ASYNC_KIND.get((record.forward.get("resource"), record.forward.get("action")))
        if record.state is not ChangeState.INTENT or kind is None:
            continue
        if record.request_id:
            pending[record.request_id] = (record, AsyncRequest(kind, record.request_id, "IN_PROGRESS"))
        else:
            blind.add(kind)
    if not pending and not blind:
        return records
    ctx.progress(f"Waiting for the asynchronous request(s) {operation_id} left running")
    with open_phase(ctx.progress, "polling", len(pending) + len(blind)) as phase:
        return _wait_for(ctx, writer, operation_id, pending, blind, phase, timeout, interval)


def _wait_for(ctx: Context, writer: Any, operation_id: str, pending: dict[str, tuple[ChangeRecord, AsyncRequest]],
              blind: set[str], phase: Any, timeout: float, interval: float) -> list[ChangeRecord]:
    waited = 0.0
    while True:
        for request_id, request in writer.poll([request for _, request in pending.values()]).items():
            if request.done and request_id in pending:
                _settle(ctx, operation_id, pending.pop(request_id)[0], request)
                phase.advance()
        running = {kind for kind in blind if writer.running(kind)}
        phase.advance(len(blind - running))
        blind = running
        if not pending and not blind:
            return ctx.journal.changes(operation_id)
        if waited >= timeout:
            raise AwsidemanError(
                f"Asynchronous requests of {operation_id} are still running after {int(timeout)} s "
                f"({', '.join(sorted(pending)[:5]) or ', '.join(sorted(blind))}); nothing was reverted or redone",
                remediation=["Run the same command again in a few minutes."])
        ctx.stop.sleep(interval)
        waited += interval


def _settle(ctx: Context, operation_id: str, record: ChangeRecord, request: Any) -> None:
    if request.status == "SUCCEEDED":
        ctx.journal.mark_change(operation_id, record.seq, ChangeState.APPLIED,
                                detail=f"request {request.request_id} SUCCEEDED (settled later)")
    else:
        reason = request.failure_reason or "no reason given"
        ctx.journal.mark_change(operation_id, record.seq, ChangeState.FAILED,
                                detail=f"request {request.request_id} ended FAILED: {reason}")


class Compensator:
    """Reverts the open changes of one restore (see the module docstring)."""

    def __init__(self, ctx: Context, writer: Any, resolver: Resolver, analyzer: ErrorAnalyzer) -> None:
        self.ctx, self.writer, self.resolver, self.analyzer = ctx, writer, resolver, analyzer

    def run(self, restore_id: str, journal_op: str, policy: RollbackPolicy | None = None) -> Compensation:
        """Revert what ``restore_id`` left changed, journaling the inverses under ``journal_op``.

        ``policy`` (an automatic rollback's ``rollback:``): the kinds it keeps are left in effect,
        and once its time budget is spent nothing more is started. A manual rollback has none.
        """
        ctx = self.ctx
        by_address = open_changes(settle_requests(ctx, self.writer, restore_id))
        kept: dict[str, list[ChangeRecord]] = {}
        because: dict[str, str] = {}  # kept as a dependent of a kept change (the reason), see below
        if policy is not None and policy.keep:
            kept = {a: r for a, r in by_address.items() if policy.keeps((r[0].forward or {}).get("resource"))}
            try:
                because = kept_with_dependents(inverses_of(by_address), set(kept))
            except IrreversibleChangeError:
                because = {}  # reported below, with what the policy keeps
            kept.update({a: by_address[a] for a in because})
            by_address = {a: r for a, r in by_address.items() if a not in kept}
        if not by_address:
            return self._with_kept(restore_id, Compensation(), kept, because)
        try:
            inverses = inverses_of(by_address)
        except IrreversibleChangeError as exc:
            return self._with_kept(restore_id, self._stopped(restore_id, journal_op, by_address,
                                                             self.analyzer.analyze(exc).to_dict()), kept, because)
        denied = self._check_access({c.resource for c in inverses})
        if denied is not None:
            return self._with_kept(restore_id, self._stopped(restore_id, journal_op, by_address, denied), kept,
                                   because)
        seqs = {address: [r.seq for r in records] for address, records in by_address.items()}

        def compensated(inverse: Change) -> None:
            for seq in seqs.pop(inverse.address, []):
                ctx.journal.mark_change(restore_id, seq, ChangeState.COMPENSATED)

        ctx.progress(f"Rolling back {len(inverses)} change(s) of {restore_id}")
        engine = ApplyEngine(self.writer, self.resolver, ctx.journal, journal_op, stop=ctx.stop,
                             analyzer=self.analyzer, concurrency=ctx.settings.concurrency,
                             kind_prefix=COMPENSATION_PREFIX, on_applied=compensated, progress=ctx.progress,
                             phase="compensating", accounts=AccountNames(ctx.gateway),
                             budget_spent=self._budget(policy))
        outcome = engine.run(inverses)
        outcome.raise_unjournaled()
        errors = {f.change.address: dict(f.error.to_dict(), resource=f.change.address, during="rollback")
                  for f in outcome.failed}
        left = {address: records for address, records in by_address.items() if address in seqs}
        if outcome.out_of_budget and policy is not None:
            reason = budget_reason(policy.time_budget)
            for change in outcome.not_started:
                errors.setdefault(change.address, {"message": reason, "policy": "rollback.time_budget"})
        result = self._left(restore_id, left, None, {a: e for a, e in errors.items() if "code" in e},
                            reasons={a: e["message"] for a, e in errors.items() if "code" not in e})
        result.compensated = [c.address for c in outcome.applied]
        result.stopped = outcome.stopped
        result.out_of_budget = outcome.out_of_budget
        if outcome.out_of_budget:
            ctx.progress(f"The rollback's time budget was spent: {len(outcome.not_started)} change(s) of "
                         f"{restore_id} not reverted; `awsideman rollback {restore_id}` finishes it")
        return self._with_kept(restore_id, result, kept, because)

    def _budget(self, policy: RollbackPolicy | None) -> Any:
        """``rollback.time_budget`` as the engine's question "is it spent?", on the context's clock."""
        if policy is None or policy.time_budget is None:
            return None
        clock, budget = self.ctx.clock, policy.time_budget
        deadline: list[float] = []  # from the engine's first look: the reverts' own time, not the set-up's

        def spent() -> bool:
            now = clock()
            if not deadline:
                deadline.append(now + budget)
            return now >= deadline[0]

        return spent

    def _with_kept(self, restore_id: str, result: Compensation, kept: dict[str, list[ChangeRecord]],
                   because: dict[str, str]) -> Compensation:
        """``result`` with what the policy kept listed as left over, each with the policy's reason."""
        if not kept:
            return result
        reasons = {a: because.get(a) or kept_reason((r[0].forward or {}).get("resource")) for a, r in kept.items()}
        result.kept_reasons = {a: because[a] for a in sorted(because)}
        listed = self._left(restore_id, kept, None, reasons=reasons, kept=True)
        result.leftover = sorted(result.leftover + listed.leftover, key=lambda item: str(item["resource"]))
        result.kept = sorted(kept)
        return result

    def _stopped(self, restore_id: str, journal_op: str, by_address: dict[str, list[ChangeRecord]],
                 error: dict[str, Any]) -> Compensation:
        """Nothing reverted because of ``error``: journal it (no failed change carries it), say what is left."""
        self.ctx.journal.record_error(journal_op, SimpleNamespace(**error), step=error.get("resource"))
        return self._left(restore_id, by_address, error)

    def _check_access(self, resources: set[str]) -> dict[str, Any] | None:
        """The error of the first kind whose cheap read is refused (None when all pass)."""
        probed: set[tuple[str, str]] = set()
        for resource in sorted(resources):
            if ACCESS_PROBES[resource] in probed:
                continue
            probed.add(ACCESS_PROBES[resource])
            try:
                self.writer.probe(resource)
            except Exception as exc:
                info = self.analyzer.analyze(exc).to_dict()
                needed = ", ".join(REVERT_PERMISSIONS[resource])
                info["message"] = (f"Checking access before reverting {resource.replace('_', ' ')} changes failed, "
                                   f"so nothing was reverted: {info['message']}")
                info["remediation"] = [f"Reverting {resource.replace('_', ' ')} changes needs: {needed}.",
                                       *info.get("remediation", [])]
                info["resource"] = resource
                return info
        return None

    def _left(self, restore_id: str, by_address: dict[str, list[ChangeRecord]], error: dict[str, Any] | None,
              errors: dict[str, dict[str, Any]] | None = None, *, reasons: dict[str, str] | None = None,
              kept: bool = False) -> Compensation:
        """A result naming, for each address still changed, what is left, why, and what to do.

        ``reasons``: why the policy left an address (kept, or its time budget spent), no error.
        """
        errors, reasons = errors or {}, reasons or {}
        leftover = []
        for address, records in sorted(by_address.items()):
            first = records[0]
            own = errors.get(address)
            why = (reasons.get(address) or (own or error or {}).get("message")
                   or "not reverted: the rollback stopped before it")
            state = "may be in effect" if first.state is not ChangeState.APPLIED else "is in effect"
            todo = (f"`awsideman rollback {restore_id}` reverts it too if it should not stay." if kept else
                    f"`awsideman rollback {restore_id}` reverts what is left." if address in reasons else
                    f"Fix the cause, then `awsideman rollback {restore_id}` reverts what is left, "
                    f"or check {address} by hand against the backup.")
            leftover.append({
                "resource": address, "action": first.forward.get("action"),
                "what": f"the {first.forward.get('action')} by {restore_id} {state}",
                "why": why, "remediation": [todo]})
        listed = list(errors.values()) + ([error] if error is not None else [])
        return Compensation(leftover=leftover, errors=listed)

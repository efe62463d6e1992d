"""Restore orchestration: load and verify the backup, read the target, plan, apply with the
journal, and on a failure that retries cannot fix compensate in reverse (DESIGN section 6)."""

from __future__ import annotations

import time
from dataclasses import KW_ONLY, asdict, dataclass, field, replace
from typing import Any

from awsideman.adapters.identity_center_writes import IdentityCenterWriter
from awsideman.core.changes import Change
from awsideman.core.errors import ErrorAnalyzer, ErrorInfo
from awsideman.core.exceptions import StateBackendError, Terminated, UsageError
from awsideman.core.ids import validate_backup_id, validate_operation_id
from awsideman.core.model import RESOURCE_KINDS, Snapshot
from awsideman.core.planner import Plan, make_plan, untouchables_from_missing
from awsideman.core.planner.scope import NotTouched
from awsideman.core.progress import open_phase
from awsideman.core.recovery import Decision
from awsideman.core.rollback_policy import NEVER_REASON, RollbackPolicy, purged_message
from awsideman.core.route_price import PERMISSION_SET
from awsideman.journal import INTERRUPTED, PARTIAL, ROLLBACK_FAILED, ROLLED_BACK, SUCCEEDED, ChangeState, Operation
from awsideman.services.account_denial import AccountNames
from awsideman.services.apply import ApplyEngine, Skipped
from awsideman.services.archive import BackupArchive
from awsideman.services.compensation import (
    COMPENSATION_PREFIX,
    Compensator,
    open_changes,
    orphans_not_given_back,
    settle_requests,
)
from awsideman.services.context import Context
from awsideman.services.lifecycle import OperationRun, OperationSpec, run_operation, takeover_note
from awsideman.services.live import read_live
from awsideman.services.preflight import check_mode, prove_access
from awsideman.services.resolver import Resolver

MAX_NAMED = 500  # dependents kept by policy named in the summary (an item of the shared state holds 400 KB)
MUTATING_PREFIXES = ("Create", "Update", "Delete", "Put", "Attach", "Detach", "Tag", "Untag", "Provision")


def mutating_calls(calls: dict[str, int]) -> int:
    """How many of ``{"service:Operation": count}`` change state (the figure a dry run keeps at 0)."""
    return sum(n for op, n in calls.items() if op.split(":", 1)[1].startswith(MUTATING_PREFIXES))


@dataclass
class RestoreRequest:
    backup_id: str
    store: str | None = None
    dry_run: bool = False
    conflict: str = "overwrite"
    prune: bool = False
    resources: list[str] = field(default_factory=lambda: list(RESOURCE_KINDS))
    auto_rollback: bool = True
    allow_partial: bool = False
    lock_timeout: float = 0.0
    preflight: str = "auto"
    # The instance to restore into when it is not the backup's (a migration): said on purpose.
    target_instance: str | None = None
    # What an automatic rollback does (rollback: and the --rollback-* flags); None: the config's.
    rollback: RollbackPolicy | None = None


@dataclass
class LiveChangeResult:
    """What a restore and a rollback both report: the operation and how it ended, what was
    reverted and what is left changed, the errors. Status, counts, errors and duration are
    overwritten from the operation's account once it closed (services.account.closing_account)."""

    operation_id: str | None
    status: str
    _: KW_ONLY
    dry_run: bool = False
    compensated: list[str] = field(default_factory=list)
    leftover: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0
    duration_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    # What the preflight proved (None: skipped, or nothing to change): principal, checked, denied.
    preflight: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RestoreResult(LiveChangeResult):
    """What `restore` reports (the JSON contract: DESIGN section 1)."""

    backup_id: str
    source: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, dict[str, int]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    not_touched: list[dict[str, Any]] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    mutating_calls: int = 0
    warnings: list[str] = field(default_factory=list)
    # Stopped cleanly where `restore --resume` finishes it (credentials expired): exit 1, not 5.
    resumable: bool = False
    paused: dict[str, Any] | None = None  # the recovery policy's decision that paused the run
    # What the automatic rollback left in effect by policy (rollback.keep), also in ``leftover``.
    kept: list[str] = field(default_factory=list)
    # Those kept because their revert needs a kept change reverted first: address -> why.
    kept_reasons: dict[str, str] = field(default_factory=dict)
    # The automatic rollback stopped when its time budget (rollback.time_budget) was spent.
    rollback_out_of_budget: bool = False


class RestoreService:
    """Restores one backup into the configured instance."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.analyzer = ErrorAnalyzer()

    # -- planning -----------------------------------------------------------------------------
    def plan(self, request: RestoreRequest) -> tuple[dict[str, Any], Plan, Snapshot]:
        """Verify the backup, read the target and compute the plan (no mutating call).

        Returns the manifest, the plan and the live state it was computed against.
        """
        with open_phase(self.context.progress, "loading", 1) as loading:
            # Proven intact now (a bad backup fails before any call); its records are read
            # after the live read, into the memory that read's raw records have freed.
            opened = BackupArchive(self.context).open(request.backup_id, request.store)
            manifest = opened.manifest
            loading.advance()
        held = list(manifest.get("resources") or RESOURCE_KINDS)
        scope = [kind for kind in request.resources if kind in held]
        if not scope:
            raise UsageError(f"{manifest['backup_id']} holds {', '.join(held)}; nothing of --resources "
                             f"{','.join(request.resources)} is in it")
        if manifest.get("partial") and not request.allow_partial:
            raise UsageError(f"{manifest['backup_id']} is a partial backup (it misses "
                             f"{', '.join(g['resource'] for g in manifest.get('missing') or [])}); restoring it "
                             "leaves what it misses alone",
                             remediation=["Pass --allow-partial to restore it anyway; the plan lists what it "
                                          "will not touch.", "Or restore a complete backup (`awsideman backup list`)."])
        # Every kind is read: cascades (a pruned user's assignments) and provisioned accounts
        # need the whole picture even when the scope is narrower.
        # --prune deletes orphan assignments too, which only the per-permission-set listing sees:
        # `auto` takes that route then (a configured route is kept, and the plan says what it missed).
        route = PERMISSION_SET if request.prune and self.context.settings.assignment_strategy == "auto" else None
        live = read_live(self.context, RESOURCE_KINDS, analyzer=self.analyzer, called="the target instance",
                         consequence="; nothing was changed", strategy=route)
        with open_phase(self.context.progress, "planning", 1) as planning:
            snapshot = opened.snapshot()
            untouchable = untouchables_from_missing(manifest.get("missing") or [], snapshot)
            plan = make_plan(snapshot, live, conflict=request.conflict, prune=request.prune, resources=scope,
                             untouchable=untouchable, source=dict(manifest.get("source") or {}),
                             target=self.context.instance.to_dict())
            if request.prune and "assignments" in scope and not live.orphans_visible:
                plan.not_touched.append(NotTouched(
                    "orphan assignments in the target", "not looked for: assignments were listed per principal "
                    "(assignment_strategy: principal), which cannot see those of deleted users and groups"))
            planning.advance()
        return manifest, plan, live

    # -- the run --------------------------------------------------------------------------------
    def run(self, request: RestoreRequest, confirm: Any = None) -> RestoreResult:
        """Plan, then (unless a dry run, or ``confirm(plan)`` says no) apply with the journal.

        The operation starts before the first call (DESIGN section 1: every run is an
        operation), so a failure at credentials, discovery, the lock or the backup's
        verification has a report. A dry run that ends well, and a declined prompt, leave none.
        """
        ctx = self.context
        started = time.monotonic()
        backup_id = validate_backup_id(request.backup_id)  # a bad id is an input error (exit 2), no operation
        check_mode(request.preflight)
        request.rollback = request.rollback or ctx.settings.rollback
        spec = OperationSpec("restore", params={
            "backup_id": backup_id, "store": request.store, "conflict": request.conflict,
            "prune": request.prune, "resources": request.resources, "auto_rollback": request.auto_rollback,
            "allow_partial": request.allow_partial, "target_instance": request.target_instance,
            "rollback": request.rollback.params()},
            backup_id=backup_id, lock=True,
            lock_timeout=request.lock_timeout, next_command=next_commands, dry_run=request.dry_run,
            continue_only_after_progress=True)
        with run_operation(ctx.journal, spec, stop=ctx.stop, analyzer=self.analyzer, phases=ctx.progress) as run:
            run.record_instance(ctx.instance.instance_arn, ctx.caller)
            if not request.dry_run:  # fail fast (exit 6), or wait, before minutes of reading
                ctx.journal.wait_until_free(ctx.instance.instance_arn, timeout=request.lock_timeout,
                                            sleep=ctx.stop.sleep)
            manifest, plan, live = self.plan(request)
            result = _planned(manifest, plan, request)
            self._check_target(manifest, request, result)
            if request.dry_run:  # nothing happened: the operation is forgotten
                self._preflight(result, plan, request, refuse=False)
                return self._finish_without_changes(result, plan, request, started)
            self._execute(run, request, plan, live, result, started, confirm=confirm,
                          declined=f"Nothing changed: the restore of {backup_id} was not confirmed.")
        return self._reported(run, result, started)

    def _execute(self, run: OperationRun, request: RestoreRequest, plan: Plan, live: Snapshot,
                 result: RestoreResult, started: float, *, confirm: Any, declined: str,
                 writer: Any = None) -> None:
        """Confirm, apply and settle a planned restore: the one path of a new run and a resumed one.

        A plan with conflicts (``--conflict fail``) or nothing to change ends without a question.
        The lock is taken after the answer (a resumed run holds it already), so a prompt left
        open blocks no other runner.
        """
        if plan.conflicts or (plan.is_empty and not plan.skipped):
            self._finish_without_changes(result, plan, request, started)
            self._started(run, result)
            self._record_conflict(run, result)
        else:
            self._preflight(result, plan, request)  # before the question: a denied run asks nothing
            run.ask(confirm, plan, declined=declined)
            run.take_lock()
            self._started(run, result)
            self._apply(run, plan, live, request, result, writer=writer)
        self._figures(result, started)
        run.finish(result.status, backup_id=result.backup_id, summary=_summary(result))

    def _check_target(self, manifest: dict[str, Any], request: RestoreRequest, result: RestoreResult) -> None:
        """A backup goes back into the instance it was taken from, or where ``--target-instance``
        names (a migration); a dry run only says what a real run would need."""
        target = self.context.instance.instance_arn
        if request.target_instance and request.target_instance != target:
            raise UsageError(f"--target-instance {request.target_instance} is not the instance this profile and "
                             f"region reach ({target}); nothing was changed")
        source = (manifest.get("source") or {}).get("instance_arn")
        if not source or source == target or request.target_instance == target:
            return
        message = (f"{manifest['backup_id']} is a backup of {source}, not of {target}: restoring it there is a "
                   f"migration; pass --target-instance {target} to say so")
        if request.dry_run:
            result.notes.append(message + ".")
            return
        raise UsageError(message + "; nothing was changed", remediation=[
            f"awsideman restore {manifest['backup_id']} --target-instance {target} --dry-run"])

    def _preflight(self, result: RestoreResult, plan: Plan, request: RestoreRequest, *, refuse: bool = True) -> None:
        """Every write the plan makes, and (with auto-rollback) every write undoing it, is allowed."""
        result.preflight = prove_access(self.context, plan.changes, command="restore",
                                        compensate=request.auto_rollback and (request.rollback or RollbackPolicy()).when
                                        != "never", mode=request.preflight, refuse=refuse)
        if result.preflight is not None:
            result.notes.append(result.preflight["note"])

    def _reported(self, run: OperationRun, result: RestoreResult, started: float) -> RestoreResult:
        """The result once the operation has ended: its warnings, and the figures of the whole run."""
        result.warnings += run.warnings
        self._figures(result, started)
        return result

    def _record_conflict(self, run: OperationRun, result: RestoreResult) -> None:
        """``--conflict fail`` refused the restore: its error is the operation's analysed error."""
        for error in result.errors:
            self.context.journal.record_error(run.id, ErrorInfo(
                category=error["category"], severity=error["severity"], recoverable=error["recoverable"],
                code=error["code"], message=error["message"], remediation=tuple(error["remediation"])))

    def resume(self, operation_id: str, *, lock_timeout: float = 0.0, confirm: Any = None,
               backup_id: str | None = None, preflight: str = "auto") -> RestoreResult:
        """Continue a restore that stopped without rollback (failed, Ctrl-C, SIGTERM, kill -9).

        Asynchronous requests it left running are polled to their end; the live instance is read
        again and planned against the same backup, so what was applied is not redone; an intent
        whose outcome is unknown is settled by that plan (still planned: it did not take effect;
        not planned: it did). The rest is applied under the same operation id, with the
        original options.
        """
        ctx = self.context
        started = time.monotonic()
        previous = ctx.journal.get_operation(validate_operation_id(operation_id))
        request = replace(self._resumable(previous, lock_timeout), preflight=check_mode(preflight))
        if backup_id is not None and backup_id != request.backup_id:
            raise UsageError(f"{previous.id} restores {request.backup_id}, not {backup_id}",
                             remediation=[f"Continue it: awsideman restore --resume {previous.id}",
                                          f"Or start a new restore: awsideman restore {backup_id}"])
        if previous.status in (SUCCEEDED, PARTIAL):
            result = RestoreResult(previous.id, previous.status, str(previous.backup_id or request.backup_id))
            result.notes.append(f"Restore {previous.id} already finished ({previous.status}); nothing to resume.")
            self._figures(result, started)
            return result
        ctx.journal.wait_until_free(ctx.instance.instance_arn, timeout=lock_timeout, sleep=ctx.stop.sleep)
        spec = OperationSpec("restore", resume=previous.id, instance_arn=ctx.instance.instance_arn, lock=True,
                             lock_timeout=lock_timeout, next_command=next_commands)
        with run_operation(ctx.journal, spec, stop=ctx.stop, analyzer=self.analyzer, phases=ctx.progress) as run:
            run.record_instance(ctx.instance.instance_arn, ctx.caller)  # one that failed before discovery has none yet
            run.take_lock()
            writer = IdentityCenterWriter(ctx.gateway, ctx.instance)
            settle_requests(ctx, writer, run.id)
            manifest, plan, live = self.plan(request)
            result = _planned(manifest, plan, request)
            result.notes.append(self._reconcile(run.id, plan))
            self._execute(run, request, plan, live, result, started, confirm=confirm, writer=writer,
                          declined=f"Nothing more changed: {run.id} stays resumable.")
        return self._reported(run, result, started)

    def _resumable(self, operation: Operation, lock_timeout: float) -> RestoreRequest:
        """The original request of a restore that can be continued (UsageError naming why not)."""
        ctx = self.context
        if operation.kind != "restore":
            raise UsageError(f"{operation.id} is a {operation.kind} operation; `restore --resume` continues a restore",
                             remediation=["A backup resumes with `awsideman backup create --resume OP_ID`."]
                             if operation.kind == "backup" else [])
        if operation.instance_arn and operation.instance_arn != ctx.instance.instance_arn:
            raise UsageError(f"{operation.id} restored into {operation.instance_arn}, but the configured instance is "
                             f"{ctx.instance.instance_arn}; resume it with the same profile and region")
        params = operation.params or {}
        purged_at = (operation.summary or {}).get("inverses_purged_at")
        if purged_at:
            raise UsageError(purged_message(operation.id, str(purged_at),
                                            (operation.summary or {}).get("inverse_retention_days"))
                             + "; nor resumed (a failure could not be undone)",
                             remediation=[f"Start a new restore: awsideman restore {params.get('backup_id')}",
                                          f"What it changed: awsideman report audit --operation {operation.id}"])
        backup_id = params.get("backup_id")
        if not backup_id:
            raise UsageError(f"{operation.id} does not name its backup in the journal; it cannot be resumed",
                             remediation=[f"Roll it back instead: awsideman rollback {operation.id}"])
        if operation.status in (ROLLED_BACK, ROLLBACK_FAILED) or any(
                r.state is ChangeState.COMPENSATED and not r.kind.startswith(COMPENSATION_PREFIX)
                for r in ctx.journal.changes(operation.id)):
            raise UsageError(f"{operation.id} was rolled back; it cannot be resumed",
                             remediation=[f"Start a new restore: awsideman restore {backup_id}",
                                          f"What is still changed: awsideman rollback {operation.id} --dry-run"])
        return RestoreRequest(backup_id=str(backup_id), store=params.get("store"),
                              conflict=str(params.get("conflict") or "overwrite"), prune=bool(params.get("prune")),
                              resources=list(params.get("resources") or RESOURCE_KINDS),
                              auto_rollback=bool(params.get("auto_rollback", True)),
                              allow_partial=bool(params.get("allow_partial", True)), lock_timeout=lock_timeout,
                              rollback=RollbackPolicy.from_params(params.get("rollback")))

    def _reconcile(self, operation_id: str, plan: Plan) -> str:
        """Settle the intents whose outcome died with the process, by the new plan; describe it."""
        journal = self.context.journal
        planned = {c.address for c in plan.changes}
        records = journal.changes(operation_id)
        unknown = [r for r in records if r.state is ChangeState.INTENT and not r.kind.startswith(COMPENSATION_PREFIX)]
        for record in unknown:
            if record.address in planned:
                journal.mark_change(operation_id, record.seq, ChangeState.FAILED,
                                    detail="not in effect when the restore was resumed; planned again")
            else:
                journal.mark_change(operation_id, record.seq, ChangeState.APPLIED,
                                    detail="found in effect when the restore was resumed")
        applied = sum(r.state is ChangeState.APPLIED for r in records)
        return (f"Resumed {operation_id}: {applied} change(s) applied before were kept, {len(unknown)} whose "
                f"outcome was unknown were settled from live state, {len(plan.changes)} remain.")

    def _started(self, run: OperationRun, result: RestoreResult) -> None:
        result.operation_id = run.id
        if run.stale_lock is not None:
            result.warnings.append(takeover_note(run.stale_lock))

    def _finish_without_changes(self, result: RestoreResult, plan: Plan, request: RestoreRequest,
                                started: float) -> RestoreResult:
        if plan.conflicts and not request.dry_run:
            result.status = "failed"
            result.errors.append({"category": "resource_conflict", "severity": "medium", "code": "RestoreConflict",
                                  "recoverable": False, "message": f"{len(plan.conflicts)} resource(s) differ from "
                                  "the backup and --conflict fail was given; nothing was changed",
                                  "remediation": ["Review them with --dry-run, then restore with --conflict "
                                                  "overwrite (make them like the backup) or skip (leave them)."]})
        elif not request.dry_run:
            result.status = "partial" if plan.skipped else "succeeded"
            result.notes.append("The instance already matches the backup in scope: nothing to change.")
        self._figures(result, started)
        return result

    def _apply(self, run: OperationRun, plan: Plan, live: Snapshot, request: RestoreRequest, result: RestoreResult,
               writer: Any = None) -> None:
        ctx = self.context
        writer = writer or IdentityCenterWriter(ctx.gateway, ctx.instance)
        resolver = Resolver(writer, live)
        engine = ApplyEngine(writer, resolver, ctx.journal, run.id, stop=ctx.stop, analyzer=self.analyzer,
                             concurrency=ctx.settings.concurrency, progress=ctx.progress,
                             accounts=AccountNames(ctx.gateway), recovery=ctx.recovery)
        ctx.progress(f"Applying {len(plan.changes)} change(s)")
        outcome = engine.run(plan.changes)
        result.applied = [c.address for c in outcome.applied]
        result.errors = [dict(f.error.to_dict(), resource=f.change.address) for f in outcome.failed]
        result.skipped += [_skipped_by_policy(s) for s in outcome.skipped]
        if outcome.stopped:
            raise Terminated(ctx.stop.signum or 2)
        policy = request.rollback or RollbackPolicy()
        if outcome.ok:
            result.status = "partial" if plan.skipped or outcome.skipped else "succeeded"
            if result.status == "partial" and policy.when == "on_partial" and request.auto_rollback and result.applied:
                self._compensate(run, writer, resolver, result, policy)  # rollback.when: on_partial
            return
        if outcome.halted is not None:
            self._halted(run, result, outcome.halted)
            return
        if outcome.paused is not None and not outcome.unsettled:
            self._paused(run, result, outcome.paused)
            return
        # A runner that lost its lease on the shared state stops here: whoever took over owns
        # the instance now, and compensating would race them. Nor is there a rollback without
        # a journal to record it in.
        outcome.raise_unjournaled()
        ctx.journal.ensure_lease()
        lost = next((f for f in outcome.failed if f.error.code == StateBackendError.code), None)
        if lost is not None:
            raise StateBackendError(
                f"{lost.error.message} No further change was started after it ({len(result.applied)} applied, "
                f"each journaled before it was made). Nothing was rolled back: that needs the journal.")
        if not request.auto_rollback or policy.when == "never":
            result.status = "failed"
            why = NEVER_REASON if request.auto_rollback else "kept: --no-auto-rollback"
            result.leftover = [dict(_leftover(address, records, run.id), why=why)
                               for address, records in sorted(open_changes(ctx.journal.changes(run.id)).items())]
            return
        self._compensate(run, writer, resolver, result, policy)

    def _compensate(self, run: OperationRun, writer: Any, resolver: Resolver, result: RestoreResult,
                    policy: RollbackPolicy) -> None:
        """The automatic rollback, under the policy: what it keeps stays, its time budget bounds it."""
        ctx = self.context
        undo = Compensator(ctx, writer, resolver, self.analyzer).run(run.id, run.id, policy)
        if undo.stopped:
            raise Terminated(ctx.stop.signum or 2)
        result.compensated, result.leftover = undo.compensated, undo.leftover
        result.kept, result.rollback_out_of_budget = undo.kept, undo.out_of_budget
        result.kept_reasons = undo.kept_reasons
        result.errors += undo.errors
        result.status = "rolled_back" if undo.complete else "rollback_failed"
        if undo.kept:
            result.notes.append(f"{len(undo.kept)} change(s) kept by policy (rollback.keep: "
                                f"{', '.join(policy.keep)}); `awsideman rollback {run.id}` reverts them too.")
        orphans = orphans_not_given_back(ctx.journal.changes(run.id))
        if orphans:
            result.notes.append(orphans)

    def _halted(self, run: OperationRun, result: RestoreResult, error: BaseException) -> None:
        """The credentials died mid-run and cannot be refreshed: stop as failed, roll nothing back.

        A rollback needs requests too, and every one would be refused; what was applied stays
        applied (journaled), and the operation stays resumable once the credentials are fresh.
        """
        ctx = self.context
        info = self.analyzer.analyze(error)
        info = replace(info, remediation=(*info.remediation, f"Then finish the restore: awsideman restore --resume "
                                          f"{run.id} (or undo what it applied: awsideman rollback {run.id})"))
        ctx.journal.record_error(run.id, info)
        result.errors.insert(0, info.to_dict())
        result.status, result.resumable = "failed", True
        result.leftover = [dict(_leftover(address, records, run.id), why="kept: the credentials expired, so nothing "
                                "was rolled back (a rollback needs requests too)")
                           for address, records in sorted(open_changes(ctx.journal.changes(run.id)).items())]
        result.notes.append(f"The credentials expired mid-run: nothing was sent after the first refusal and nothing "
                            f"was rolled back. Refresh them, then: awsideman restore --resume {run.id}")

    def _paused(self, run: OperationRun, result: RestoreResult, decision: Decision) -> None:
        """A recovery policy said ``pause``: stop here, journaled and resumable, rolling nothing back."""
        resume = f"awsideman restore --resume {run.id}"
        result.status, result.resumable, result.paused = INTERRUPTED, True, decision.to_dict()
        result.leftover = [dict(_leftover(address, records, run.id), why=f"kept: paused by {decision.rule}")
                           for address, records in sorted(open_changes(self.context.journal.changes(run.id)).items())]
        result.notes.append(f"Paused by {decision.rule} ({decision.category}): nothing was rolled back. Once the "
                            f"cause is dealt with, continue: {resume}")

    def _figures(self, result: RestoreResult, started: float) -> None:
        calls = self.context.gateway.calls_by_operation()
        result.api_calls = sum(calls.values())
        result.mutating_calls = mutating_calls(calls)
        result.duration_seconds = round(time.monotonic() - started, 3)
        result.counts = {"planned": len(result.changes), "applied": len(result.applied),
                         "compensated": len(result.compensated), "skipped": len(result.skipped),
                         "failed": len(result.errors), "leftover": len(result.leftover)}


def _planned(manifest: dict[str, Any], plan: Plan, request: RestoreRequest) -> RestoreResult:
    return RestoreResult(
        operation_id=None, status="planned" if request.dry_run else "succeeded", backup_id=manifest["backup_id"],
        dry_run=request.dry_run, source=plan.source or {}, target=plan.target or {}, plan=plan.summary(),
        changes=[_brief(c) for c in plan.changes], skipped=[_brief(c) for c in plan.skipped],
        conflicts=[_brief(c) for c in plan.conflicts], not_touched=[n.to_dict() for n in plan.not_touched])


def _skipped_by_policy(skipped: Skipped) -> dict[str, Any]:
    """A change a recovery policy left out, as the result lists it: why, and which rule said so."""
    why = (f"depends on {skipped.because}, which was skipped" if skipped.because
           else f"{skipped.error.code}: {skipped.error.message}")
    return dict(_brief(skipped.change), reason=why, rule=skipped.decision.rule, category=skipped.decision.category)


def _brief(change: Change) -> dict[str, Any]:
    return {"address": change.address, "resource": change.resource, "action": change.action,
            "diff": change.diff, "notes": list(change.notes)}


def _leftover(address: str, records: list[Any], operation_id: str) -> dict[str, Any]:
    action = records[0].forward.get("action")
    return {"resource": address, "action": action, "what": f"the {action} by {operation_id} is in effect",
            "why": "kept: --no-auto-rollback",
            "remediation": [f"`awsideman restore --resume {operation_id}` finishes the restore once the cause is "
                            f"fixed; `awsideman rollback {operation_id}` undoes what it applied."]}


def next_commands(operation_id: str) -> str:
    """How to go on with a restore that stopped: finish it, or undo it."""
    return f"awsideman restore --resume {operation_id} (or undo what it applied: awsideman rollback {operation_id})"


def _summary(result: RestoreResult) -> dict[str, Any]:
    summary = {"plan": result.plan, "counts": result.counts, "leftover": result.leftover[:50],
               "rollback": {"kept": len(result.kept), "out_of_budget": result.rollback_out_of_budget,
                            # the kinds kept are in the params' policy; only the dependents need naming
                            "because": dict(list(result.kept_reasons.items())[:MAX_NAMED])},
               "errors": [{"code": e.get("code"), "message": e.get("message")} for e in result.errors[:20]],
               "not_touched": [{"what": n["what"], "reason": n["reason"]} for n in result.not_touched[:20]]}
    if result.paused is not None:
        summary["paused"] = result.paused
    return summary

"""Restore orchestration: load and verify the backup, read the target, plan, apply with the
journal, and on a failure that retries cannot fix compensate in reverse (DESIGN section 6)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from awsideman.adapters.identity_center import IdentityCenterReader
from awsideman.adapters.identity_center_writes import IdentityCenterWriter
from awsideman.core.changes import Change, IrreversibleChangeError
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import AwsidemanError, Terminated, UsageError
from awsideman.core.model import RESOURCE_KINDS, Snapshot
from awsideman.core.ordering import rollback_order
from awsideman.core.planner import Plan, make_plan, untouchables_from_missing
from awsideman.journal import ChangeState
from awsideman.services.apply import ApplyEngine, ApplyOutcome
from awsideman.services.backup import BackupService
from awsideman.services.checkpoints import NoCheckpoints
from awsideman.services.collector import Collector, missing_report
from awsideman.services.context import Context
from awsideman.services.lifecycle import OperationRun, OperationSpec, run_operation
from awsideman.services.resolver import Resolver
from awsideman.services.snapshot_builder import build_snapshot

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


@dataclass
class RestoreResult:
    """What `restore` reports (the JSON contract: DESIGN section 1)."""

    operation_id: str | None
    status: str
    backup_id: str
    dry_run: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, dict[str, int]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    not_touched: list[dict[str, Any]] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    compensated: list[str] = field(default_factory=list)
    leftover: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0
    mutating_calls: int = 0
    duration_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RestoreService:
    """Restores one backup into the configured instance."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.analyzer = ErrorAnalyzer()

    # -- planning -----------------------------------------------------------------------------
    def plan(self, request: RestoreRequest) -> tuple[dict[str, Any], Plan]:
        """Verify the backup, read the target and compute the plan (no mutating call)."""
        manifest, snapshot = BackupService(self.context).load(request.backup_id, request.store)
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
        live = self._read_live(scope)
        untouchable = untouchables_from_missing(manifest.get("missing") or [], snapshot)
        plan = make_plan(snapshot, live, conflict=request.conflict, prune=request.prune, resources=scope,
                         untouchable=untouchable, source=dict(manifest.get("source") or {}),
                         target=self.context.instance.to_dict())
        self._live = live
        return manifest, plan

    def _read_live(self, scope: list[str]) -> Snapshot:
        ctx = self.context
        reader = IdentityCenterReader(ctx.gateway, ctx.instance)
        # Every kind is read: cascades (a pruned user's assignments) and provisioned accounts
        # need the whole picture even when the scope is narrower.
        collected = Collector(reader, NoCheckpoints(), resources=list(RESOURCE_KINDS),
                              concurrency=ctx.settings.concurrency, strategy=ctx.settings.assignment_strategy,
                              analyzer=self.analyzer, progress=ctx.progress, stop=ctx.stop).run()
        if collected.missing:
            group = missing_report(collected.missing)[0]
            raise AwsidemanError(f"Cannot read the target instance ({group['count']} {group['resource']} step(s): "
                                 f"{group['code']}: {group['reason']}); nothing was changed",
                                 remediation=list(group["remediation"]))
        snapshot, _notes = build_snapshot(collected.steps, set(RESOURCE_KINDS))
        return snapshot

    # -- the run --------------------------------------------------------------------------------
    def run(self, request: RestoreRequest, confirm: Any = None) -> RestoreResult:
        """Plan, then (unless a dry run, or ``confirm(plan)`` says no) apply with the journal."""
        ctx = self.context
        started = time.monotonic()
        if not request.dry_run:  # fail fast (exit 6), or wait, before minutes of reading
            ctx.journal.wait_until_free(ctx.instance.instance_arn, timeout=request.lock_timeout, sleep=ctx.stop.sleep)
        manifest, plan = self.plan(request)
        result = _planned(manifest, plan, request)
        if request.dry_run or plan.conflicts or (plan.is_empty and not plan.skipped):
            return self._finish_without_changes(result, plan, request, started)
        if confirm is not None and not confirm(plan):
            raise UsageError("Restore cancelled; nothing was changed")
        spec = OperationSpec("restore", params={
            "backup_id": manifest["backup_id"], "store": request.store, "conflict": request.conflict,
            "prune": request.prune, "resources": request.resources, "auto_rollback": request.auto_rollback},
            instance_arn=ctx.instance.instance_arn, lock=True, lock_timeout=request.lock_timeout,
            next_command=lambda op: f"awsideman rollback {op} (undo what it applied)")
        with run_operation(ctx.journal, spec, stop=ctx.stop, analyzer=self.analyzer) as run:
            result.operation_id = run.id
            if run.stale_lock is not None:
                result.warnings.append(f"Took over the lock of {run.stale_lock.operation_id}, whose process died; "
                                       "check what it left with "
                                       f"`awsideman rollback {run.stale_lock.operation_id} --dry-run`.")
            self._apply(run, plan, request, result)
            self._figures(result, started)
            run.finish(result.status, backup_id=manifest["backup_id"], summary=_summary(result))
        result.warnings += run.warnings
        self._figures(result, started)
        return result

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

    def _apply(self, run: OperationRun, plan: Plan, request: RestoreRequest, result: RestoreResult) -> None:
        ctx = self.context
        writer = IdentityCenterWriter(ctx.gateway, ctx.instance)
        resolver = Resolver(writer, self._live)
        engine = ApplyEngine(writer, resolver, ctx.journal, run.id, stop=ctx.stop, analyzer=self.analyzer,
                             concurrency=ctx.settings.concurrency, progress=ctx.progress)
        ctx.progress(f"Applying {len(plan.changes)} change(s)")
        outcome = engine.run(plan.changes)
        result.applied = [c.address for c in outcome.applied]
        result.errors = [dict(f.error.to_dict(), resource=f.change.address) for f in outcome.failed]
        if outcome.stopped:
            raise Terminated(ctx.stop.signum or 2)
        if outcome.ok:
            result.status = "partial" if plan.skipped else "succeeded"
            return
        if not request.auto_rollback or not outcome.applied:
            result.status = "failed"
            result.leftover = [_leftover(c, run.id, "applied by this restore; kept (--no-auto-rollback)")
                               for c in outcome.applied]
            return
        self._compensate(run, outcome, writer, resolver, result)

    def _compensate(self, run: OperationRun, outcome: ApplyOutcome, writer: Any, resolver: Resolver,
                    result: RestoreResult) -> None:
        ctx = self.context
        seqs = {r.address: r.seq for r in ctx.journal.changes(run.id) if r.state is ChangeState.APPLIED}
        ctx.progress(f"Rolling back {len(outcome.applied)} applied change(s)")

        def compensated(inverse: Change) -> None:
            if inverse.address in seqs:
                ctx.journal.mark_change(run.id, seqs.pop(inverse.address), ChangeState.COMPENSATED)

        engine = ApplyEngine(writer, resolver, ctx.journal, run.id, stop=ctx.stop, analyzer=self.analyzer,
                             concurrency=ctx.settings.concurrency, kind_prefix="compensate:",
                             on_applied=compensated, progress=ctx.progress)
        try:
            undo = engine.run(rollback_order(outcome.applied))
        except IrreversibleChangeError as exc:
            undo = ApplyOutcome(failed=[])
            result.errors.append(self.analyzer.analyze(exc).to_dict())
        result.compensated = [c.address for c in undo.applied]
        result.errors += [dict(f.error.to_dict(), resource=f.change.address, during="rollback") for f in undo.failed]
        left = [c for c in outcome.applied if c.address in seqs]
        result.leftover = [_leftover(c, run.id, "applied by this restore; its rollback failed or did not run")
                           for c in left]
        result.status = "rolled_back" if not left else "rollback_failed"

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


def _brief(change: Change) -> dict[str, Any]:
    return {"address": change.address, "resource": change.resource, "action": change.action,
            "diff": change.diff, "notes": list(change.notes)}


def _leftover(change: Change, operation_id: str, what: str) -> dict[str, Any]:
    return {"resource": change.address, "action": change.action, "what": what,
            "remediation": [f"`awsideman rollback {operation_id}` retries the undo, or check {change.address} "
                            "by hand against the backup."]}


def _summary(result: RestoreResult) -> dict[str, Any]:
    return {"plan": result.plan, "counts": result.counts, "leftover": result.leftover[:50],
            "errors": [{"code": e.get("code"), "message": e.get("message")} for e in result.errors[:20]]}

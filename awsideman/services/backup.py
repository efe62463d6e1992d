"""Backup creation: checkpointed, resumable, possibly partial (reading and removing backups is
``services.archive``)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from awsideman.adapters import crypto
from awsideman.adapters.identity_center import IdentityCenterReader
from awsideman.adapters.storage import BackupStore
from awsideman.core.backup_format import (
    MANIFEST,
    PAYLOAD,
    add_payload_digest,
    bound_manifest,
    make_manifest,
    pack_snapshot,
)
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import (
    AwsidemanError,
    IncompleteBackupError,
    UsageError,
)
from awsideman.core.ids import new_backup_id, validate_operation_id
from awsideman.core.model import RESOURCE_KINDS, Snapshot, canonical_json
from awsideman.core.progress import open_phase
from awsideman.core.route_price import PRINCIPAL
from awsideman.core.schemas import schema
from awsideman.journal import Operation, utc_timestamp
from awsideman.services import hooks
from awsideman.services.archive import BackupArchive
from awsideman.services.checkpoints import JournalCheckpoints
from awsideman.services.collector import Collected, Collector, missing_report
from awsideman.services.context import Context
from awsideman.services.lifecycle import OperationRun, OperationSpec, run_operation
from awsideman.services.snapshot_builder import build_snapshot

MAX_DESCRIPTION = schema("manifest")["properties"]["description"]["maxLength"]


@dataclass
class BackupRequest:
    resources: list[str] = field(default_factory=lambda: list(RESOURCE_KINDS))
    description: str | None = None
    store: str | None = None
    allow_partial: bool = False
    resume: str | None = None
    kms_key: str | None = None
    assignment_strategy: str | None = None  # None: the config's `assignment_strategy`


@dataclass
class BackupResult:
    """What `backup create` reports (the JSON contract's fields plus run figures)."""

    operation_id: str
    status: str
    backup_id: str | None = None
    store: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    missing: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    api_calls: int = 0
    retries: int = 0
    reused_steps: int = 0
    duration_seconds: float = 0.0
    message: str | None = None
    warnings: list[str] = field(default_factory=list)
    orphan_assignments: dict[str, Any] | None = None  # as in the manifest (None: assignments not backed up)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_resources(value: str | None) -> list[str]:
    """`users,groups,...` into a validated list (all kinds when empty)."""
    if not value:
        return list(RESOURCE_KINDS)
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in RESOURCE_KINDS]
    if unknown or not chosen:
        raise UsageError(f"--resources: unknown {', '.join(unknown) or 'empty list'}; "
                         f"choose from {','.join(RESOURCE_KINDS)}")
    return [kind for kind in RESOURCE_KINDS if kind in chosen]


class BackupService:
    """Creates backups of one instance in one store."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.analyzer = ErrorAnalyzer()

    # -- create ------------------------------------------------------------------------------
    def create(self, request: BackupRequest) -> BackupResult:
        """Collect, write and record one backup (or continue one with ``request.resume``)."""
        ctx = self.context
        if request.description is not None and len(request.description) > MAX_DESCRIPTION:
            raise UsageError(f"--description is {len(request.description)} characters; at most "
                             f"{MAX_DESCRIPTION} fit in a manifest (awsideman/schemas/manifest.schema.json)")
        # Input checks first, before an operation exists (exit 2, nothing journaled): the
        # operation to resume, the store's address. Everything that can fail after them (the
        # store itself, the KMS key, credentials, region, discovery) fails inside the operation,
        # so it has a report (DESIGN section 1). A resume checks its key and instance before it
        # claims the operation: a wrong profile must not overwrite what the operation recorded.
        previous = self._resumable(request) if request.resume else None
        kms_key = request.kms_key or ctx.settings.kms_key
        store = None
        sealer = None
        if previous is None:
            store = ctx.store(request.store)
            request.store = store.url
        else:
            _, sealer = self._sealer(previous, kms_key)
            if previous.instance_arn and previous.instance_arn != ctx.instance.instance_arn:
                raise UsageError(f"{previous.id} backed up {previous.instance_arn}, but the configured instance "
                                 f"is {ctx.instance.instance_arn}; resume it with the same profile and region")
        spec = OperationSpec("backup", params={
            "resources": request.resources, "description": request.description, "store": request.store,
            "kms_key": kms_key, "allow_partial": request.allow_partial,
            "assignment_strategy": request.assignment_strategy},
            resume=request.resume, next_command=lambda op: f"awsideman backup create --resume {op}")
        started = time.monotonic()
        with run_operation(ctx.journal, spec, stop=ctx.stop, analyzer=self.analyzer, phases=ctx.progress) as run:
            if store is not None:
                store.preflight()
                sealing, sealer = self._sealer(None, kms_key)
                run.record_sealing(sealing)
            run.record_instance(ctx.instance.instance_arn, ctx.caller)
            result = self._already_written(run.operation, request) or self._collect_and_write(run, request, sealer)
            result.duration_seconds = round(time.monotonic() - started, 3)
            run.finish(result.status, backup_id=result.backup_id, summary=_summary(result))
        result.warnings += run.warnings
        try:
            ctx.journal.cleanup(ctx.settings.retention_days)
        except AwsidemanError as exc:
            result.warnings.append(f"Old operations could not be cleaned up: {exc.message}")
        days = ctx.settings.rollback.inverse_retention_days
        if days is not None:  # rollback.inverse_retention_days: previous attribute values are personal data
            try:
                ctx.journal.purge_inverses(days)
            except AwsidemanError as exc:
                result.warnings.append(f"The inverses of old restores could not be purged: {exc.message}")
        return result

    def _sealer(self, previous: Operation | None, kms_key: str | None) -> tuple[dict[str, Any] | None, Any]:
        """An encrypted backup's checkpoints are sealed with a data key of the backup's KMS key."""
        if previous is not None:
            if not previous.sealing:
                return None, None
            return None, crypto.open_checkpoint_sealer(self.context.gateway, previous.sealing)
        if not kms_key:
            return None, None
        return crypto.new_checkpoint_sealer(self.context.gateway, kms_key)

    def _resumable(self, request: BackupRequest) -> Operation:
        journal = self.context.journal
        op_id = validate_operation_id(request.resume)
        operation = journal.get_operation(op_id)
        if operation.kind != "backup":
            raise UsageError(f"{op_id} is a {operation.kind} operation, not a backup")
        if operation.status in ("succeeded", "partial"):
            raise UsageError(f"{op_id} already finished ({operation.status}) as backup "
                             f"{operation.backup_id}; nothing to resume",
                             remediation=[f"awsideman backup show {operation.backup_id}"])
        params = operation.params
        request.resources = params.get("resources") or request.resources
        request.description = params.get("description")
        request.store = params.get("store")
        request.kms_key = request.kms_key or params.get("kms_key")
        request.allow_partial = request.allow_partial or bool(params.get("allow_partial"))
        request.assignment_strategy = request.assignment_strategy or params.get("assignment_strategy")
        return operation

    def _already_written(self, operation: Operation, request: BackupRequest) -> BackupResult | None:
        """A resumed operation whose backup reached the store before the process died: say so."""
        if not operation.backup_id:
            return None
        store = self.context.store(request.store)
        try:
            manifest = BackupArchive(self.context).manifest(store, operation.backup_id)
        except AwsidemanError:
            return None  # not (completely) written: the resume writes it under the same id
        if manifest.get("operation_id") != operation.id:
            return None
        return BackupResult(operation_id=operation.id, status="partial" if manifest["partial"] else "succeeded",
                            backup_id=operation.backup_id, store=store.url, counts=manifest["counts"],
                            missing=manifest.get("missing") or [],
                            notes=[f"Backup {operation.backup_id} was already written by this operation before it "
                                   "stopped; nothing was read or written again."])

    def _collect_and_write(self, run: OperationRun, request: BackupRequest, sealer: Any) -> BackupResult:
        ctx = self.context
        operation_id = run.id
        checkpoints = JournalCheckpoints(ctx.journal, operation_id, sealer)
        reader = IdentityCenterReader(ctx.gateway, ctx.instance)
        collected = Collector(reader, checkpoints, resources=request.resources,
                              concurrency=ctx.settings.concurrency,
                              strategy=request.assignment_strategy or ctx.settings.assignment_strategy,
                              analyzer=self.analyzer,
                              progress=ctx.progress, stop=ctx.stop, refresh=bool(request.resume)).run()
        snapshot, notes = build_snapshot(collected.steps, set(request.resources))
        notes += _resume_notes(collected, run.operation)
        listed = collected.steps.get("users") is not None and collected.steps.get("groups") is not None
        # The raw records are in the snapshot now (or in the journal): let them go before the
        # payload is packed, so an enterprise instance is not held twice at the peak.
        collected.steps.clear()
        checkpoints.forget()
        orphans = (orphan_summary(snapshot, collected.strategy, principals_listed=listed)
                   if "assignments" in request.resources else None)
        if orphans is not None and (orphans["count"] or not orphans["visible"]):
            notes.append(orphans["note"])
        missing = missing_report(collected.missing)
        recorded: set[tuple[str, str]] = set()
        for item in collected.missing:  # one journal row per kind of failure, not per step
            if (item.resource, item.error.code) not in recorded:
                recorded.add((item.resource, item.error.code))
                ctx.journal.record_error(operation_id, item.error, step=item.step)
        result = BackupResult(operation_id=operation_id, status="partial" if missing else "succeeded",
                              counts=snapshot.counts(), missing=missing, notes=notes,
                              errors=[_error_of(group) for group in missing],
                              reused_steps=sum(collected.reused.values()), orphan_assignments=orphans)
        empty = _empty_instance_warning(snapshot.counts(), request.resources, ctx.instance)
        if empty and not missing:
            result.warnings.append(empty)
        if missing and not request.allow_partial:
            raise IncompleteBackupError(
                f"{len(missing)} step(s) failed after retries ({_missing_summary(missing)}); "
                "no backup was written",
                remediation=list(missing[0]["remediation"]),  # the resume advice comes from the error table
                root_cause={key: missing[0][key] for key in ("category", "severity", "code")})
        # The id is journaled before the store write: a process killed in between is resumed
        # into the same backup id, never a second copy.
        backup_id = run.operation.backup_id or new_backup_id()
        ctx.journal.record_backup_id(operation_id, backup_id)
        hooks.reached("backup:before-store-write")
        store = ctx.store(request.store)
        with open_phase(ctx.progress, "writing", 1) as writing:
            self._write(store, backup_id, snapshot, request, missing, operation_id, strategy=collected.strategy,
                        orphans=orphans)
            writing.advance()
        hooks.reached("backup:after-store-write")
        result.backup_id = backup_id
        result.store = store.url
        result.api_calls = ctx.gateway.call_count()
        result.retries = int(ctx.gateway.retry_stats.get("retries", 0) or 0)
        return result

    def _write(self, store: BackupStore, backup_id: str, snapshot: Snapshot, request: BackupRequest,
               missing: list[dict[str, Any]], operation_id: str, strategy: str | None,
               orphans: dict[str, Any] | None) -> None:
        payload = pack_snapshot(snapshot)
        kms_key = request.kms_key or self.context.settings.kms_key
        key = crypto.PayloadKey(self.context.gateway, kms_key, backup_id) if kms_key else None
        source = dict(self.context.instance.to_dict(), assignment_listing=strategy)
        manifest = make_manifest(backup_id=backup_id, created_at=utc_timestamp(),
                                 description=request.description, source=source,
                                 resources=request.resources, snapshot=snapshot,
                                 encryption=key.info if key else None, missing=missing, operation_id=operation_id)
        if orphans is not None:
            manifest["orphan_assignments"] = orphans
        if key is not None:  # the tag covers the manifest too: editing it is detected on read
            payload = key.seal(payload, bound_manifest(manifest))
        add_payload_digest(manifest, payload)
        store.write(backup_id, {PAYLOAD: payload, MANIFEST: canonical_json(manifest)})


def orphan_summary(snapshot: Snapshot, strategy: str | None, *, principals_listed: bool = True) -> dict[str, Any]:
    """The manifest's word on orphan assignments: seen or not by the listing route, and how many.

    The per-principal route asks about each user and group that exists, so it never meets an
    assignment whose principal was deleted; only the per-permission-set route lists them all.
    """
    count = len(snapshot.orphan_assignments)
    if not principals_listed:  # only complete user and group listings prove a principal gone
        return {"visible": False, "count": count,
                "note": "The users or groups could not be listed (see missing), so no assignment could be told "
                        "apart as an orphan (one whose user or group was deleted)."}
    if strategy == PRINCIPAL:
        return {"visible": False, "count": count,
                "note": "Assignments were listed per principal, which cannot see orphan assignments (those of "
                        "deleted users and groups, which AWS keeps): any there are, are not in this backup. "
                        "List them with `backup create --assignment-strategy permission-set` (or "
                        "`assignment_strategy: permission-set` in the config)."}
    return {"visible": True, "count": count,
            "note": f"{count} orphan assignment(s) (their user or group no longer exists) are kept marked; "
                    "a restore never recreates them." if count else "No orphan assignments."}


def _error_of(group: dict[str, Any]) -> dict[str, Any]:
    """The JSON contract's error entry for one group of missing steps."""
    return {"category": group["category"], "code": group["code"], "message": group["reason"],
            "severity": group["severity"], "recoverable": group["recoverable"],
            "remediation": group["remediation"]}


def _missing_summary(missing: list[dict[str, Any]]) -> str:
    return ", ".join(f"{group['count']} {group['resource']} ({group['code']})" for group in missing)


def _summary(result: BackupResult) -> dict[str, Any]:
    return {"counts": result.counts, "missing": len(result.missing), "api_calls": result.api_calls,
            "retries": result.retries, "store": result.store, "reused_steps": result.reused_steps}


def _resume_notes(collected: Collected, operation: Operation) -> list[str]:
    """Say exactly which parts of a resumed backup were read before the resume (and may be older)."""
    if not collected.reused:
        return []
    parts = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in sorted(collected.reused.items()))
    return [f"Resumed: users, groups, memberships and the permission set list were read again; these steps "
            f"come from checkpoints taken since {operation.started_at}: {parts}. Changes made to them since "
            "then are not in this backup."]


def _empty_instance_warning(counts: dict[str, int], resources: list[str], instance: Any) -> str | None:
    """A warning when the instance read holds nothing: usually the wrong region or instance."""
    kinds = [kind for kind in ("users", "groups", "permission_sets") if kind.replace("_", "-") in resources]
    if not kinds or any(counts.get(kind) for kind in kinds):
        return None
    return (f"The instance {instance.instance_arn} in {instance.region} has no "
            f"{', '.join(kind.replace('_', ' ') for kind in kinds)}: the backup is empty. If that is "
            "unexpected, check --region (or `region` in the config) and `instance_arn`.")

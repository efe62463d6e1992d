"""Backup orchestration: create (checkpointed, resumable, possibly partial), list, show,
verify and delete."""

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
    check_payload,
    make_manifest,
    pack_snapshot,
    parse_manifest,
    unpack_snapshot,
)
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import (
    AwsidemanError,
    CorruptBackupError,
    IncompleteBackupError,
    OperationInterrupted,
    UsageError,
)
from awsideman.core.ids import new_backup_id, validate_backup_id, validate_operation_id
from awsideman.core.journal import Operation, utc_timestamp
from awsideman.core.model import RESOURCE_KINDS, Snapshot, canonical_json
from awsideman.services.checkpoints import JournalCheckpoints
from awsideman.services.collector import CollectionAborted, Collector, missing_report
from awsideman.services.context import Context
from awsideman.services.snapshot_builder import build_snapshot


@dataclass
class BackupRequest:
    resources: list[str] = field(default_factory=lambda: list(RESOURCE_KINDS))
    description: str | None = None
    store: str | None = None
    allow_partial: bool = False
    resume: str | None = None
    kms_key: str | None = None


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
    """Backups of one instance into one store."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.analyzer = ErrorAnalyzer()

    # -- create ------------------------------------------------------------------------------
    def create(self, request: BackupRequest) -> BackupResult:
        journal = self.context.journal
        # Credentials, region and instance are checked before an operation exists: a run that
        # cannot start leaves nothing to resume.
        instance = self.context.instance
        if request.resume:
            operation = self._resumable(request, instance.instance_arn)
        else:
            store = self.context.store(request.store)
            store.preflight()  # before minutes of API calls, not after
            operation = journal.start_operation("backup", {
                "resources": request.resources, "description": request.description,
                "store": store.url, "kms_key": request.kms_key or self.context.settings.kms_key,
                "allow_partial": request.allow_partial}, instance_arn=instance.instance_arn)
            request.store = store.url
        started = time.monotonic()
        try:
            result = self._collect_and_write(operation.id, request)
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            original = exc.original if isinstance(exc, CollectionAborted) else exc
            if not isinstance(exc, KeyboardInterrupt):
                journal.record_error(operation.id, self.analyzer.analyze(original))
            journal.finish_operation(operation.id, status, summary={"error": str(original)[:500]})
            resume = f"awsideman backup create --resume {operation.id}"
            if isinstance(exc, KeyboardInterrupt):
                # Our own error, not KeyboardInterrupt: the CLI framework would swallow that one.
                stopped = OperationInterrupted(f"Backup {operation.id} interrupted ({exc or 'Ctrl-C'}); "
                                               "its finished steps are kept", signum=getattr(exc, "signum", 2),
                                               remediation=[f"Resume: {resume}"])
                _tag_with_operation(stopped, operation.id)
                raise stopped from exc
            _tag_with_operation(original, operation.id)
            if isinstance(exc, CollectionAborted):
                raise original from exc
            raise
        result.duration_seconds = round(time.monotonic() - started, 3)
        journal.finish_operation(operation.id, result.status, backup_id=result.backup_id,
                                 summary=_summary(result))
        journal.cleanup(self.context.settings.retention_days)
        return result

    def _resumable(self, request: BackupRequest, instance_arn: str) -> Operation:
        journal = self.context.journal
        op_id = validate_operation_id(request.resume)
        operation = journal.get_operation(op_id)
        if operation.kind != "backup":
            raise UsageError(f"{op_id} is a {operation.kind} operation, not a backup")
        if operation.status in ("succeeded", "partial"):
            raise UsageError(f"{op_id} already finished ({operation.status}) as backup "
                             f"{operation.backup_id}; nothing to resume",
                             remediation=[f"awsideman backup show {operation.backup_id}"])
        if operation.instance_arn and operation.instance_arn != instance_arn:
            raise UsageError(f"{op_id} backed up {operation.instance_arn}, but the configured instance "
                             f"is {instance_arn}; resume it with the same profile and region")
        params = operation.params
        request.resources = params.get("resources") or request.resources
        request.description = params.get("description")
        request.store = params.get("store")
        request.kms_key = request.kms_key or params.get("kms_key")
        request.allow_partial = request.allow_partial or bool(params.get("allow_partial"))
        return journal.resume_operation(op_id)

    def _collect_and_write(self, operation_id: str, request: BackupRequest) -> BackupResult:
        ctx = self.context
        instance = ctx.instance
        checkpoints = JournalCheckpoints(ctx.journal, operation_id)
        reader = IdentityCenterReader(ctx.gateway, instance)
        collected = Collector(reader, checkpoints, resources=request.resources,
                              concurrency=ctx.settings.concurrency,
                              strategy=ctx.settings.assignment_strategy, analyzer=self.analyzer,
                              progress=ctx.progress).run()
        snapshot, notes = build_snapshot(collected.steps, set(request.resources))
        missing = missing_report(collected.missing)
        recorded: set[tuple[str, str]] = set()
        for item in collected.missing:  # one journal row per kind of failure, not per step
            if (item.resource, item.error.code) not in recorded:
                recorded.add((item.resource, item.error.code))
                ctx.journal.record_error(operation_id, item.error, step=item.step)
        result = BackupResult(operation_id=operation_id, status="partial" if missing else "succeeded",
                              counts=snapshot.counts(), missing=missing, notes=notes,
                              errors=[_error_of(group) for group in missing], reused_steps=checkpoints.reused)
        if missing and not request.allow_partial:
            raise IncompleteBackupError(
                f"{len(missing)} step(s) failed after retries ({_missing_summary(missing)}); "
                "no backup was written",
                remediation=[*missing[0]["remediation"],
                             f"Resume when fixed: awsideman backup create --resume {operation_id}",
                             "Or keep what could be read: add --allow-partial"])
        backup_id = new_backup_id()
        store = ctx.store(request.store)
        self._write(store, backup_id, snapshot, request, missing, operation_id,
                    strategy=collected.strategy)
        result.backup_id = backup_id
        result.store = store.url
        result.api_calls = ctx.gateway.call_count()
        result.retries = int(ctx.gateway.retry_stats.get("retries", 0) or 0)
        return result

    def _write(self, store: BackupStore, backup_id: str, snapshot: Snapshot, request: BackupRequest,
               missing: list[dict[str, Any]], operation_id: str, strategy: str | None) -> None:
        payload = pack_snapshot(snapshot)
        encryption = None
        kms_key = request.kms_key or self.context.settings.kms_key
        if kms_key:
            payload, encryption = crypto.encrypt(self.context.gateway, kms_key, backup_id, payload)
        source = dict(self.context.instance.to_dict(), assignment_listing=strategy)
        manifest = make_manifest(backup_id=backup_id, created_at=utc_timestamp(),
                                 description=request.description, source=source,
                                 resources=request.resources, snapshot=snapshot, stored_payload=payload,
                                 encryption=encryption, missing=missing, operation_id=operation_id)
        store.write(backup_id, {PAYLOAD: payload, MANIFEST: canonical_json(manifest)})

    # -- read side ---------------------------------------------------------------------------
    def list(self, store_url: str | None) -> tuple[str, list[dict[str, Any]]]:
        """Manifests of every readable backup (newest first) and unreadable ones marked as such."""
        store = self.context.store(store_url)
        rows = []
        for backup_id in reversed(store.list_ids()):
            try:
                rows.append(self.manifest(store, backup_id))
            except AwsidemanError as exc:
                rows.append({"backup_id": backup_id, "error": exc.message})
        return store.url, rows

    def manifest(self, store: BackupStore, backup_id: str) -> dict[str, Any]:
        return parse_manifest(store.read(backup_id, MANIFEST), backup_id)

    def show(self, backup_id: str, store_url: str | None) -> dict[str, Any]:
        backup_id = validate_backup_id(backup_id)
        store = self.context.store(store_url)
        return dict(self.manifest(store, backup_id), store=store.url)

    def load(self, backup_id: str, store_url: str | None) -> tuple[dict[str, Any], Snapshot]:
        """Manifest and snapshot, after checksum, format, decryption and consistency checks."""
        backup_id = validate_backup_id(backup_id)
        store = self.context.store(store_url)
        manifest = self.manifest(store, backup_id)
        stored = store.read(backup_id, PAYLOAD)
        check_payload(manifest, stored)
        encryption = manifest["payload"].get("encryption") or {"type": "none"}
        plain = stored
        if encryption.get("type") != "none":
            plain = crypto.decrypt(self.context.gateway, encryption, backup_id, stored)
        snapshot = unpack_snapshot(plain)
        if snapshot.counts() != manifest["counts"]:
            raise CorruptBackupError(f"{backup_id}: snapshot counts {snapshot.counts()} differ from "
                                     f"the manifest's {manifest['counts']}")
        problems = snapshot.consistency_problems(set(manifest.get("resources") or RESOURCE_KINDS))
        if problems:
            shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
            raise CorruptBackupError(f"{backup_id}: inconsistent snapshot: {shown}")
        return manifest, snapshot

    def verify(self, backup_id: str, store_url: str | None) -> dict[str, Any]:
        manifest, snapshot = self.load(backup_id, store_url)
        encryption = manifest["payload"].get("encryption", {}).get("type", "none")
        return {"backup_id": manifest["backup_id"], "valid": True, "partial": manifest["partial"],
                "counts": snapshot.counts(), "encryption": encryption,
                "checks": ["manifest", "format version", "size", "sha256",
                           *(["decryption"] if encryption != "none" else []), "snapshot schema",
                           "counts", "references"]}

    def delete(self, backup_id: str, store_url: str | None) -> str:
        backup_id = validate_backup_id(backup_id)
        store = self.context.store(store_url)
        store.delete(backup_id)
        return store.url


def _tag_with_operation(error: BaseException, operation_id: str) -> None:
    """Let the CLI name the operation and the resume command in its error report."""
    error.operation_id = operation_id  # type: ignore[attr-defined]
    if not isinstance(error, (IncompleteBackupError, OperationInterrupted)):  # these name it already
        error.next_command = f"awsideman backup create --resume {operation_id}"  # type: ignore[attr-defined]


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

"""`backup prune`: delete the backups a retention policy does not keep, from any store.

Only complete writes are candidates (stores list a backup only once its manifest exists, so a
write in progress is never seen), and a backup that a running backup operation is writing is
protected by its journaled id as well. Partial and unreadable backups count like the others,
except that an unreadable one is never deleted (it is listed for a person to look at).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from awsideman.core.exceptions import AwsidemanError
from awsideman.core.ids import id_timestamp
from awsideman.core.retention import Candidate, RetentionPolicy
from awsideman.journal import RUNNING
from awsideman.services.archive import BackupArchive
from awsideman.services.context import Context


@dataclass
class PruneResult:
    store: str
    dry_run: bool
    status: str = "succeeded"
    kept: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), counts={"kept": len(self.kept), "deleted": len(self.deleted)})


class PruneService:
    def __init__(self, context: Context, now: datetime | None = None) -> None:
        self.context = context
        self.now = now

    def plan(self, store_url: str | None, policy: RetentionPolicy) -> PruneResult:
        """What would be kept (with reasons) and deleted; changes nothing."""
        backups = BackupArchive(self.context)
        url, rows = backups.list(store_url)
        protected = self._being_written()
        candidates, keep = [], {}
        for row in rows:
            backup_id = row["backup_id"]
            if "error" in row:
                keep[backup_id] = [f"unreadable ({row['error']}); not pruned"]
                continue
            candidates.append(Candidate(backup_id, id_timestamp(backup_id), bool(row.get("partial"))))
            if backup_id in protected:
                keep[backup_id] = ["a running backup operation is writing it"]
        for backup_id, reasons in policy.decide(candidates, self.now or datetime.now(UTC)).items():
            keep.setdefault(backup_id, []).extend(reasons)
        result = PruneResult(store=url, dry_run=True)
        for candidate in sorted(candidates, key=lambda c: c.backup_id, reverse=True):
            entry = {"backup_id": candidate.backup_id, "created_at": candidate.created_at.isoformat(),
                     "partial": candidate.partial}
            if candidate.backup_id in keep:
                result.kept.append(dict(entry, reasons=keep.pop(candidate.backup_id)))
            else:
                result.deleted.append(entry)
        result.kept += [{"backup_id": b, "reasons": r} for b, r in keep.items()]
        return result

    def run(self, store_url: str | None, policy: RetentionPolicy, *, dry_run: bool) -> PruneResult:
        result = self.plan(store_url, policy)
        result.dry_run = dry_run
        if dry_run:
            return result
        store = self.context.store(store_url)
        deleted = []
        for entry in result.deleted:
            if entry["backup_id"] in self._being_written():  # checked again right before each delete
                result.kept.append(dict(entry, reasons=["a running backup operation is writing it"]))
                continue
            try:
                store.delete(entry["backup_id"])
                deleted.append(entry)
            except AwsidemanError as exc:
                result.errors.append({"backup_id": entry["backup_id"], "message": exc.message})
        result.deleted = deleted
        result.status = "failed" if result.errors else "succeeded"
        return result

    def _being_written(self) -> set[str]:
        journal = self.context.journal
        return {op.backup_id for op in journal.list_operations(limit=200, kind="backup")
                if op.status == RUNNING and op.backup_id}

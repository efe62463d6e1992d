"""`awsideman diff A [B]`: a backup against the live instance, or against another backup.

Reads what the comparison needs and nothing more: two backups are compared without a single
API call (unless a backup is KMS-encrypted, which takes one Decrypt); a live comparison reads
only the kinds in `--resources`, with the backup collector (same reader, same records).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from awsideman.core.drift import Difference, compare, summary
from awsideman.core.exceptions import UsageError
from awsideman.core.model import RESOURCE_KINDS, OrphanAssignment, Snapshot
from awsideman.core.planner import Untouchable, resources_in_scope, untouchables_from_missing
from awsideman.core.route_price import PRINCIPAL
from awsideman.services.archive import BackupArchive
from awsideman.services.context import Context
from awsideman.services.live import LiveSnapshot, read_live

OrphanKey = tuple[str, str, str, str]


@dataclass
class DiffRequest:
    first: str  # a backup id
    second: str | None = None  # a backup id, or None for the live instance
    store: str | None = None
    resources: list[str] = field(default_factory=lambda: list(RESOURCE_KINDS))


@dataclass
class DiffResult:
    """What `diff` reports (JSON: `to_dict`)."""

    source: dict[str, Any]
    target: dict[str, Any]
    resources: list[str]
    differences: list[Difference]
    api_calls: int = 0
    duration_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    orphans: dict[str, Any] = field(default_factory=dict)  # `orphan_report`: kept apart from differences

    @property
    def equal(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "resources": self.resources, "equal": self.equal,
                "counts": summary(self.differences),
                "security_relevant": sum(1 for d in self.differences if d.security),
                "differences": [d.to_dict() for d in self.differences], "api_calls": self.api_calls,
                "duration_seconds": self.duration_seconds, "notes": self.notes,
                "orphan_assignments": self.orphans}


class DiffService:
    """Compares a backup with the live instance or with a second backup."""

    def __init__(self, context: Context) -> None:
        self.context = context

    def run(self, request: DiffRequest) -> DiffResult:
        started = time.monotonic()
        backups = BackupArchive(self.context)
        first = backups.open(request.first, request.store)
        manifest = first.manifest
        scope = _scope(request.resources, manifest)
        notes = partial_notes(manifest)
        after: Snapshot
        if request.second is None:
            # The backup's records are read after the live read: into the memory its raw
            # records have freed, not on top of them (the backup was proven intact already).
            after = read_live(self.context, scope)
            before = first.snapshot()
            rules = untouchables_from_missing(manifest.get("missing") or [], before)
            target = {"kind": "live", **self.context.instance.to_dict()}
        else:
            before = first.snapshot()
            rules = untouchables_from_missing(manifest.get("missing") or [], before)
            second, after = backups.load(request.second, request.store)
            scope = _scope(scope, second)
            rules += untouchables_from_missing(second.get("missing") or [], after)
            notes += partial_notes(second)
            target = describe_backup(second)
        differences = compare(before, after, resources_in_scope(scope), _unique(rules))
        api_calls = self.context.gateway.call_count() if "gateway" in self.context.__dict__ else 0
        orphans: dict[str, Any] = {}
        if "assignments" in scope:
            seen_after = (after.orphans_visible if isinstance(after, LiveSnapshot)
                          else orphans_visible(second))
            orphans = orphan_report(before, orphans_visible(manifest), after, seen_after)
        return DiffResult(source=describe_backup(manifest), target=target, resources=scope, differences=differences,
                          api_calls=api_calls, duration_seconds=round(time.monotonic() - started, 3), notes=notes,
                          orphans=orphans)


def orphans_visible(manifest: dict[str, Any]) -> bool:
    """Whether a backup's listing could see orphan assignments (older backups: by their route)."""
    recorded = manifest.get("orphan_assignments")
    if recorded is not None:
        return bool(recorded["visible"])
    return (manifest.get("source") or {}).get("assignment_listing") != PRINCIPAL


def orphan_report(before: Snapshot, before_visible: bool, after: Snapshot, after_visible: bool) -> dict[str, Any]:
    """Orphan assignments on each side, apart from the differences: they grant no one access and
    a restore never recreates them, so one side having them is not drift to repair. A side whose
    listing could not see them says so instead of showing none."""
    first = {o.key: o for o in before.orphan_assignments}
    second = {o.key: o for o in after.orphan_assignments}

    def listed(keys: Iterable[OrphanKey], side: dict[OrphanKey, OrphanAssignment]) -> list[dict[str, Any]]:
        return [asdict(side[k]) for k in sorted(keys)]

    return {"from": {"visible": before_visible, "count": len(first)},
            "to": {"visible": after_visible, "count": len(second)},
            "only_in_from": listed(first.keys() - second.keys(), first) if after_visible else [],
            "only_in_to": listed(second.keys() - first.keys(), second) if before_visible else [],
            "in_both": listed(first.keys() & second.keys(), first)}


def _scope(wanted: list[str], manifest: dict[str, Any]) -> list[str]:
    held = list(manifest.get("resources") or RESOURCE_KINDS)
    scope = [kind for kind in wanted if kind in held]
    if not scope:
        raise UsageError(f"{manifest['backup_id']} holds {', '.join(held)}; nothing of --resources "
                         f"{','.join(wanted)} is in it")
    return scope


def describe_backup(manifest: dict[str, Any]) -> dict[str, Any]:
    source = manifest.get("source") or {}
    return {"kind": "backup", "backup_id": manifest["backup_id"], "created_at": manifest.get("created_at"),
            "instance_arn": source.get("instance_arn"), "identity_store_id": source.get("identity_store_id")}


def partial_notes(manifest: dict[str, Any]) -> list[str]:
    if not manifest.get("partial"):
        return []
    missing = ", ".join(sorted({g["resource"] for g in manifest.get("missing") or []})) or "some steps"
    return [f"{manifest['backup_id']} is partial (it misses {missing}): what it could not read is not compared."]


def _unique(rules: list[Untouchable]) -> list[Untouchable]:
    return list(dict.fromkeys(rules))

"""The backups in a store: list, show, load (with every check), verify, find and delete.

The read side of backups, apart from the one thing that writes them (``BackupService``): the
commands that only look at or remove backups need no collector, no journal operation, no
Identity Center reader.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from awsideman.adapters import crypto
from awsideman.adapters.storage import BackupStore
from awsideman.core.backup_format import (
    MANIFEST,
    PAYLOAD,
    bound_manifest,
    check_payload,
    parse_manifest,
    unpack_snapshot,
)
from awsideman.core.exceptions import AwsidemanError, CorruptBackupError, StorageError
from awsideman.core.ids import validate_backup_id
from awsideman.core.model import RESOURCE_KINDS, Snapshot
from awsideman.services.context import Context


class BackupArchive:
    """The backups of the configured stores (a store URL per call; None: the default store)."""

    def __init__(self, context: Context) -> None:
        self.context = context

    def list(self, store_url: str | None) -> tuple[str, list[dict[str, Any]]]:
        """Manifests of every readable backup (newest first) and unreadable ones marked as such."""
        store = self.context.store(store_url)
        rows = []
        for backup_id in reversed(store.list_ids()):
            try:
                rows.append(self.manifest(store, backup_id))
            except AwsidemanError as exc:  # one damaged backup never hides the good ones
                rows.append({"backup_id": backup_id, "status": "damaged", "error": exc.message})
        return store.url, rows

    def manifest(self, store: BackupStore, backup_id: str) -> dict[str, Any]:
        return parse_manifest(store.read(backup_id, MANIFEST), backup_id)

    def show(self, backup_id: str, store_url: str | None) -> dict[str, Any]:
        backup_id = validate_backup_id(backup_id)
        store = self.context.store(store_url)
        manifest = dict(self.manifest(store, backup_id), store=store.url)
        if (manifest.get("orphan_assignments") or {}).get("count"):
            # Only then is the payload read (and decrypted): the manifest counts them, the snapshot names them.
            _, snapshot = self.load(backup_id, store_url)
            manifest["orphan_assignments"] = dict(manifest["orphan_assignments"], assignments=[
                asdict(o) for o in snapshot.orphan_assignments])
        return manifest

    def load(self, backup_id: str, store_url: str | None) -> tuple[dict[str, Any], Snapshot]:
        """Manifest and snapshot, after checksum, format, decryption and consistency checks."""
        opened = self.open(backup_id, store_url)
        return opened.manifest, opened.snapshot()

    def open(self, backup_id: str, store_url: str | None) -> OpenedBackup:
        """The manifest checked and the payload proven to be the one written (size, sha256 and,
        encrypted, its authenticated decryption), its records not yet read: a command that reads
        the instance too opens the backup first (a bad one fails before any call) and reads the
        records after, into the memory the live read's raw records have freed."""
        backup_id = validate_backup_id(backup_id)
        store = self.context.store(store_url)
        manifest = self.manifest(store, backup_id)
        stored = store.read(backup_id, PAYLOAD)
        check_payload(manifest, stored)
        encryption = manifest["payload"].get("encryption") or {"type": "none"}
        plain = stored
        if encryption.get("type") != "none":
            plain = crypto.decrypt(self.context.gateway, encryption, backup_id, stored, bound_manifest(manifest))
        return OpenedBackup(manifest, plain, self.context.settings.limits.bytes("snapshot_mib"))

    def verify(self, backup_id: str, store_url: str | None) -> dict[str, Any]:
        manifest, snapshot = self.load(backup_id, store_url)
        encryption = manifest["payload"].get("encryption", {}).get("type", "none")
        return {"backup_id": manifest["backup_id"], "valid": True, "partial": manifest["partial"],
                "counts": snapshot.counts(), "encryption": encryption,
                "checks": ["manifest", "format version", "size", "sha256",
                           *(["decryption"] if encryption != "none" else []), "snapshot schema",
                           "counts", "references"]}

    def find(self, backup_id: str, store_url: str | None) -> dict[str, Any]:
        """What `delete` asks about: the manifest, or for a damaged backup its id and what is wrong."""
        try:
            return self.show(backup_id, store_url)
        except (CorruptBackupError, StorageError) as exc:
            return {"backup_id": validate_backup_id(backup_id), "store": self.context.store(store_url).url,
                    "status": "damaged", "error": exc.message}

    def delete(self, backup_id: str, store_url: str | None) -> str:
        backup_id = validate_backup_id(backup_id)
        store = self.context.store(store_url)
        store.delete(backup_id)
        return store.url


class OpenedBackup:
    """A backup whose manifest and payload bytes passed their checks (`BackupArchive.open`)."""

    def __init__(self, manifest: dict[str, Any], payload: bytes, max_inflated: int) -> None:
        self.manifest = manifest
        self._payload: bytes | None = payload
        self._max_inflated = max_inflated

    def snapshot(self) -> Snapshot:
        """The records, checked against the schema, the manifest's counts and each other (once:
        the payload is let go as they are read)."""
        backup_id = self.manifest["backup_id"]
        payload, self._payload = self._payload, None
        if payload is None:
            raise RuntimeError(f"{backup_id}: the snapshot of an opened backup is read once")
        try:
            snapshot = unpack_snapshot(payload, self._max_inflated)
        except CorruptBackupError as exc:
            raise type(exc)(f"{backup_id}: {exc.message}", remediation=exc.remediation) from exc
        del payload
        if snapshot.counts() != self.manifest["counts"]:
            raise CorruptBackupError(f"{backup_id}: snapshot counts {snapshot.counts()} differ from "
                                     f"the manifest's {self.manifest['counts']}")
        problems = snapshot.consistency_problems(set(self.manifest.get("resources") or RESOURCE_KINDS))
        if problems:
            shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
            raise CorruptBackupError(f"{backup_id}: inconsistent snapshot: {shown}")
        return snapshot

"""Backup format version 1: `manifest.json` + `snapshot.json.gz` (DESIGN section 4).

Pure packing and checking; encryption and storage live in adapters.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from typing import Any

from awsideman import __version__
from awsideman.core.exceptions import CorruptBackupError, UnsupportedFormatError
from awsideman.core.model import FORMAT_VERSION, Snapshot, canonical_json
from awsideman.core.sanitize import sanitize, sanitize_obj

MANIFEST = "manifest.json"
PAYLOAD = "snapshot.json.gz"
_REQUIRED = ("format_version", "backup_id", "created_at", "source", "counts", "payload", "partial")


def pack_snapshot(snapshot: Snapshot) -> bytes:
    """Canonical JSON, gzip with a fixed mtime so equal snapshots give equal bytes."""
    return gzip.compress(canonical_json(snapshot.to_dict()), compresslevel=6, mtime=0)


def unpack_snapshot(data: bytes) -> Snapshot:
    """The snapshot in a (decrypted) payload, or CorruptBackupError saying what is wrong."""
    try:
        document = json.loads(gzip.decompress(data))
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptBackupError(f"payload is not valid gzip data ({exc})") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptBackupError(f"payload is not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise CorruptBackupError("payload is not a JSON object")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise UnsupportedFormatError(f"snapshot format version {version!r} is not supported "
                                     f"(this awsideman reads version {FORMAT_VERSION})")
    try:
        return Snapshot.from_dict(document)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CorruptBackupError(f"snapshot document is malformed ({exc!r})") from exc


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_manifest(*, backup_id: str, created_at: str, description: str | None, source: dict[str, Any],
                  resources: list[str], snapshot: Snapshot, stored_payload: bytes,
                  encryption: dict[str, Any] | None, missing: list[dict[str, Any]],
                  operation_id: str | None) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "backup_id": backup_id,
        "operation_id": operation_id,
        "created_at": created_at,
        # Free text from the command line: sanitised like every other exit (a pasted key stays out).
        "description": sanitize(description) if description else description,
        "source": source,
        "resources": sorted(resources),
        "counts": snapshot.counts(),
        "partial": bool(missing),
        "missing": sanitize_obj(missing),
        "payload": {"file": PAYLOAD, "sha256": sha256(stored_payload), "size": len(stored_payload),
                    "compression": "gzip", "encryption": encryption or {"type": "none"}},
    }


def parse_manifest(data: bytes, backup_id: str) -> dict[str, Any]:
    """A manifest that is JSON, the right version, and about this backup."""
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptBackupError(f"{backup_id}: manifest.json is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise CorruptBackupError(f"{backup_id}: manifest.json is not a JSON object")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise UnsupportedFormatError(f"{backup_id}: format version {version!r} is not supported "
                                     f"(this awsideman reads version {FORMAT_VERSION})",
                                     remediation=["Use the awsideman version that wrote this backup."])
    absent = [key for key in _REQUIRED if key not in manifest]
    if absent:
        raise CorruptBackupError(f"{backup_id}: manifest.json lacks {', '.join(absent)}")
    if manifest["backup_id"] != backup_id:
        raise CorruptBackupError(f"{backup_id}: manifest names another backup ({manifest['backup_id']!r})")
    return manifest


def check_payload(manifest: dict[str, Any], stored_payload: bytes) -> None:
    """Size and sha256 of the stored bytes match the manifest."""
    expected = manifest["payload"]
    backup_id = manifest["backup_id"]
    if len(stored_payload) != expected.get("size"):
        raise CorruptBackupError(f"{backup_id}: payload is {len(stored_payload)} bytes, manifest says "
                                 f"{expected.get('size')} (truncated or replaced)")
    if sha256(stored_payload) != expected.get("sha256"):
        raise CorruptBackupError(f"{backup_id}: payload checksum does not match the manifest (corrupt)")

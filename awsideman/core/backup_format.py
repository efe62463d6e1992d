"""Backup format version 1: `manifest.json` + `snapshot.json.gz` (DESIGN section 4).

Pure packing and checking; encryption and storage live in adapters. Everything read back is
treated as hostile (stores are shared folders and buckets): sizes are bounded before parsing,
the payload is inflated as a stream that stops at the limit, and both documents are checked
against the published schemas (``awsideman/schemas/``) plus the rules a schema cannot say.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

from awsideman import __version__
from awsideman.core import schemas
from awsideman.core.exceptions import CorruptBackupError, UnsupportedFormatError
from awsideman.core.limits import describe
from awsideman.core.model import FORMAT_VERSION, Snapshot, canonical_json
from awsideman.core.sanitize import sanitize, sanitize_obj

MANIFEST = "manifest.json"
PAYLOAD = "snapshot.json.gz"
_INFLATE_CHUNK = 1024 * 1024
# Manifest fields that depend on the stored (encrypted) payload, so cannot be in its AAD.
_UNBOUND_PAYLOAD_FIELDS = ("sha256", "size")


def pack_snapshot(snapshot: Snapshot) -> bytes:
    """Canonical JSON, gzip with a fixed mtime so equal snapshots give equal bytes.

    The JSON is written into the compressor a batch of records at a time: only the compressed
    payload (a tenth of the text) is held whole, never the snapshot as dicts or as text."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    # gzip.compress(..., compresslevel=6, mtime=0)'s header (OS byte 3), so the bytes are the
    # same as before the payload was streamed.
    parts = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"]
    crc, size = 0, 0
    for chunk in snapshot.canonical_chunks():
        crc, size = zlib.crc32(chunk, crc), size + len(chunk)
        parts.append(deflate.compress(chunk))
    parts.append(deflate.flush())
    parts.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return b"".join(parts)


def inflate(data: bytes, max_bytes: int) -> bytes:
    """gzip-decompress ``data`` as a stream, refusing (CorruptBackupError) past ``max_bytes``.

    Never holds more than ``max_bytes`` plus one chunk, however far the data would inflate.
    """
    return b"".join(inflate_chunks(data, max_bytes))


def inflate_chunks(data: bytes, max_bytes: int) -> Iterator[bytes]:
    """`inflate` a chunk at a time, for a reader that never needs the whole text."""
    inflated = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as stream:
            while chunk := stream.read(_INFLATE_CHUNK):
                inflated += len(chunk)
                if inflated > max_bytes:
                    raise CorruptBackupError(
                        f"payload inflates past the limit of {describe(max_bytes)} (limits.snapshot_mib)",
                        remediation=["If the backup is genuine, raise limits.snapshot_mib in the config."])
                yield chunk
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptBackupError(f"payload is not valid gzip data ({exc})") from exc


def unpack_snapshot(data: bytes, max_inflated: int) -> Snapshot:
    """The snapshot in a (decrypted) payload, or CorruptBackupError naming what is wrong.

    Read record by record from the inflating stream (`snapshot_stream`): an enterprise backup
    is never held as one text nor as one document of dicts."""
    from awsideman.core.snapshot_stream import read_snapshot

    return read_snapshot(inflate_chunks(data, max_inflated))


def _load_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except RecursionError as exc:
        raise CorruptBackupError(f"{what} is nested too deeply to be a backup document") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptBackupError(f"{what} is not valid JSON ({exc})") from exc


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_manifest(*, backup_id: str, created_at: str, description: str | None, source: dict[str, Any],
                  resources: list[str], snapshot: Snapshot, encryption: dict[str, Any] | None,
                  missing: list[dict[str, Any]], operation_id: str | None) -> dict[str, Any]:
    """The manifest without the stored payload's sha256 and size (``add_payload_digest`` adds them)."""
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
        "payload": {"file": PAYLOAD, "compression": "gzip", "encryption": encryption or {"type": "none"}},
    }


def add_payload_digest(manifest: dict[str, Any], stored_payload: bytes) -> dict[str, Any]:
    """``manifest`` with the sha256 and size of the payload bytes as stored."""
    manifest["payload"].update(sha256=sha256(stored_payload), size=len(stored_payload))
    return manifest


def parse_manifest(data: bytes, backup_id: str) -> dict[str, Any]:
    """A manifest that is JSON, the right version, matches its schema and is about this backup."""
    try:
        manifest = _load_json(data, "manifest.json")
    except CorruptBackupError as exc:
        raise CorruptBackupError(f"{backup_id}: {exc.message}") from exc
    if not isinstance(manifest, dict):
        raise CorruptBackupError(f"{backup_id}: manifest.json is not a JSON object")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise UnsupportedFormatError(f"{backup_id}: format version {_shown(version)} is not supported "
                                     f"(this awsideman reads version {FORMAT_VERSION})",
                                     remediation=["Use the awsideman version that wrote this backup."])
    problems = schemas.summary("manifest", manifest)
    if problems:
        raise CorruptBackupError(f"{backup_id}: manifest.json does not match its schema: {problems}")
    inconsistent = _manifest_inconsistencies(manifest, backup_id)
    if inconsistent:
        raise CorruptBackupError(f"{backup_id}: manifest.json is inconsistent: {'; '.join(inconsistent)}")
    return manifest


def _manifest_inconsistencies(manifest: dict[str, Any], backup_id: str) -> list[str]:
    """What the schema cannot say: fields that must agree with each other and with the folder."""
    found = []
    if manifest["backup_id"] != backup_id:
        found.append(f"it names another backup ({_shown(manifest['backup_id'])})")
    if manifest["partial"] != bool(manifest["missing"]):
        found.append(f"partial is {str(manifest['partial']).lower()} but missing lists "
                     f"{len(manifest['missing'])} item(s)")
    for index, group in enumerate(manifest["missing"]):
        steps = group.get("steps")
        if steps is not None and len(steps) != group["count"]:
            found.append(f"missing[{index}].count is {group['count']} but it lists {len(steps)} step(s)")
    return found


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:36] + "...'"


def bound_manifest(manifest: dict[str, Any]) -> bytes:
    """The bytes an encrypted payload's AES-GCM tag authenticates: the manifest as written,
    less the payload's sha256 and size (they are computed from the ciphertext itself)."""
    bound = copy.deepcopy(manifest)
    for key in _UNBOUND_PAYLOAD_FIELDS:
        bound["payload"].pop(key, None)
    return b"awsideman-manifest\0" + canonical_json(bound)


def check_payload(manifest: dict[str, Any], stored_payload: bytes) -> None:
    """Size and sha256 of the stored bytes match the (schema-checked) manifest."""
    expected = manifest["payload"]
    backup_id = manifest["backup_id"]
    if len(stored_payload) != expected.get("size"):
        raise CorruptBackupError(f"{backup_id}: payload is {len(stored_payload)} bytes, manifest says "
                                 f"{expected.get('size')} (truncated or replaced)")
    if sha256(stored_payload) != expected.get("sha256"):
        raise CorruptBackupError(f"{backup_id}: payload checksum does not match the manifest (corrupt)")

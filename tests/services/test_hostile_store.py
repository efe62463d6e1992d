"""Stores are a trust boundary: links, odd files, hostile manifests and inflating payloads."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import tracemalloc

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from awsideman.core.backup_format import MANIFEST, PAYLOAD, sha256
from awsideman.core.exceptions import CorruptBackupError, EncryptionError, StorageError, UsageError
from awsideman.core.limits import Limits
from awsideman.services.archive import BackupArchive
from awsideman.services.backup import BackupRequest, BackupService
from tests.helpers import make_context

OTHER_ID = "bk-20200101T000000Z-aaaaaa"


@pytest.fixture
def seeded(sandbox):
    return sandbox.seed("tiny", seed=3)


def _backup(service: BackupService, **request):
    result = service.create(BackupRequest(**request))
    return result.backup_id, service.context.settings.home / "backups" / result.backup_id


def _copy_as(folder, backup_id: str, manifest=None):
    """A copy of a backup under another id, with its manifest replaced by ``manifest`` (bytes or dict)."""
    target = folder.parent / backup_id
    shutil.copytree(folder, target)
    if manifest is None:
        data = json.loads((target / MANIFEST).read_text())
        data["backup_id"] = backup_id
        manifest = data
    (target / MANIFEST).write_bytes(manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode())
    return target


def test_symlinked_backup_folder_is_damaged_never_followed_or_deleted_through(seeded, tmp_path):
    service = BackupService(make_context())
    good, folder = _backup(service)
    outside = _copy_as(folder, OTHER_ID)
    moved = tmp_path / "elsewhere" / OTHER_ID
    moved.parent.mkdir()
    outside.rename(moved)
    (folder.parent / OTHER_ID).symlink_to(moved, target_is_directory=True)

    _, rows = BackupArchive(service.context).list(None)
    assert [r["backup_id"] for r in rows] == [good, OTHER_ID]
    assert rows[1]["status"] == "damaged" and "symbolic link" in rows[1]["error"]
    with pytest.raises(CorruptBackupError, match="symbolic link"):
        BackupArchive(service.context).verify(OTHER_ID, None)
    with pytest.raises(CorruptBackupError, match="symbolic link"):
        BackupArchive(service.context).delete(OTHER_ID, None)
    assert sorted(p.name for p in moved.iterdir()) == [MANIFEST, PAYLOAD]  # nothing outside was touched

    # A link or a FIFO in place of a backup's payload: damaged, and delete refuses the whole backup.
    backup_id = good
    secret = tmp_path / "not-a-backup.txt"
    secret.write_text("keep me")
    (folder / PAYLOAD).unlink()
    (folder / PAYLOAD).symlink_to(secret)
    with pytest.raises(CorruptBackupError, match="snapshot.json.gz is a symbolic link"):
        BackupArchive(service.context).verify(backup_id, None)
    with pytest.raises(StorageError, match="not a regular file"):
        BackupArchive(service.context).delete(backup_id, None)
    assert secret.read_text() == "keep me" and (folder / MANIFEST).exists()  # refused as a whole

    (folder / PAYLOAD).unlink()
    os.mkfifo(folder / PAYLOAD)  # a FIFO would block a plain open() forever
    with pytest.raises(CorruptBackupError, match="not a regular file"):
        BackupArchive(service.context).verify(backup_id, None)


HOSTILE_MANIFESTS = {
    "counts is a list": (lambda m: m.update(counts=[1, 2]), "counts: expected object, got array"),
    "count of wrong type": (lambda m: m["counts"].update(users="5"), "counts.users: expected integer, got string"),
    "missing field": (lambda m: m.pop("payload"), "payload: is required"),
    "missing nested field": (lambda m: m["source"].pop("instance_arn"), "source.instance_arn: is required"),
    "source is a string": (lambda m: m.update(source="x"), "source: expected object, got string"),
    "description is an object": (lambda m: m.update(description={"a": 1}),
                                 "description: expected string or null, got object"),
    "missing item of wrong type": (lambda m: m.update(missing=["x"], partial=True),
                                   "missing[0]: expected object, got string"),
    "partial without missing": (lambda m: m.update(partial=True), "partial is true but missing lists 0"),
    "unknown encryption": (lambda m: m["payload"]["encryption"].update(type="rot13"),
                           'payload.encryption.type: expected one of "none", "kms-envelope"'),
    "resources outside the enumeration": (lambda m: m.update(resources=["users", "secrets"]),
                                          'resources[1]: expected one of "users"'),
    "infinite size": (lambda m: m["payload"].update(size=float("inf")), "payload.size: must be a finite number"),
    "negative count": (lambda m: m["counts"].update(groups=-1), "counts.groups: -1 is out of range"),
}


def test_store_with_good_and_hostile_backups_lists_all_and_names_each_problem(seeded):
    service = BackupService(make_context(limits=Limits(manifest_mib=0.25)))
    good, folder = _backup(service)
    original = json.loads((folder / MANIFEST).read_text())
    expected = {}
    for number, (_name, (damage, words)) in enumerate(sorted(HOSTILE_MANIFESTS.items())):
        backup_id = f"bk-20200101T0000{number:02d}Z-hhhhhh"
        manifest = json.loads(json.dumps(original))
        manifest["backup_id"] = backup_id
        damage(manifest)
        _copy_as(folder, backup_id, json.dumps(manifest, allow_nan=True).encode())
        expected[backup_id] = words
    deep = "bk-20200101T000100Z-dddddd"
    _copy_as(folder, deep, b"[" * 100_000 + b"]" * 100_000)  # nested far past the parser's recursion limit
    expected[deep] = "nested too deeply"
    huge = "bk-20200101T000101Z-llllll"
    _copy_as(folder, huge, b" " * (300 * 1024) + json.dumps(original).encode())
    expected[huge] = "larger than the limit of 256 KiB (limits.manifest_mib)"

    _, rows = BackupArchive(service.context).list(None)
    by_id = {row["backup_id"]: row for row in rows}
    assert by_id[good]["counts"]["users"] == 5 and "error" not in by_id[good]
    for backup_id, words in expected.items():
        assert by_id[backup_id]["status"] == "damaged", backup_id
        assert words in by_id[backup_id]["error"], (backup_id, by_id[backup_id]["error"])
        with pytest.raises(CorruptBackupError) as caught:
            BackupArchive(service.context).verify(backup_id, None)
        assert words in caught.value.message
        assert "object has no attribute" not in caught.value.message


def test_inflating_payload_stops_at_the_limit_in_bounded_memory(seeded):
    service = BackupService(make_context(limits=Limits(snapshot_mib=1)))
    backup_id, folder = _backup(service)
    bomb = gzip.compress(b" " * (24 * 1024 * 1024), compresslevel=1)  # 24 MiB of JSON whitespace, ~100 KiB
    (folder / PAYLOAD).write_bytes(bomb)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["payload"].update(sha256=sha256(bomb), size=len(bomb))
    (folder / MANIFEST).write_text(json.dumps(manifest))
    tracemalloc.start()
    try:
        with pytest.raises(CorruptBackupError, match=r"inflates past the limit of 1 MiB \(limits.snapshot_mib\)"):
            BackupArchive(service.context).verify(backup_id, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # a few chunks, never the 24 MiB it would inflate to


    # The stored payload has a limit of its own, checked before it is read.
    small = BackupService(make_context(limits=Limits(payload_mib=1 / 1024)))
    (folder / PAYLOAD).write_bytes(os.urandom(4096))
    with pytest.raises(CorruptBackupError, match=r"snapshot.json.gz is larger than the limit of 1 KiB"):
        BackupArchive(small.context).verify(backup_id, None)


def test_encrypted_backup_binds_its_manifest(sandbox):
    sandbox.seed("tiny", seed=3)
    key = sandbox.client("kms").create_key()["KeyMetadata"]["KeyId"]
    service = BackupService(make_context())
    backup_id, folder = _backup(service, kms_key=key, description="nightly")
    assert BackupArchive(service.context).verify(backup_id, None)["valid"] is True
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["payload"]["encryption"]["associated_data"] == "manifest"
    manifest["description"] = "edited"
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(EncryptionError, match="altered payload or manifest"):
        BackupArchive(service.context).verify(backup_id, None)
    del manifest["payload"]["encryption"]["associated_data"]  # no downgrade to the older binding
    manifest["description"] = "nightly"
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(EncryptionError):
        BackupArchive(service.context).verify(backup_id, None)

    # Backups written before the manifest was bound authenticated only the backup id: still read.
    backup_id, folder = _backup(service)
    plain = (folder / PAYLOAD).read_bytes()
    data_key = sandbox.client("kms").generate_data_key(
        KeyId=key, KeySpec="AES_256", EncryptionContext={"awsideman:backup-id": backup_id})
    nonce = os.urandom(12)
    sealed = AESGCM(data_key["Plaintext"]).encrypt(nonce, plain, backup_id.encode())
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["payload"].update(sha256=sha256(sealed), size=len(sealed), encryption={
        "type": "kms-envelope", "algorithm": "AES-256-GCM", "kms_key_id": key,
        "encrypted_data_key": base64.b64encode(data_key["CiphertextBlob"]).decode(),
        "nonce": base64.b64encode(nonce).decode(), "encryption_context": {"awsideman:backup-id": backup_id}})
    (folder / PAYLOAD).write_bytes(sealed)
    (folder / MANIFEST).write_text(json.dumps(manifest))
    assert BackupArchive(service.context).verify(backup_id, None)["encryption"] == "kms-envelope"


def test_file_as_store_and_bad_kms_key_fail_before_reading_the_instance(seeded, tmp_path):
    afile = tmp_path / "backups.tar"
    afile.write_text("")
    context = make_context()
    with pytest.raises(UsageError, match="is a file, not a folder"):
        BackupService(context).create(BackupRequest(store=str(afile)))
    assert context.gateway.call_count() == 0
    with pytest.raises(UsageError, match="is a file, not a folder"):
        BackupArchive(context).list(str(afile))
    with pytest.raises(UsageError, match="--description is 70000 characters"):  # would not fit the schema
        BackupService(context).create(BackupRequest(description="x" * 70_000))
    assert context.gateway.call_count() == 0

    context = make_context()
    with pytest.raises(EncryptionError, match="alias/no-such-key"):
        BackupService(context).create(BackupRequest(kms_key="alias/no-such-key"))
    assert set(context.gateway.calls) == {"kms:GenerateDataKey"}  # not one read of the instance

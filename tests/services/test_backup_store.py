"""Stores, verification, encryption and bad input, against the in-process emulator."""

from __future__ import annotations

import gzip
import json
import os
import stat

import pytest

from awsideman.core.backup_format import MANIFEST, PAYLOAD
from awsideman.core.exceptions import (
    BackupNotFoundError,
    CorruptBackupError,
    EncryptionError,
    InvalidIdError,
    StorageError,
    UnsupportedFormatError,
)
from awsideman.services.archive import BackupArchive
from awsideman.services.backup import BackupRequest, BackupService
from tests.helpers import assert_matches_seed, make_context


@pytest.fixture
def seeded(sandbox):
    return sandbox.seed("tiny", seed=5)


def _local_backup(service: BackupService, **request):
    result = service.create(BackupRequest(**request))
    folder = service.context.settings.home / "backups" / result.backup_id
    return result, folder


def test_local_store_files_are_private_and_listed(seeded):
    service = BackupService(make_context())
    result, folder = _local_backup(service, description="nightly")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    for name in (MANIFEST, PAYLOAD):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    url, rows = BackupArchive(service.context).list(None)
    assert [r["backup_id"] for r in rows] == [result.backup_id]
    assert rows[0]["description"] == "nightly" and rows[0]["partial"] is False
    assert BackupArchive(service.context).verify(result.backup_id, None)["valid"] is True


def test_the_archive_reads_the_store_only(sandbox, seeded):
    """Looking at backups is no operation and reads nothing of the instance (issue 21 item 3)."""
    backup_id = BackupService(make_context()).create(BackupRequest()).backup_id
    context = make_context()
    operations = len(context.journal.list_operations())
    sandbox.reset_counters()
    archive = BackupArchive(context)
    assert [r["backup_id"] for r in archive.list(None)[1]] == [backup_id]
    assert archive.show(backup_id, None)["backup_id"] == backup_id
    assert archive.verify(backup_id, None)["valid"] is True
    assert not [op for op in sandbox.counters() if op.startswith(("identitystore:", "sso-admin:"))]
    assert len(context.journal.list_operations()) == operations


def test_half_written_backup_is_invisible(seeded):
    service = BackupService(make_context())
    result, folder = _local_backup(service)
    staging = folder.parent / ".tmp-bk-20260101T000000Z-abcdef-x1"
    staging.mkdir()
    (staging / PAYLOAD).write_bytes(b"partial")
    orphan = folder.parent / "bk-20260101T000000Z-abcdef"
    orphan.mkdir()
    (orphan / PAYLOAD).write_bytes(b"payload without manifest")
    assert [r["backup_id"] for r in BackupArchive(service.context).list(None)[1]] == [result.backup_id]
    with pytest.raises(BackupNotFoundError):
        BackupArchive(service.context).verify("bk-20260101T000000Z-abcdef", None)
    # The next write removes staging folders old enough to belong to no live write.
    fresh = folder.parent / ".tmp-bk-20260101T000000Z-abcdef-x2"
    fresh.mkdir()
    os.utime(staging, (0, 0))
    service.create(BackupRequest())
    assert not staging.exists() and fresh.exists()


@pytest.mark.parametrize("damage, error, words", [
    ("flip", CorruptBackupError, "checksum"),
    ("truncate", CorruptBackupError, "truncated"),
    ("version", UnsupportedFormatError, "format version 99"),
    ("manifest", CorruptBackupError, "not valid JSON"),
    ("dangling", CorruptBackupError, "inconsistent"),
])
def test_damaged_backup_fails_verify_naming_the_reason(seeded, damage, error, words):
    service = BackupService(make_context())
    result, folder = _local_backup(service)
    payload, manifest_path = folder / PAYLOAD, folder / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    data = payload.read_bytes()
    if damage == "flip":
        payload.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])
    elif damage == "truncate":
        payload.write_bytes(data[: len(data) // 2])
    elif damage == "version":
        manifest["format_version"] = 99
        manifest_path.write_text(json.dumps(manifest))
    elif damage == "manifest":
        manifest_path.write_text("{not json")
    else:  # a well-formed, correctly checksummed payload whose membership names no user
        from awsideman.core.backup_format import sha256

        document = json.loads(gzip.decompress(data))
        document["memberships"][0]["user_name"] = "nobody"
        repacked = gzip.compress(json.dumps(document).encode())
        payload.write_bytes(repacked)
        manifest["payload"].update(sha256=sha256(repacked), size=len(repacked))
        manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(error, match=words):
        BackupArchive(service.context).verify(result.backup_id, None)
    with pytest.raises(error):
        BackupArchive(service.context).load(result.backup_id, None)


@pytest.mark.parametrize("bad", ["../../x", "bk-../../etc", "bk-20260101T000000Z-ABCDEF", "", "/tmp/x"])
def test_malformed_backup_ids_are_refused(seeded, bad):
    archive = BackupArchive(make_context())
    for call in (archive.show, archive.verify, archive.delete):
        with pytest.raises(InvalidIdError):
            call(bad, None)


def test_unwritable_store_is_a_clear_error_before_any_read(sandbox, seeded, tmp_path):
    if os.geteuid() == 0:
        store = "/proc/awsideman-cannot-write-here"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        store = str(locked / "backups")
    service = BackupService(make_context())
    sandbox.faults.reset_counters()
    with pytest.raises(StorageError, match="store folder"):
        service.create(BackupRequest(store=store))
    assert "identitystore:ListUsers" not in sandbox.counters()


def test_s3_store_round_trip_with_sse_kms(sandbox):
    seeded = sandbox.seed("tiny", seed=6)
    sandbox.client("s3").create_bucket(Bucket="idc-backups")
    key = sandbox.client("kms").create_key()["KeyMetadata"]["KeyId"]
    service = BackupService(make_context(s3_sse_kms_key=key))
    store = "s3://idc-backups/nightly/prod"
    result = service.create(BackupRequest(store=store))
    assert result.store == store
    head = sandbox.client("s3").head_object(Bucket="idc-backups",
                                            Key=f"nightly/prod/{result.backup_id}/{PAYLOAD}")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert [r["backup_id"] for r in BackupArchive(service.context).list(store)[1]] == [result.backup_id]
    _, snapshot = BackupArchive(service.context).load(result.backup_id, store)
    assert_matches_seed(snapshot, seeded)
    BackupArchive(service.context).delete(result.backup_id, store)
    assert BackupArchive(service.context).list(store)[1] == []
    listed = sandbox.client("s3").list_objects_v2(Bucket="idc-backups")
    assert listed.get("KeyCount", 0) == 0


def test_missing_bucket_is_a_clear_error_before_any_read(sandbox, seeded):
    service = BackupService(make_context())
    sandbox.faults.reset_counters()
    with pytest.raises(StorageError, match="does not exist"):
        service.create(BackupRequest(store="s3://no-such-bucket/x"))
    assert "identitystore:ListUsers" not in sandbox.counters()


def test_envelope_encryption_round_trip_and_key_failures(sandbox):
    seeded = sandbox.seed("tiny", seed=7)
    kms = sandbox.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    service = BackupService(make_context())
    result, folder = _local_backup(service, kms_key=key)
    manifest = json.loads((folder / MANIFEST).read_text())
    encryption = manifest["payload"]["encryption"]
    assert encryption["type"] == "kms-envelope" and encryption["algorithm"] == "AES-256-GCM"
    assert "Plaintext" not in json.dumps(manifest)
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress((folder / PAYLOAD).read_bytes())  # really encrypted at rest
    _, snapshot = BackupArchive(service.context).load(result.backup_id, None)
    assert_matches_seed(snapshot, seeded)
    assert BackupArchive(service.context).verify(result.backup_id, None)["encryption"] == "kms-envelope"

    # Wrong key: the manifest claims another key than the one that wrapped the data key.
    original = (folder / MANIFEST).read_text()
    tampered = json.loads(original)
    tampered["payload"]["encryption"]["kms_key_id"] = other
    (folder / MANIFEST).write_text(json.dumps(tampered))
    with pytest.raises(EncryptionError):
        BackupArchive(service.context).verify(result.backup_id, None)
    (folder / MANIFEST).write_text(original)

    kms.disable_key(KeyId=key)
    with pytest.raises(EncryptionError, match="DisabledException") as caught:
        BackupArchive(service.context).verify(result.backup_id, None)
    assert any("enable-key" in step for step in caught.value.remediation)
    kms.enable_key(KeyId=key)
    assert BackupArchive(service.context).verify(result.backup_id, None)["valid"] is True


def test_encrypting_with_a_disabled_key_writes_nothing(sandbox):
    sandbox.seed("tiny", seed=8)
    kms = sandbox.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key)
    service = BackupService(make_context())
    with pytest.raises(EncryptionError):
        service.create(BackupRequest(kms_key=key))
    assert BackupArchive(service.context).list(None)[1] == []


def test_missing_parent_folders_of_a_store_are_created_private(seeded, tmp_path):
    store = tmp_path / "a" / "b" / "backups"
    service = BackupService(make_context())
    old = os.umask(0o022)
    try:
        service.create(BackupRequest(store=str(store)))
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", store):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder

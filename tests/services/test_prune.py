"""`backup prune`: the kept set is exactly what the options say, on local and S3 stores; a write
in progress and the newest complete backup survive any options."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from awsideman.config import load_settings
from awsideman.core.backup_format import MANIFEST, PAYLOAD, add_payload_digest, make_manifest, pack_snapshot
from awsideman.core.model import Snapshot, canonical_json
from awsideman.core.retention import Candidate, RetentionError, RetentionPolicy, parse_duration
from awsideman.services.context import Context
from awsideman.services.prune import PruneService

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _id(days_ago: float, suffix: str) -> str:
    return f"bk-{(NOW - timedelta(days=days_ago)).strftime('%Y%m%dT%H%M%SZ')}-{suffix}"


# newest first: the newest is partial, so the newest complete one is the second
BACKUPS = [(0.1, "aaaaa1", True), (0.2, "aaaaa2", False), (1.0, "aaaaa3", False), (1.1, "aaaaa4", False),
           (3.0, "aaaaa5", False), (10.0, "aaaaa6", False)]


def _write(store, days_ago, suffix, partial):
    backup_id = _id(days_ago, suffix)
    payload = pack_snapshot(Snapshot())
    missing = [{"resource": "assignments", "code": "AccessDeniedException", "reason": "denied",
                "steps": ["assignments:x"], "count": 1}] if partial else []
    source = {"instance_arn": "arn:aws:sso:::instance/ssoins-1", "identity_store_id": "d-1"}
    manifest = make_manifest(backup_id=backup_id, created_at="", description=None, source=source, resources=["users"],
                             snapshot=Snapshot(), encryption=None, missing=missing, operation_id=None)
    add_payload_digest(manifest, payload)
    store.write(backup_id, {PAYLOAD: payload, MANIFEST: canonical_json(manifest)})
    return backup_id


def test_policy_rules_keep_exactly_what_they_say():
    backups = [Candidate(_id(d, s), NOW - timedelta(days=d), p) for d, s, p in BACKUPS]
    ids = [b.backup_id for b in backups]
    keep = RetentionPolicy.from_options(keep_last=1).decide(backups, NOW)
    assert set(keep) == {ids[0], ids[1]}  # newest, and newest complete though keep-last is 1
    assert set(RetentionPolicy.from_options(keep_within="1d").decide(backups, NOW)) == set(ids[:3])
    assert set(RetentionPolicy.from_options(keep_daily=2).decide(backups, NOW)) == {ids[0], ids[1], ids[2]}
    both = RetentionPolicy.from_options(keep_last=3, keep_daily=3).decide(backups, NOW)
    assert set(both) == {ids[0], ids[1], ids[2], ids[4]}
    assert parse_duration("1d12h") == timedelta(hours=36)
    for bad in ({}, {"keep_last": 0}, {"keep_within": "soon"}, {"keep_daily": True}):
        with pytest.raises(RetentionError):
            RetentionPolicy.from_options(**bad)


def _prune_everything_possible(context, store_url, store):
    ids = [_write(store, d, s, p) for d, s, p in BACKUPS]
    service = PruneService(context, now=NOW)
    policy = RetentionPolicy.from_options(keep_last=1)
    dry = service.run(store_url, policy, dry_run=True)
    assert sorted(e["backup_id"] for e in dry.deleted) == sorted(ids[2:]) and store.list_ids() == sorted(ids)
    done = service.run(store_url, policy, dry_run=False)
    assert sorted(e["backup_id"] for e in done.deleted) == sorted(ids[2:])
    assert store.list_ids() == sorted(ids[:2])
    return ids


def test_local_store_keeps_the_newest_complete_and_writes_in_progress(tmp_path):
    settings = dataclasses.replace(load_settings(), home=tmp_path / "home")
    context = Context(settings)
    store_url = str(tmp_path / "store")
    store = context.store(store_url)
    staging = tmp_path / "store" / ".tmp-bk-20261128T115900Z-zzzzzz-abc"
    staging.mkdir(parents=True)
    (staging / PAYLOAD).write_bytes(b"half")
    _prune_everything_possible(context, store_url, store)
    assert staging.exists()
    context.close()


def test_s3_store_and_a_backup_a_running_operation_is_writing(sandbox):
    sandbox.client("s3").create_bucket(Bucket="prune-me")
    context = Context(load_settings())
    store_url = "s3://prune-me/nightly"
    store = context.store(store_url)
    s3 = sandbox.client("s3")
    s3.put_object(Bucket="prune-me", Key=f"nightly/{_id(20, 'zzzzz1')}/{PAYLOAD}", Body=b"half")  # no manifest yet
    ids = _prune_everything_possible(context, store_url, store)
    assert s3.list_objects_v2(Bucket="prune-me", Prefix=f"nightly/{_id(20, 'zzzzz1')}/")["KeyCount"] == 1
    # an old backup whose operation is still running (manifest written, operation not finished)
    writing = _write(store, 30, "zzzzz2", False)
    op = context.journal.start_operation("backup", {})
    context.journal.record_backup_id(op.id, writing)
    result = PruneService(context, now=NOW).run(store_url, RetentionPolicy.from_options(keep_last=1), dry_run=False)
    assert result.deleted == [] and writing in store.list_ids()
    assert set(store.list_ids()) == {ids[0], ids[1], writing}
    context.close()

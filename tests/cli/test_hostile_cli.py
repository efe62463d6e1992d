"""End to end: the installed executable on hostile stores, devices and URLs (no emulator needed)."""

from __future__ import annotations

import json
import os
import resource
import subprocess

import pytest

from awsideman.adapters.storage import LocalStore
from awsideman.core.backup_format import MANIFEST, PAYLOAD, add_payload_digest, make_manifest, pack_snapshot
from awsideman.core.model import Snapshot, canonical_json
from tests.helpers import awsideman_command

pytestmark = pytest.mark.e2e

GOOD = "bk-20260101T000000Z-aaaaaa"
DAMAGED = "bk-20260102T000000Z-bbbbbb"
LINKED = "bk-20260103T000000Z-cccccc"


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    return {"PATH": os.environ["PATH"], "AWSIDEMAN_HOME": str(home), "NO_COLOR": "1",
            "AWS_DEFAULT_REGION": "us-east-1"}


def _run(env, *args):
    def one_gib():  # the memory a test may use, for the whole process
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    return subprocess.run([*awsideman_command(), *args], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, preexec_fn=one_gib)


def _store_with_good_and_damaged(root):
    snapshot = Snapshot()
    payload = pack_snapshot(snapshot)
    manifest = make_manifest(backup_id=GOOD, created_at="2026-01-01T00:00:00Z", description="good",
                             source={"instance_arn": "arn:aws:sso:::instance/ssoins-1", "identity_store_id": "d-1"},
                             resources=["users"], snapshot=snapshot, encryption=None, missing=[], operation_id=None)
    LocalStore(root).write(GOOD, {PAYLOAD: payload, MANIFEST: canonical_json(add_payload_digest(manifest, payload))})
    (root / DAMAGED).mkdir()
    (root / DAMAGED / MANIFEST).write_text(json.dumps({"format_version": 1, "counts": "lots"}))
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / MANIFEST).write_text("{}")
    (root / LINKED).symlink_to(outside)


def test_backup_list_shows_damaged_backups_beside_the_good_one_and_exits_0(env, tmp_path):
    store = tmp_path / "store"
    _store_with_good_and_damaged(store)
    listed = _run(env, "backup", "list", "--store", str(store), "-o", "json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["backup_id"]: row for row in json.loads(listed.stdout)["backups"]}
    assert rows[GOOD]["description"] == "good" and "error" not in rows[GOOD]
    assert rows[DAMAGED]["status"] == "damaged" and "counts: expected object, got string" in rows[DAMAGED]["error"]
    assert "symbolic link" in rows[LINKED]["error"]


def test_store_urls_and_files_are_checked_before_anything_is_read(env, tmp_path):
    remote = _run(env, "backup", "list", "--store", "file://fileserver/backups")
    assert remote.returncode == 2 and "not a local folder" in remote.stderr
    afile = tmp_path / "notes.txt"
    afile.write_text("")
    created = _run(env, "backup", "create", "--store", str(afile))
    assert created.returncode == 2 and "is a file, not a folder" in created.stderr


def test_analyze_error_reads_a_device_within_its_limit(env, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("limits:\n  text_mib: 2\n")
    env = dict(env, AWSIDEMAN_CONFIG=str(config))
    endless = _run(env, "analyze-error", "--file", "/dev/zero")
    assert endless.returncode == 2 and "longer than the limit of 2 MiB (limits.text_mib)" in endless.stderr

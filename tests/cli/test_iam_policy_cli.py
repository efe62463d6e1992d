"""`awsideman iam-policy`: the least-privilege policy for this setup, through the installed executable."""

from __future__ import annotations

import json
import os

from tests.helpers import run_cli

INSTANCE = "arn:aws:sso:::instance/ssoins-c3fgwhhoyq3uttuh"


def env(tmp_path, **extra):
    home = tmp_path / "home"
    kept = {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}  # the package under test
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWSIDEMAN_HOME": str(home), **kept, **extra}


def statements(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {s["Sid"]: s for s in json.loads(proc.stdout)["Statement"]}


def test_a_rollback_policy_is_narrowed_to_the_instance_and_needs_no_store(tmp_path):
    found = statements(run_cli(env(tmp_path), "iam-policy", "--for", "rollback", "--instance", INSTANCE))
    assert found["IdentityCenterDiscovery"]["Action"] == ["sso:ListInstances"]
    instance = found["IdentityCenterInstance"]
    assert "sso:DeleteAccountAssignment" in instance["Action"] and "sso:ListInstances" not in instance["Action"]
    assert instance["Resource"] == ["arn:aws:sso:::account/*", INSTANCE,
                                    "arn:aws:sso:::permissionSet/ssoins-c3fgwhhoyq3uttuh/*"]
    assert not {"BackupObjects", "BackupBucketListing", "BackupEncryptionKey"} & set(found)  # reads no backup


def test_the_configured_store_key_and_state_narrow_a_backup_policy(tmp_path):
    config = tmp_path / "home" / "config.yaml"
    config.parent.mkdir()
    config.write_text("store: s3://team-backups/idc\nstate: dynamodb://awsideman-state\nregion: eu-west-1\n"
                      "kms_key: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\n")
    found = statements(run_cli(env(tmp_path), "iam-policy", "--for", "backup"))
    assert found["BackupObjects"]["Resource"] == ["arn:aws:s3:::team-backups/idc/*"]
    assert found["BackupObjects"]["Action"] == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert found["BackupEncryptionKey"]["Resource"] == [
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
    # The table's account is not known (the key's may differ): a wildcard, not a guess.
    assert found["SharedStateTable"]["Resource"] == ["arn:aws:dynamodb:eu-west-1:*:table/awsideman-state"]
    local = statements(run_cli(env(tmp_path), "iam-policy", "--for", "backup", "--store", str(tmp_path / "b"),
                               "--state", "local"))
    assert not {"BackupObjects", "SharedStateTable"} & set(local)  # a local store and journal need no AWS


def test_bad_choices_are_refused_with_exit_2(tmp_path):
    for args, said in ((["--for", "everything"], "--for must be one of"), (["--instance", "x"], "not an Identity")):
        proc = run_cli(env(tmp_path), "iam-policy", *args)
        assert proc.returncode == 2 and said in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_notification_topics_and_cloudwatch_are_in_the_policy_only_when_configured(tmp_path):
    plain = statements(run_cli(env(tmp_path), "iam-policy", "--for", "restore"))
    assert not {"Notifications", "Metrics"} & set(plain)
    config = tmp_path / "home" / "config.yaml"
    config.parent.mkdir(exist_ok=True)
    topic = "arn:aws:sns:eu-west-1:111122223333:awsideman-alerts"
    config.write_text(f"notify:\n  - url: sns://{topic}\n  - url: https://hooks.example.com/x\n"
                      "metrics:\n  cloudwatch: {namespace: awsideman}\n")
    for command in ("backup", "restore", "rollback"):
        found = statements(run_cli(env(tmp_path), "iam-policy", "--for", command))
        assert found["Notifications"]["Action"] == ["sns:Publish"]
        assert found["Notifications"]["Resource"] == [topic]  # the configured topic, nothing wider
        assert found["Metrics"]["Action"] == ["cloudwatch:PutMetricData"]

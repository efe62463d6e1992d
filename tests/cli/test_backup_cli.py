"""End to end: the real `awsideman` executable against the served emulator."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import cli_json, run_cli, run_in_process

pytestmark = pytest.mark.e2e  # drives the real executable


@pytest.fixture
def env(served_sandbox):
    served_sandbox.seed("tiny", seed=11)
    return served_sandbox.env


def test_create_list_show_verify_delete(env):
    created = run_cli(env, "-o", "json", "backup", "create", "--description", "e2e")
    assert created.returncode == 0, created.stderr
    result = cli_json(created)
    assert result["status"] == "succeeded" and result["operation_id"].startswith("op-")
    backup_id = result["backup_id"]
    assert result["counts"]["users"] == 5 and result["errors"] == []

    listed = cli_json(run_cli(env, "backup", "list", "-o", "json"))
    assert [b["backup_id"] for b in listed["backups"]] == [backup_id]

    shown = run_cli(env, "--no-color", "backup", "show", backup_id)
    assert shown.returncode == 0 and backup_id in shown.stdout and "e2e" in shown.stdout

    verified = run_cli(env, "backup", "verify", backup_id, "-o", "json")
    assert verified.returncode == 0 and cli_json(verified)["valid"] is True

    refused = run_cli(env, "backup", "delete", backup_id)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    deleted = run_cli(env, "backup", "delete", backup_id, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert cli_json(run_cli(env, "-o", "json", "backup", "list"))["backups"] == []


def test_text_output_and_json_purity(env):
    text = run_cli(env, "backup", "create")
    assert text.returncode == 0, text.stderr
    assert "Backup written: bk-" in text.stdout
    quiet = run_cli(env, "--quiet", "-o", "json", "backup", "create")
    json.loads(quiet.stdout)  # exactly one document, nothing else on stdout


@pytest.mark.parametrize("args, words", [
    (("backup", "show", "../../x"), "Invalid"),
    (("backup", "verify", "bk-20260101T000000Z-abcdef"), "No backup"),
    (("backup", "create", "--resources", "users,wat"), "--resources"),
    (("-o", "yaml", "backup", "list"), "--output"),
    (("backup", "create", "--store", "ftp://host/x"), "unsupported scheme"),
    (("backup", "create", "--nope"), "No such option"),
    (("backup", "show"), "Missing argument"),
    (("backup",), "Usage: awsideman backup"),
])
def test_bad_input_exits_2_with_a_clear_message(env, args, words, monkeypatch, capsys):
    # the exit code and the message come from cli.entry.main (the executable's entry point): run it
    # in this process, ~1 s less per case (test_resume_partial and the JSON contract start the
    # executable with bad input)
    proc = run_in_process(monkeypatch, capsys, env, *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert words.lower() in (proc.stderr + proc.stdout).lower()  # typer renders help itself
    assert "Traceback" not in proc.stderr


def test_verify_of_a_corrupt_backup_exits_1(env):
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    payload = os.path.join(env["AWSIDEMAN_HOME"], "backups", backup_id, "snapshot.json.gz")
    with open(payload, "r+b") as handle:
        handle.truncate(10)
    proc = run_cli(env, "backup", "verify", backup_id)
    assert proc.returncode == 1 and "truncated" in proc.stderr
    as_json = run_cli(env, "-o", "json", "backup", "verify", backup_id)
    assert as_json.returncode == 1
    assert cli_json(as_json)["errors"][0]["code"] == "CorruptBackup"


def test_bad_config_names_file_and_key(env, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("concurrency: many\n")
    proc = run_cli(env, "--config", str(config), "backup", "list")
    assert proc.returncode == 2 and str(config) in proc.stderr and "concurrency" in proc.stderr
    config.write_text("retry: {max_retries: -1}\n")
    proc = run_cli(env, "--config", str(config), "backup", "list")
    assert proc.returncode == 2 and "retry" in proc.stderr
    config.write_text("colour: blue\n")
    proc = run_cli(env, "--config", str(config), "backup", "list")
    assert proc.returncode == 2 and "colour" in proc.stderr
    config.write_text("store: [unclosed\n")
    proc = run_cli(env, "--config", str(config), "backup", "list")
    assert proc.returncode == 2 and "YAML" in proc.stderr


def test_missing_region_and_credentials_say_what_to_set(env):
    no_region = {k: v for k, v in env.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    proc = run_cli(no_region, "backup", "create")
    assert proc.returncode == 2 and "AWS_REGION" in proc.stderr and "Traceback" not in proc.stderr
    no_creds = {k: v for k, v in env.items() if not k.startswith("AWS_") or k in ("AWS_REGION", "AWS_ENDPOINT_URL")}
    no_creds.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
                    AWS_EC2_METADATA_DISABLED="true")
    proc = run_cli(no_creds, "backup", "create")
    assert proc.returncode == 2, proc.stderr
    assert "credentials" in proc.stderr.lower() and "Traceback" not in proc.stderr


def test_unknown_profile_is_a_config_error(env):
    proc = run_cli(env, "--profile", "nope-not-here", "backup", "create")
    assert proc.returncode == 2 and "nope-not-here" in proc.stderr


def test_corrupt_journal_is_a_clear_error_and_is_kept(env):
    journal = os.path.join(env["AWSIDEMAN_HOME"], "state.db")
    with open(journal, "wb") as handle:
        handle.write(b"this is not a database" * 100)
    for args in (("backup", "create"), ("report", "list")):
        proc = run_cli(env, *args)
        assert proc.returncode == 1, proc.stderr
        assert "state.db" in proc.stderr and "Traceback" not in proc.stderr
    with open(journal, "rb") as handle:
        assert handle.read(22) == b"this is not a database"  # never silently reset


def test_debug_logs_requests_and_retries_but_never_credentials(served_sandbox, env):
    secret_env = dict(env, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
                      AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                      AWS_SESSION_TOKEN="IQoJb3JpZ2luX2VjEXAMPLETOKENxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    served_sandbox.set_faults({"seed": 1, "rules": [{"operation": "ListPermissionSets", "server_error": 0.7}]})
    proc = run_cli(secret_env, "--debug", "backup", "create")
    assert proc.returncode == 0, proc.stderr
    assert "request sso-admin:ListPermissionSets" in proc.stderr
    assert "retrying sso-admin:ListPermissionSets" in proc.stderr
    everything = proc.stdout + proc.stderr
    for secret in ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "IQoJb3JpZ2lu"):
        assert secret not in everything
    quiet = run_cli(secret_env, "backup", "create")
    assert "request sso-admin" not in quiet.stderr


def test_s3_store_with_client_side_encryption_end_to_end(served_sandbox, env):
    served_sandbox.client("s3").create_bucket(Bucket="org-backups")
    key = served_sandbox.client("kms").create_key()["KeyMetadata"]["Arn"]
    store = "s3://org-backups/idc"
    created = run_cli(env, "-o", "json", "backup", "create", "--store", store, "--kms-key", key)
    assert created.returncode == 0, created.stderr
    backup_id = cli_json(created)["backup_id"]
    shown = cli_json(run_cli(env, "-o", "json", "backup", "show", backup_id, "--store", store))
    assert shown["payload"]["encryption"]["type"] == "kms-envelope"
    assert cli_json(run_cli(env, "-o", "json", "backup", "verify", backup_id, "--store", store))["valid"]
    served_sandbox.client("kms").disable_key(KeyId=key)
    refused = run_cli(env, "backup", "verify", backup_id, "--store", store)
    assert refused.returncode == 1 and "DisabledException" in refused.stderr and "enable-key" in refused.stderr
    missing = run_cli(env, "backup", "list", "--store", "s3://no-such-bucket")
    assert missing.returncode == 1 and "does not exist" in missing.stderr

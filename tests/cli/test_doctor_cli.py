"""`awsideman doctor` through the installed executable against a served sandbox."""

from __future__ import annotations

import pytest

from tests.cli.test_preflight_cli import _as_principal
from tests.helpers import cli_json, run_cli

pytestmark = pytest.mark.e2e


def test_doctor_passes_for_an_unrestricted_principal(served_sandbox):
    served = served_sandbox
    served.seed("tiny", seed=81)
    env = _as_principal(served, "admin")
    served.reset_counters()
    proc = run_cli(env, "-o", "json", "doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = {c["name"]: c for c in cli_json(proc)["checks"]}
    assert {name for name, c in checks.items() if c["status"] != "pass"} == {"kms"}, checks
    assert checks["kms"]["status"] == "skipped"  # no kms_key configured: nothing to check
    assert {"credentials", "region", "clock", "instance", "store", "state", "permissions: backup",
            "permissions: restore", "permissions: rollback"} <= set(checks)
    mutating = [k for k in served.counters() if k.split(":")[1].startswith(("Create", "Delete", "Update", "Put"))]
    assert mutating == []  # it changes nothing


def test_doctor_names_exactly_the_missing_actions_of_a_restricted_principal(served_sandbox):
    served = served_sandbox
    served.seed("tiny", seed=82)
    env = _as_principal(served, "restricted", "sso:DeleteAccountAssignment", "identitystore:DeleteUser")
    proc = run_cli(env, "-o", "json", "doctor", "--for", "restore")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    checks = {c["name"]: c for c in cli_json(proc)["checks"]}
    failed = checks["permissions: restore"]
    assert failed["status"] == "fail"
    assert failed["detail"] == "2 action(s) denied: identitystore:DeleteUser, sso:DeleteAccountAssignment"
    assert "awsideman iam-policy --for restore" in " ".join(failed["fix"])
    assert "permissions: backup" not in checks
    backup = run_cli(env, "-o", "json", "doctor", "--for", "backup")
    assert backup.returncode == 0, backup.stdout
    text = run_cli(env, "--no-color", "doctor", "--for", "restore")
    assert text.returncode == 1 and "sso:DeleteAccountAssignment" in text.stdout and "Something blocks" in text.stdout


def test_doctor_refuses_an_unknown_command(served_sandbox):
    proc = run_cli(served_sandbox.env, "doctor", "--for", "everything")
    assert proc.returncode == 2 and "--for must be one of" in proc.stderr, proc.stderr


def test_doctor_checks_the_configured_kms_key_is_enabled(served_sandbox):
    served = served_sandbox
    served.seed("tiny", seed=83)
    kms = served.client("kms")
    key = kms.create_key(Description="backups")["KeyMetadata"]["KeyId"]
    env = dict(_as_principal(served, "keyed"), AWSIDEMAN_KMS_KEY=key)
    checks = {c["name"]: c for c in cli_json(run_cli(env, "-o", "json", "doctor", "--for", "backup"))["checks"]}
    assert checks["kms"]["status"] == "pass" and checks["permissions: backup"]["status"] == "pass"
    kms.disable_key(KeyId=key)
    proc = run_cli(env, "-o", "json", "doctor", "--for", "backup")
    assert proc.returncode == 1
    kms_check = {c["name"]: c for c in cli_json(proc)["checks"]}["kms"]
    assert kms_check["status"] == "fail" and "Disabled" in kms_check["detail"] and "enable-key" in kms_check["fix"][0]
    plain = run_cli(_as_principal(served, "plain"), "-o", "json", "doctor", "--for", "backup")
    assert {c["name"]: c for c in cli_json(plain)["checks"]}["kms"]["status"] == "skipped"

"""`awsideman sandbox run`: the README's main job, end to end."""

from __future__ import annotations

import os

import pytest

from tests.helpers import run_cli

pytestmark = pytest.mark.e2e  # drives the real executable


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS")}
    env["AWSIDEMAN_HOME"] = str(tmp_path / "home")
    return env


def test_run_backs_up_a_seeded_sandbox_and_passes_the_exit_code(tmp_path):
    env = _env(tmp_path)
    home = tmp_path / "rehearsal"
    ok = run_cli(env, "sandbox", "run", "--seed", "tiny", "--home", str(home), "--",
                 "awsideman", "-o", "json", "backup", "create")
    assert ok.returncode == 0, ok.stderr
    assert '"status": "succeeded"' in ok.stdout
    assert len(list((home / "backups").iterdir())) == 1
    failing = run_cli(env, "sandbox", "run", "--seed", "tiny", "--home", str(home), "--",
                      "awsideman", "backup", "verify", "bk-20260101T000000Z-abcdef")
    assert failing.returncode == 2 and "No backup" in failing.stderr


def test_run_refuses_unknown_size_and_bad_rule_file(tmp_path):
    env = _env(tmp_path)
    proc = run_cli(env, "sandbox", "run", "--seed", "enormous", "--", "true")
    assert proc.returncode == 2 and "enormous" in proc.stderr and "tiny" in proc.stderr
    rules = tmp_path / "faults.yaml"
    rules.write_text("rules:\n  - operation: '*'\n    throttle: 2\n")
    proc = run_cli(env, "sandbox", "run", "--faults", str(rules), "--", "true")
    assert proc.returncode == 2 and "throttle" in proc.stderr and "faults.yaml" in proc.stderr


def test_run_seeds_before_the_fault_rules_apply(tmp_path):
    """An async_fail rule must not eat the seeded assignments: seeding happens without rules."""
    import sys

    from awsideman.sandbox.seeder import SIZES

    rules = tmp_path / "faults.yaml"
    rules.write_text("async_seconds: 30\nrules:\n  - {operation: CreateAccountAssignment, async_fail: 1}\n")
    # Seeding writes into the emulator's backends: every seeded assignment is in place, and no
    # request the rules could fail was ever made.
    script = ("import boto3; sso = boto3.client('sso-admin'); arn = sso.list_instances()['Instances'][0]"
              "['InstanceArn']; failed = sso.list_account_assignment_creation_status(InstanceArn=arn, "
              "Filter={'Status': 'FAILED'})['AccountAssignmentsCreationStatus']; n = sum(len(sso."
              "list_account_assignments(InstanceArn=arn, AccountId=a, PermissionSetArn=p)['AccountAssignments']) "
              "for p in sso.list_permission_sets(InstanceArn=arn)['PermissionSets'] for a in sso."
              "list_accounts_for_provisioned_permission_set(InstanceArn=arn, PermissionSetArn=p)['AccountIds']); "
              "print(len(failed), n)")
    proc = run_cli(_env(tmp_path), "sandbox", "run", "--seed", "tiny", "--faults", str(rules), "--",
                   sys.executable, "-c", script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[-2] == f"0 {SIZES['tiny'].assignments}"

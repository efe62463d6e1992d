"""Preflight through the installed executable against a served sandbox: a restore proves every
write it plans, and every write undoing them, before the first one (issue 22)."""

from __future__ import annotations

import shlex

import pytest

from tests.drift import Target
from tests.helpers import cli_json, exported, run_cli

pytestmark = pytest.mark.e2e

MUTATING = ("Create", "Delete", "Update", "Put", "Attach", "Detach", "Provision", "Tag", "Untag")


def _mutating(calls: dict[str, int]) -> int:
    """Writes to the instance. The journal's own (DynamoDB, when state is shared) are not counted:
    every run is journaled, and a slow machine renews the lock's lease (UpdateItem) mid-run."""
    return sum(n for key, n in calls.items() if key.split(":", 1)[1].startswith(MUTATING)
               and not key.startswith(("iam:", "sts:", "dynamodb:")))


def _as_principal(served, name: str, *deny: str) -> dict[str, str]:
    proc = run_cli(served.env, "sandbox", "principal", "create", name, *(a for d in deny for a in ("--deny", d)))
    assert proc.returncode == 0, proc.stderr
    env = {k: v for k, v in served.env.items() if k != "AWS_SESSION_TOKEN"}
    env.update({k: shlex.split(v)[0] for k, v in exported(proc.stdout.splitlines()).items()})
    return env


def _backup_then_lose_assignments(served, seed: int) -> str:
    served.seed("tiny", seed=seed)
    backup = cli_json(run_cli(served.env, "-o", "json", "backup", "create"))["backup_id"]
    target = Target(served.client)
    for arn in target.permission_sets().values():
        for a in target.assignments(arn)[:1]:
            target.sso.delete_account_assignment(InstanceArn=target.arn, TargetId=a["AccountId"],
                                                 TargetType="AWS_ACCOUNT", PermissionSetArn=arn,
                                                 PrincipalType=a["PrincipalType"], PrincipalId=a["PrincipalId"])
            return backup
    raise AssertionError("the seeded instance has no assignment to lose")


def _add_an_assignment(served) -> str:
    """An assignment the backup does not have: a --prune restore plans its delete."""
    target = Target(served.client)
    name, arn = sorted(target.permission_sets().items())[0]
    group = target.groups()[-1]
    account = "111111111111"
    target.sso.create_account_assignment(InstanceArn=target.arn, TargetId=account, TargetType="AWS_ACCOUNT",
                                         PermissionSetArn=arn, PrincipalType="GROUP", PrincipalId=group["GroupId"])
    return account


def test_a_denied_delete_refuses_the_restore_before_any_write_naming_action_and_resource(served_sandbox):
    served = served_sandbox
    served.seed("tiny", seed=71)
    backup = cli_json(run_cli(served.env, "-o", "json", "backup", "create"))["backup_id"]
    account = _add_an_assignment(served)
    env = _as_principal(served, "no-deletes", "sso:DeleteAccountAssignment")
    served.reset_counters()
    proc = run_cli(env, "-o", "json", "restore", backup, "--prune", "--yes")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    error = cli_json(proc)["errors"][0]
    assert error["category"] == "authorization" and error["code"] == "PreflightDenied"
    assert "sso:DeleteAccountAssignment" in error["message"]
    assert f"arn:aws:sso:::account/{account}" in error["message"] and "needed by the restore" in error["message"]
    assert any("sso:DeleteAccountAssignment" in step for step in error["remediation"])
    assert _mutating(served.counters()) == 0, served.counters()
    assert served.counters().get("iam:SimulatePrincipalPolicy", 0) >= 1


def test_a_restore_of_creates_is_refused_when_only_their_rollback_is_denied_unless_no_auto_rollback(served_sandbox):
    served = served_sandbox
    backup = _backup_then_lose_assignments(served, seed=72)
    env = _as_principal(served, "no-deletes", "sso:DeleteAccountAssignment")
    served.reset_counters()
    refused = run_cli(env, "-o", "json", "restore", backup, "--yes")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    error = cli_json(refused)["errors"][0]
    assert "sso:DeleteAccountAssignment" in error["message"] and "needed by its rollback" in error["message"]
    assert "needed by the restore" not in error["message"]
    assert any("--no-auto-rollback" in step for step in error["remediation"])
    assert _mutating(served.counters()) == 0

    done = run_cli(env, "-o", "json", "restore", backup, "--yes", "--no-auto-rollback")
    assert done.returncode == 0, done.stdout + done.stderr
    result = cli_json(done)
    assert result["status"] == "succeeded" and result["preflight"]["denied"] == []
    assert result["preflight"]["principal"] == "arn:aws:iam::123456789012:user/no-deletes"


def test_a_caller_that_may_not_simulate_goes_on_with_one_line_unless_preflight_require(served_sandbox):
    served = served_sandbox
    backup = _backup_then_lose_assignments(served, seed=73)
    env = _as_principal(served, "no-simulate", "iam:SimulatePrincipalPolicy")
    served.set_faults({"rules": [{"operation": "iam:SimulatePrincipalPolicy", "fail_after": 0,
                                  "error": "AccessDeniedException"}]})  # the sandbox simulates, it does not enforce
    served.reset_counters()
    required = run_cli(env, "-o", "json", "restore", backup, "--yes", "--preflight", "require")
    assert required.returncode == 1, required.stdout + required.stderr
    assert "could not verify" in cli_json(required)["errors"][0]["message"]
    assert _mutating(served.counters()) == 0

    text = run_cli(env, "--no-color", "restore", backup, "--yes")
    assert text.returncode == 0, text.stdout + text.stderr
    said = text.stdout + text.stderr
    assert said.count("Preflight could not verify the permissions") == 1, said
    assert _mutating(served.counters()) > 0


def test_a_dry_run_shows_the_preflight_and_an_unrestricted_caller_passes(served_sandbox):
    served = served_sandbox
    backup = _backup_then_lose_assignments(served, seed=74)
    env = _as_principal(served, "admin")
    dry = cli_json(run_cli(env, "-o", "json", "restore", backup, "--dry-run"))
    assert dry["preflight"]["verified"] and dry["preflight"]["denied"] == [] and dry["preflight"]["checked"] > 0
    denied_env = _as_principal(served, "viewer", "sso:CreateAccountAssignment")
    shown = run_cli(denied_env, "-o", "json", "restore", backup, "--dry-run")
    assert shown.returncode == 0  # a dry run shows the denial, it does not refuse
    assert {d["action"] for d in cli_json(shown)["preflight"]["denied"]} == {"sso:CreateAccountAssignment"}
    text = run_cli(denied_env, "--no-color", "restore", backup, "--dry-run")
    assert "denied: sso:CreateAccountAssignment on arn:aws:sso:::" in text.stdout + text.stderr


def test_an_assignment_in_an_account_outside_the_organization_is_refused_before_any_write(served_sandbox):
    served = served_sandbox
    served.seed("tiny", seed=75)
    target = Target(served.client)
    name, arn = sorted(target.permission_sets().items())[0]
    group = target.groups()[0]
    outside = "222222222222"  # the seeder's accounts are in the organization; this one is not
    assignment = {"InstanceArn": target.arn, "TargetId": outside, "TargetType": "AWS_ACCOUNT",
                  "PermissionSetArn": arn, "PrincipalType": "GROUP", "PrincipalId": group["GroupId"]}
    target.sso.create_account_assignment(**assignment)
    backup = cli_json(run_cli(served.env, "-o", "json", "backup", "create"))["backup_id"]
    target.sso.delete_account_assignment(**assignment)
    served.reset_counters()
    proc = run_cli(served.env, "-o", "json", "restore", backup, "--yes")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    error = cli_json(proc)["errors"][0]
    assert error["code"] == "UnknownAccount" and error["category"] == "resource_not_found"
    assert outside in error["message"] and f"assignment:{outside}/{name}" in error["message"]
    assert _mutating(served.counters()) == 0 and served.counters().get("organizations:ListAccounts") == 1
    dry = cli_json(run_cli(served.env, "-o", "json", "restore", backup, "--dry-run"))
    assert dry["preflight"]["accounts"] == f"1 target account(s) are not in the organization: {outside}."


def test_with_shared_state_the_journal_writes_are_proved_too(served_sandbox):
    from tests.cli.test_shared_state_cli import machines

    served = served_sandbox
    a, _ = machines(served)
    served.seed("tiny", seed=76)
    backup = cli_json(run_cli(a, "-o", "json", "backup", "create"))["backup_id"]
    target = Target(served.client)
    name, arn = sorted(target.permission_sets().items())[0]
    for assignment in target.assignments(arn)[:1]:
        target.sso.delete_account_assignment(InstanceArn=target.arn, TargetId=assignment["AccountId"],
                                             TargetType="AWS_ACCOUNT", PermissionSetArn=arn,
                                             PrincipalType=assignment["PrincipalType"],
                                             PrincipalId=assignment["PrincipalId"])
    env = {**_as_principal(served, "no-checks", "dynamodb:ConditionCheckItem"),
           **{k: v for k, v in a.items() if k.startswith("AWSIDEMAN_")}}
    served.reset_counters()
    proc = run_cli(env, "-o", "json", "restore", backup, "--yes")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    message = cli_json(proc)["errors"][0]["message"]
    assert "dynamodb:ConditionCheckItem" in message and "needed by the shared journal" in message
    assert _mutating(served.counters()) == 0

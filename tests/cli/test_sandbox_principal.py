"""`awsideman sandbox principal create` through the installed executable against a served sandbox."""

from __future__ import annotations

import json
import shlex
import subprocess

import boto3
import pytest

from tests.helpers import awsideman_command, exported, run_cli

pytestmark = pytest.mark.e2e  # drives the real executable

DENIED = ("sso:CreateAccountAssignment", "identitystore:Delete*")


def _as(env: dict[str, str], name: str):
    """A client built only from the variables the command printed (and the sandbox's endpoint)."""
    session = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
    return session.client(name, endpoint_url=env["AWS_ENDPOINT_URL"])


def test_create_prints_exports_that_make_the_caller_the_restricted_user(served_sandbox):
    env = served_sandbox.env
    proc = run_cli(env, "sandbox", "principal", "create", "ops", *(a for d in DENIED for a in ("--deny", d)))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines[:2]] == ["export AWS_ACCESS_KEY_ID", "export AWS_SECRET_ACCESS_KEY"]
    assert "unset AWS_SESSION_TOKEN" in lines and "REDACTED" not in proc.stdout
    printed = {k: shlex.split(v)[0] for k, v in exported(lines).items()}
    caller = dict(printed, AWS_ENDPOINT_URL=served_sandbox.endpoint_url)
    arn = _as(caller, "sts").get_caller_identity()["Arn"]
    assert arn == "arn:aws:iam::123456789012:user/ops"
    results = _as(caller, "iam").simulate_principal_policy(PolicySourceArn=arn, ActionNames=[
        "sso:CreateAccountAssignment", "identitystore:DeleteUser", "sso:ProvisionPermissionSet"])["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["explicitDeny", "explicitDeny", "allowed"]


def test_the_exports_work_through_eval_in_a_shell(served_sandbox):
    """What the help says to do: eval the output, then the next command runs as the user."""
    command = shlex.join([*awsideman_command(), "sandbox", "principal", "create", "evaluated",
                          "--deny", "sso:DeleteAccountAssignment"])
    script = f'eval "$({command})" && env | grep -c "^AWS_SESSION_TOKEN=" ; echo "$AWS_ACCESS_KEY_ID"'
    proc = subprocess.run(["sh", "-c", script], env=served_sandbox.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    count, key = proc.stdout.split()
    assert count == "0" and key.startswith("AKIA")
    users = served_sandbox.client("iam").list_users()["Users"]
    assert any(u["UserName"] == "evaluated" for u in users)


def test_json_output_carries_the_credentials_and_the_policy_it_made(served_sandbox):
    proc = run_cli(served_sandbox.env, "-o", "json", "sandbox", "principal", "create", "scripted",
                   "--allow", "sso:*", "--deny", "sso:Delete*")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["user_arn"] == "arn:aws:iam::123456789012:user/scripted"
    assert (document["allowed"], document["denied"]) == (["sso:*"], ["sso:Delete*"])
    caller = dict(document["env"], AWS_ENDPOINT_URL=served_sandbox.endpoint_url)
    results = _as(caller, "iam").simulate_principal_policy(PolicySourceArn=document["user_arn"], ActionNames=[
        "sso:ListInstances", "sso:DeleteAccountAssignment", "identitystore:ListUsers"])["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "explicitDeny", "implicitDeny"]


def test_bad_input_is_a_usage_error_and_no_sandbox_is_exit_1(served_sandbox, tmp_path):
    env = served_sandbox.env
    assert run_cli(env, "sandbox", "principal", "create", "ops").returncode == 0
    taken = run_cli(env, "sandbox", "principal", "create", "ops")
    assert taken.returncode == 2 and "already exists" in taken.stderr and taken.stdout == ""
    bad = run_cli(env, "sandbox", "principal", "create", "other", "--deny", "CreateUser")
    assert bad.returncode == 2 and "'CreateUser'" in bad.stderr
    nowhere = run_cli(dict(env, AWS_ENDPOINT_URL="http://127.0.0.1:9"), "sandbox", "principal", "create", "x")
    assert nowhere.returncode == 1 and "sandbox up" in nowhere.stderr and nowhere.stdout == ""

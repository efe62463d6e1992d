"""`awsideman sandbox`: `up` as a real process, and reset/faults/counters against a served sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from awsideman.cli.app import main
from awsideman.sandbox.pytest_plugin import clean_environ
from awsideman.sandbox.seeder import SIZES
from tests.helpers import exported, read_until_summary

NO_RETRY = Config(retries={"total_max_attempts": 1})


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the real app in-process; (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def sandbox_up(tmp_path: Path):
    """Start `python -m awsideman sandbox up` as a real process; yields a starter."""
    processes: list[subprocess.Popen] = []

    def start(*args: str) -> tuple[subprocess.Popen, list[str]]:
        env = clean_environ(os.environ, {"NO_COLOR": "1"}, tmp_path)
        process = subprocess.Popen([sys.executable, "-m", "awsideman", "sandbox", "up", "--port", "0", *args],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        return process, read_until_summary(process)

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def client_from(env: dict[str, str], name: str):
    """A boto3 client configured only from the printed variables."""
    session = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=env["AWS_SESSION_TOKEN"], region_name=env["AWS_REGION"])
    return session.client(name, endpoint_url=env["AWS_ENDPOINT_URL"], config=NO_RETRY)


@pytest.mark.e2e
def test_up_seeds_prints_env_and_stops_on_sigterm(sandbox_up, tmp_path: Path) -> None:
    process, lines = sandbox_up("--seed", "tiny", "--seed-value", "3")
    env = exported(lines)
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert "unset AWS_PROFILE AWS_DEFAULT_PROFILE" in lines
    assert f"{SIZES['tiny'].users} users" in lines[-1]

    # another process configured only by the printed lines
    script = ("import boto3; sso = boto3.client('sso-admin'); i = sso.list_instances()['Instances'][0];"
              "print(len(boto3.client('identitystore').list_users(IdentityStoreId=i['IdentityStoreId'])['Users']))")
    child_env = clean_environ(os.environ, env, tmp_path)
    done = subprocess.run([sys.executable, "-c", script], env=child_env, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == str(SIZES["tiny"].users), done.stderr

    # seeding is not counted; the child's two calls are
    counted = subprocess.run([sys.executable, "-m", "awsideman", "sandbox", "counters", "-o", "json",
                              "--endpoint", env["AWS_ENDPOINT_URL"]], env=child_env, capture_output=True,
                             text=True, timeout=60)
    assert json.loads(counted.stdout)["calls"] == {"sso-admin:ListInstances": 1, "identitystore:ListUsers": 1}

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert "Sandbox stopped." in process.stderr.read()


@pytest.mark.e2e
def test_up_with_a_fault_file(sandbox_up, tmp_path: Path) -> None:
    rules = tmp_path / "faults.yaml"
    rules.write_text("rules:\n  - operation: sso-admin:ListInstances\n    fail_after: 1\n"
                     "    error: AccessDeniedException\n")
    process, lines = sandbox_up("--faults", str(rules))
    assert "faults from" in lines[-1]
    sso = client_from(exported(lines), "sso-admin")
    sso.list_instances()
    with pytest.raises(ClientError, match="AccessDeniedException"):
        sso.list_instances()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--seed", "enormous"], "--seed: unknown size 'enormous'; choose one of tiny, small, large, huge"),
    (["--faults", "{bad}"], "--faults: faults.yaml: rules[0].reset: must be a number between 0 and 1"),
    (["--faults", "{missing}"], "--faults: missing.yaml: cannot read fault rules"),
])
def test_up_rejects_bad_input_with_exit_2(capsys, tmp_path: Path, args: list[str], message: str) -> None:
    bad = tmp_path / "faults.yaml"
    bad.write_text("rules:\n  - reset: 2\n")
    args = [a.format(bad=bad, missing=tmp_path / "missing.yaml") for a in args]
    code, out, err = run_cli(capsys, "sandbox", "up", "--port", "0", *args)
    assert code == 2
    assert message in " ".join(err.split())
    assert out == ""


def test_faults_counters_reset_against_a_served_sandbox(served_sandbox, capsys, monkeypatch,
                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", served_sandbox.endpoint_url)  # the default --endpoint
    result = served_sandbox.seed("tiny")
    served_sandbox.reset_counters()
    rules = tmp_path / "faults.yaml"
    rules.write_text("seed: 5\nrules:\n  - {operation: ListUsers, throttle: 1}\n")
    code, out, _ = run_cli(capsys, "sandbox", "faults", str(rules))
    assert code == 0 and "1 rules" in out
    ids = served_sandbox.client("identitystore", config=NO_RETRY)
    with pytest.raises(ClientError, match="ThrottlingException"):
        ids.list_users(IdentityStoreId=result.identity_store_id)

    code, out, _ = run_cli(capsys, "sandbox", "counters", "-o", "json")
    assert json.loads(out) == {"endpoint_url": served_sandbox.endpoint_url,
                               "calls": {"identitystore:ListUsers": 1},
                               "faults": {"identitystore:ListUsers:throttle": 1}}
    code, out, _ = run_cli(capsys, "--no-color", "sandbox", "counters")
    assert "identitystore:ListUsers" in out and "throttle 1" in out

    code, out, _ = run_cli(capsys, "sandbox", "reset", "--clear-faults", "--endpoint", served_sandbox.endpoint_url)
    assert code == 0 and "reset" in out
    assert ids.list_users(IdentityStoreId=result.identity_store_id)["Users"] == []
    assert served_sandbox.counters() == {"identitystore:ListUsers": 1}


def test_faults_command_validates_the_file_first(served_sandbox, capsys, tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - {operation: 'List*'}\n")
    code, _, err = run_cli(capsys, "sandbox", "faults", str(bad), "--endpoint", served_sandbox.endpoint_url)
    assert code == 2
    assert "rules.yaml: rules[0].operation: unknown operation pattern 'List*'" in " ".join(err.split())


def test_commands_name_an_unreachable_endpoint(capsys) -> None:
    code, _, err = run_cli(capsys, "sandbox", "counters", "--endpoint", "http://127.0.0.1:9")
    assert code == 1
    assert "no sandbox answering at http://127.0.0.1:9" in err
    assert "awsideman sandbox up" in err


def test_faults_clear_removes_the_rules_and_keeps_the_data(served_sandbox, capsys, monkeypatch,
                                                           tmp_path: Path) -> None:
    """What the demo prints to remove its injected failure: unlike `reset --clear-faults` the
    instance and its data stay, so operations journaled against it can still be resumed."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", served_sandbox.endpoint_url)
    result = served_sandbox.seed("tiny")
    rules = tmp_path / "faults.yaml"
    rules.write_text("rules:\n  - {operation: ListUsers, throttle: 1}\n")
    assert run_cli(capsys, "sandbox", "faults", str(rules))[0] == 0

    code, out, _ = run_cli(capsys, "sandbox", "faults", "--clear")
    assert code == 0 and "cleared" in out
    ids = served_sandbox.client("identitystore", config=NO_RETRY)
    users = ids.list_users(IdentityStoreId=result.identity_store_id)["Users"]  # no throttle any more
    assert sorted(u["UserName"] for u in users) == sorted(result.users)
    instances = served_sandbox.client("sso-admin").list_instances()["Instances"]
    assert [i["InstanceArn"] for i in instances] == [result.instance_arn]


@pytest.mark.parametrize("args", [[], ["{file}", "--clear"]])
def test_faults_needs_a_file_or_clear_not_both(served_sandbox, capsys, tmp_path: Path, args: list[str]) -> None:
    rules = tmp_path / "faults.yaml"
    rules.write_text("rules: []\n")
    args = [a.format(file=rules) for a in args]
    code, _, err = run_cli(capsys, "sandbox", "faults", *args, "--endpoint", served_sandbox.endpoint_url)
    assert code == 2
    assert "Name a fault rule file, or --clear" in " ".join(err.split())


def test_incident_breaks_the_same_things_on_every_sandbox_seeded_alike(served_sandbox, capsys) -> None:
    """Targets are chosen by name, so the demo's printed `sandbox incident` does on a person's own
    `sandbox up --seed tiny` what it did on the demo's emulator."""
    result = served_sandbox.seed("tiny")
    code, out, _ = run_cli(capsys, "-o", "json", "sandbox", "incident", "--endpoint", served_sandbox.endpoint_url)
    assert code == 0
    changes = json.loads(out)["changes"]
    first_group = sorted(result.groups)[0]
    assert changes[0]["what"].startswith(f"deleted group {first_group} ")
    assert changes[0]["aws_command"].startswith("aws identitystore delete-group ")
    ids = served_sandbox.client("identitystore")
    left = [g["DisplayName"] for g in ids.list_groups(IdentityStoreId=result.identity_store_id)["Groups"]]
    assert first_group not in left and len(left) == len(result.groups) - 1
    with_policy = sorted(n for n, p in result.permission_sets.items() if p.get("InlinePolicy"))
    assert f"permission set {with_policy[0]} " in changes[1]["what"]
    emptied = next(n for n in sorted(result.permission_sets) if n != with_policy[0])
    assert len(changes) > 2 and all(f"assignment of {emptied} " in c["what"] for c in changes[2:])
    sso = served_sandbox.client("sso-admin")
    arn = result.permission_set_arns[emptied]
    for account in result.accounts:
        assert sso.list_account_assignments(InstanceArn=result.instance_arn, AccountId=account,
                                            PermissionSetArn=arn)["AccountAssignments"] == []


def test_incident_on_an_empty_sandbox_or_no_sandbox_is_a_clear_error(served_sandbox, capsys) -> None:
    code, _, err = run_cli(capsys, "sandbox", "incident", "--endpoint", served_sandbox.endpoint_url)
    assert code == 1
    assert "Nothing to break" in err and "sandbox up --seed tiny" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "sandbox", "incident", "--endpoint", "http://127.0.0.1:9")
    assert code == 1 and "no sandbox answering at http://127.0.0.1:9" in err

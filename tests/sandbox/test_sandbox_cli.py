"""`awsideman sandbox`: `up` as a real process, and reset/faults/counters against a served sandbox."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from awsideman.cli.app import main
from awsideman.sandbox.pytest_plugin import clean_environ
from awsideman.sandbox.seeder import SIZES

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


def read_until_summary(process: subprocess.Popen, timeout: float = 30.0) -> list[str]:
    """stdout lines of `sandbox up` up to its `# awsideman sandbox at ...` summary."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # a thread, since select() cannot see lines already buffered by readline()
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if line.startswith("# awsideman sandbox at "):
            return seen
    process.kill()
    raise AssertionError(f"sandbox up printed no summary: {seen} / {process.stderr.read()}")


def exported(lines: list[str]) -> dict[str, str]:
    return dict(line[len("export "):].split("=", 1) for line in lines if line.startswith("export "))


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
    (["--seed", "huge"], "--seed: unknown size 'huge'; choose one of tiny, small, large"),
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

"""`awsideman demo` runs the whole story against its own emulator and exits 0; the commands it
prints, typed by hand in order against `awsideman sandbox up`, do the same."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from awsideman.sandbox.pytest_plugin import clean_environ
from tests.helpers import awsideman_command, cli_json, exported, read_until_summary, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One `awsideman -o json demo` run, shared by the tests of this module (it takes seconds)."""
    root = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS")}
    env["AWSIDEMAN_HOME"] = str(root / "home")
    proc = run_cli(env, "-o", "json", "demo", "--home", str(root / "demo"), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"home": root / "demo", **json.loads(proc.stdout)}


def by_command(steps: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [s for s in steps if s["command"].startswith(prefix)]


def test_demo_tells_the_whole_story_and_exits_0(demo):
    steps = demo["steps"]
    codes = [(" ".join(s["command"].split()[1:3]), s.get("exit_code")) for s in steps]
    assert codes == [("sandbox up", None), ("backup create", 0), ("sandbox incident", 0), ("sandbox faults", 0),
                     (f"restore {steps[1]['result']['backup_id']}", 4), ("report show", 0),
                     ("sandbox faults", 0), (f"restore {steps[1]['result']['backup_id']}", 0),
                     ("report show", 0), (f"restore {steps[1]['result']['backup_id']}", 0)]
    failed_report, clean_report = (s["result"] for s in by_command(steps, "awsideman report show"))
    assert failed_report["status"] == "rolled_back" and failed_report["failures"][0]["remediation"]
    assert clean_report["status"] == "succeeded" and clean_report["counts"]["applied"] > 0
    assert steps[-1]["result"]["changes"] == []  # the dry run after the clean restore finds nothing
    assert len(steps[2]["result"]["changes"]) >= 3  # the incident: a group, a policy, assignments


@pytest.fixture
def sandbox_up(demo, tmp_path: Path):
    """Step 1 of the demo as a person runs it (on a free port), and the environment they export."""
    setup = demo["steps"][0]
    assert setup["setup"] and setup["command"] == "awsideman sandbox up --port 4566 --seed tiny"
    argv = shlex.split(setup["command"])[1:]
    argv[argv.index("--port") + 1] = "0"
    process = subprocess.Popen([*awsideman_command(), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=clean_environ(os.environ, {"NO_COLOR": "1"}, tmp_path))
    try:
        env = clean_environ(os.environ, exported(read_until_summary(process, timeout=60)), tmp_path)
        env.update(setup["environment"])
        yield env
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_printed_commands_repeat_by_hand_in_order(demo, sandbox_up):
    """Finding 5: the demo printed `sandbox reset --clear-faults` as the way to remove its injected
    failure (typed by hand it empties the sandbox and makes a new instance: the later steps and
    `restore --resume` broke), `aws` commands with the ids of its own emulator, and `--endpoint`
    with its port. Now every command it printed after step 1, typed as printed against `sandbox
    up`, exits as it did in the demo; the last dry run plans nothing; the next commands work."""
    commands = [s["command"] for s in demo["steps"]]
    assert "awsideman sandbox faults --clear" in commands
    assert not any(c.startswith("awsideman sandbox reset") or "--endpoint" in c for c in commands)
    env = sandbox_up
    assert env["AWSIDEMAN_HOME"] == str(demo["home"])
    for step in demo["steps"][1:]:
        argv = shlex.split(step["command"])
        assert argv[0] == "awsideman", step["command"]  # runnable with what `pip install -e .` installs
        proc = run_cli(env, *argv[1:], timeout=180)
        assert proc.returncode == step["exit_code"] == step["expected_exit_code"], (
            step["command"], proc.stdout[-2000:], proc.stderr[-2000:])
    final = cli_json(run_cli(env, "-o", "json", *shlex.split(demo["steps"][-1]["command"])[1:]))
    assert final["changes"] == []

    clean, failed = _restores(env)[:2]  # newest first: the ones just made by hand
    assert (clean["status"], failed["status"]) == ("succeeded", "rolled_back")
    for op in (clean, failed):
        next_command = cli_json(run_cli(env, "-o", "json", "report", "show", op["operation_id"]))["next_command"]
        if next_command:
            proc = run_cli(env, *shlex.split(next_command)[1:])
            assert proc.returncode == 0, (next_command, proc.stderr[-2000:])
    resumed = run_cli(env, "-o", "json", "restore", "--resume", clean["operation_id"], "--yes")
    assert resumed.returncode == 0, resumed.stderr[-2000:]  # the instance is the one it restored into
    refused = run_cli(env, "restore", "--resume", failed["operation_id"], "--yes")
    assert refused.returncode == 2 and "was rolled back" in refused.stderr


def _restores(env: dict[str, str]) -> list[dict[str, Any]]:
    """The restores in the journal, newest first (`report list -o json` is a list, or an object
    holding one: issue 20 gives every list command that shape)."""
    listed = cli_json(run_cli(env, "-o", "json", "report", "list"))
    items = listed if isinstance(listed, list) else next(v for v in listed.values() if isinstance(v, list))
    return [op for op in items if op["kind"] == "restore"]

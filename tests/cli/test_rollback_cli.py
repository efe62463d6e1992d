"""`awsideman rollback` end to end: a restore with --no-auto-rollback killed with SIGKILL at
several points (one while asynchronous requests are in flight), then rolled back from its
journal; a second rollback changes nothing. Also the lock: two restores at once."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from awsideman.journal import ChangeState, Journal
from awsideman.services.restore import mutating_calls
from tests.drift import differences, drift
from tests.helpers import awsideman_command, backup_records, cli_json, live_records, paced_config, run_cli

# One kill point per path (each run costs ~30 s of CI): the rollback is killed later, with
# asynchronous requests in flight (so memberships are applied and assignments pending), the
# resume at a membership (tests/services/test_rollback_paths.py covers both paths at more points).
AT_A_MEMBERSHIP = ("identitystore:CreateGroupMembership", 5, {"latency_ms": 10})
AT_AN_ASSIGNMENT = ("sso-admin:CreateAccountAssignment", 3, {"latency_ms": 10, "async_seconds": 4})  # in flight


def _killed_restore(served, operation, at_least, faults):
    """A drifted `small` instance, its backup, and a `restore --no-auto-rollback` SIGKILLed mid-way."""
    env = served.env
    served.seed("small", seed=81)
    backup = cli_json(run_cli(env, "-o", "json", "backup", "create"))
    expected = backup_records(env, backup["backup_id"])
    drift(served.client)
    before = live_records(env)
    served.set_faults(faults)
    served.reset_counters()
    proc = subprocess.Popen([*awsideman_command(), "--config", paced_config(served.home), "restore",
                             backup["backup_id"], "--prune", "--yes", "--no-auto-rollback"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while served.counters().get(operation, 0) < at_least:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.kill()
    proc.wait(timeout=10)
    served.set_faults({"latency_ms": 1, "async_seconds": 0.05})
    killed = cli_json(run_cli(env, "-o", "json", "report", "list"))["operations"][0]
    assert killed["kind"] == "restore" and killed["status"] == "interrupted"
    return killed["operation_id"], expected, before


@pytest.mark.e2e
@pytest.mark.parametrize(("operation", "at_least", "faults"), [AT_AN_ASSIGNMENT])
def test_a_killed_restore_is_rolled_back_from_its_journal_and_twice_changes_nothing(
        served_sandbox, operation, at_least, faults):
    served, env = served_sandbox, served_sandbox.env
    op, _, before = _killed_restore(served, operation, at_least, faults)

    shown = cli_json(run_cli(env, "-o", "json", "rollback", op, "--dry-run"))
    assert shown["planned"] and shown["status"] == "planned"
    rolled = run_cli(env, "-o", "json", "rollback", op, "--yes", timeout=300)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    served.set_faults({})
    diffs = differences(live_records(env), before)
    assert not diffs, "\n".join(diffs)

    served.reset_counters()
    again = run_cli(env, "-o", "json", "rollback", op, "--yes")
    assert again.returncode == 0 and cli_json(again)["compensated"] == []
    assert mutating_calls(served.counters()) == 0
    refused = run_cli(env, "restore", "--resume", op, "--yes")  # rolled back: start a new restore instead
    assert refused.returncode == 2 and "was rolled back" in refused.stderr, refused.stderr


@pytest.mark.e2e
@pytest.mark.parametrize(("operation", "at_least", "faults"), [AT_A_MEMBERSHIP])
def test_a_killed_restore_resumes_to_the_backed_up_state_without_redoing_what_was_applied(
        served_sandbox, operation, at_least, faults):
    served, env = served_sandbox, served_sandbox.env
    op, expected, _ = _killed_restore(served, operation, at_least, faults)
    with Journal.open(Path(env["AWSIDEMAN_HOME"]) / "state.db") as journal:
        applied_before = {r.address for r in journal.changes(op) if r.state is ChangeState.APPLIED}
    assert applied_before
    resumed = run_cli(env, "-o", "json", "restore", "--resume", op, "--yes", timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    result = cli_json(resumed)
    assert result["operation_id"] == op and result["status"] == "succeeded"
    assert any(note.startswith(f"Resumed {op}") for note in result["notes"])
    assert result["applied"] and not applied_before & set(result["applied"])  # nothing applied twice
    served.set_faults({})
    diffs = differences(live_records(env), expected)
    assert not diffs, "\n".join(diffs)
    done = cli_json(run_cli(env, "-o", "json", "restore", "--resume", op, "--yes"))
    assert done["status"] == "succeeded" and "already finished" in done["notes"][0]


@pytest.mark.e2e
def test_two_restores_at_once_one_waits_or_exits_6_naming_the_holder(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=82)
    backup = cli_json(run_cli(env, "-o", "json", "backup", "create"))
    expected = backup_records(env, backup["backup_id"])
    drift(served.client)
    served.set_faults({"latency_ms": 15, "async_seconds": 6})  # the first restore holds the lock a while
    served.reset_counters()
    first = subprocess.Popen([*awsideman_command(), "-o", "json", "restore", backup["backup_id"], "--prune",
                              "--yes"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 120
    while not any(op.endswith(("CreateUser", "UpdateUser", "DeleteUser")) for op in served.counters()):
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    second = run_cli(env, "-o", "json", "restore", backup["backup_id"], "--prune", "--yes")
    assert second.returncode == 6, second.stdout + second.stderr
    waiting = run_cli(env, "-o", "json", "restore", backup["backup_id"], "--prune", "--yes",
                      "--lock-timeout", "120", timeout=300)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, out + err
    assert json.loads(out)["operation_id"] in second.stdout  # exit 6 names the holder
    assert waiting.returncode == 0, waiting.stdout + waiting.stderr
    served.set_faults({})
    diffs = differences(live_records(env), expected)
    assert not diffs, "\n".join(diffs)

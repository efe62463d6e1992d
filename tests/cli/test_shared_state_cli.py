"""Shared state end to end: two `awsideman` processes ("machine A" and "machine B", each with its
own AWSIDEMAN_HOME) and one DynamoDB table + S3 bucket in the served emulator.

- A restore running on A holds the instance: a restore from B exits 6 naming A's operation and host.
- A restore SIGKILLed on A is resumed from B to the backed-up state, then rolled back from B to the
  state before it.
- A restore paused (SIGSTOP) on A past its lease is taken over by a rollback from B; when A wakes up,
  its writes are refused and it stops (exit 6) without another change to the instance.
- A backup killed on A before its store write is finished from B out of A's checkpoints.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from awsideman.services.restore import mutating_calls
from tests.drift import differences, drift
from tests.helpers import (
    awsideman_command,
    cli_json,
    live_records,
    run_cli,
    run_cli_killed_at,
    run_in_process,
    wait_for_leases_to_expire,
)

pytestmark = pytest.mark.e2e

TABLE = "awsideman-state"
BUCKET = "team-backups"
LEASE = 3  # seconds: a killed or paused runner's lease runs out quickly in these tests


def machines(served):
    """Environments of two runners sharing the state table and an S3 backup store."""
    served.client("s3").create_bucket(Bucket=BUCKET)
    envs = []
    for name in ("a", "b"):
        home = served.home / f"machine-{name}"
        home.mkdir(mode=0o700)
        (home / "config.yaml").write_text(
            f"state_lease_seconds: {LEASE}\n"
            "rate_limit: {sso_admin_rate: 10000, identitystore_rate: 10000, burst: 10000}\n")
        envs.append(dict(served.env, AWSIDEMAN_HOME=str(home), AWSIDEMAN_STATE=f"dynamodb://{TABLE}",
                         AWSIDEMAN_STORE=f"s3://{BUCKET}/idc"))
    init = run_cli(envs[0], "-o", "json", "state", "init")
    assert init.returncode == 0, init.stdout + init.stderr
    assert cli_json(init) == {"table": TABLE, "created": True, "s3": f"s3://{BUCKET}/state", "notes": []}
    return envs


def paced_restore(served, env, backup_id):
    """A restore on machine A at the product's rates (it must last a while), no auto-rollback."""
    paced = served.home / "paced.yaml"
    paced.write_text(f"concurrency: 8\nstate_lease_seconds: {LEASE}\n")
    return subprocess.Popen([*awsideman_command(), "--config", str(paced), "-o", "json", "restore", backup_id,
                             "--prune", "--yes", "--no-auto-rollback"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def wait_for(served, proc, operation, at_least):
    deadline = time.monotonic() + 120
    while served.counters().get(operation, 0) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)


def live(env):
    """The instance as records, read by a backup that keeps to this machine (local state and store)."""
    return live_records({k: v for k, v in env.items() if k not in ("AWSIDEMAN_STORE", "AWSIDEMAN_STATE")})


def scenario(served, seed):
    a, b = machines(served)
    served.seed("tiny", seed=seed)
    backup = cli_json(run_cli(a, "-o", "json", "backup", "create"))
    expected = live(a)
    drift(served.client)
    before = live(a)
    # Assignments take 6 s to be provisioned: machine A's restore is still running while B looks.
    served.set_faults({"latency_ms": 5, "async_seconds": 6})
    served.reset_counters()
    return a, b, backup["backup_id"], expected, before


def test_a_restore_killed_on_one_machine_is_resumed_and_rolled_back_from_another(served_sandbox):
    served = served_sandbox
    a, b, backup_id, expected, before = scenario(served, seed=91)
    proc = paced_restore(served, a, backup_id)
    wait_for(served, proc, "sso-admin:CreateAccountAssignment", 1)

    busy = run_cli(b, "-o", "json", "restore", backup_id, "--prune", "--yes")
    assert busy.returncode == 6, busy.stdout + busy.stderr
    message = cli_json(busy)["errors"][0]["message"]
    op = re.search(r"Operation (op-\S+) \(pid \d+ on (\S+), since .*, lease until ", message).group(1)
    assert socket.gethostname() in message
    # A rollback of it from B waits --lock-timeout for the live lease, then names who runs it (exit 6).
    waited = run_cli(b, "-o", "json", "rollback", op, "--yes", "--lock-timeout", "1")
    assert waited.returncode == 6, waited.stdout + waited.stderr
    refusal = cli_json(waited)["errors"][0]["message"]
    assert re.search(rf"Operation {op} \(pid \d+ on {re.escape(socket.gethostname())}, since .*, lease until ",
                     refusal), refusal
    assert "--lock-timeout" in " ".join(cli_json(waited)["errors"][0]["remediation"])
    assert "operation_id" not in cli_json(waited) or cli_json(waited)["operation_id"] is None  # it reverted nothing

    proc.kill()
    proc.wait(timeout=10)
    served.set_faults({"latency_ms": 1, "async_seconds": 0.05})
    wait_for_leases_to_expire(served.client, TABLE)  # nothing else tells B that A is dead
    # An auditor's role that may only read the table sees it too (and records nothing).
    served.set_faults({"latency_ms": 1, "async_seconds": 0.05, "rules": [
        {"operation": name, "fail_after": 0, "error": "AccessDeniedException"}
        for name in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")]})
    for command in (["report", "list"], ["report", "show", op]):
        audited = run_cli(b, "-o", "json", *command)
        assert audited.returncode == 0, audited.stdout + audited.stderr
    assert cli_json(run_cli(b, "-o", "json", "report", "show", op))["status"] == "interrupted"
    served.set_faults({"latency_ms": 1, "async_seconds": 0.05})
    rows = cli_json(run_cli(b, "-o", "json", "report", "list"))["operations"]
    listed = {o["operation_id"]: o["status"] for o in rows}
    assert listed[op] == "interrupted"
    assert listed[cli_json(busy)["operation_id"]] == "failed"  # refused at the lock: an operation too (finding 14)

    resumed = run_cli(b, "-o", "json", "restore", "--resume", op, "--yes", timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert cli_json(resumed)["status"] == "succeeded"
    diffs = differences(live(b), expected)
    assert not diffs, "\n".join(diffs)

    rolled = run_cli(b, "-o", "json", "rollback", op, "--yes", timeout=300)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    diffs = differences(live(b), before)
    assert not diffs, "\n".join(diffs)
    report = cli_json(run_cli(a, "-o", "json", "report", "show", op))  # and A sees all of it
    assert report["operation_id"] == op and report["counts"]["compensated"] > 0


def test_a_paused_runner_whose_lease_expired_is_fenced_off_and_stops(served_sandbox):
    served = served_sandbox
    a, b, backup_id, _, before = scenario(served, seed=92)
    proc = paced_restore(served, a, backup_id)
    wait_for(served, proc, "sso-admin:CreateAccountAssignment", 1)
    os.kill(proc.pid, signal.SIGSTOP)
    served.set_faults({"latency_ms": 1, "async_seconds": 0.05})
    try:
        wait_for_leases_to_expire(served.client, TABLE)
        op = cli_json(run_cli(b, "-o", "json", "report", "list"))["operations"][0]["operation_id"]
        rolled = run_cli(b, "-o", "json", "rollback", op, "--yes", timeout=300)
        assert rolled.returncode == 0, rolled.stdout + rolled.stderr
        notes = cli_json(rolled)["notes"]
        assert any(note.startswith(f"Took over the lock of {op}, whose lease expired") for note in notes), notes
        journal_after_takeover = run_cli(b, "-o", "json", "report", "show", op).stdout
    finally:
        served.reset_counters()
        os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 6, out + err
    error = json.loads(out)["errors"][0]
    assert "lost its lease" in error["message"]
    assert not any("--resume" in step for step in error["remediation"]), error  # not its operation any more
    identity_center = {k: v for k, v in served.counters().items() if not k.startswith(("dynamodb:", "s3:"))}
    assert mutating_calls(identity_center) == 0, identity_center  # it changed nothing after it woke up
    # Nor in the journal: its own clock stops it, and a write that gets through is refused by the
    # lock check (tests/journal/test_shared_state.py shows that one).
    assert run_cli(b, "-o", "json", "report", "show", op).stdout == journal_after_takeover
    diffs = differences(live(b), before)
    assert not diffs, "\n".join(diffs)


def test_state_migrate_brings_a_machines_history_to_the_team(served_sandbox, monkeypatch, capsys):
    served = served_sandbox
    a, b = machines(served)
    served.seed("tiny", seed=93)
    laptop = {k: v for k, v in a.items() if k != "AWSIDEMAN_STATE"}  # A's history so far is local

    def cli(env, *args):
        return run_in_process(monkeypatch, capsys, env, *args)

    backup = cli_json(cli(laptop, "-o", "json", "backup", "create"))
    dry = cli(a, "state", "migrate", "--dry-run")
    assert dry.returncode == 0 and "Would copy 1 operation(s)" in dry.stdout and backup["operation_id"] in dry.stdout
    assert cli_json(cli(b, "-o", "json", "report", "list"))["operations"] == []
    copied = cli_json(cli(a, "-o", "json", "state", "migrate"))
    assert copied["copied"] == [backup["operation_id"]] and copied["skipped"] == []
    seen = cli_json(cli(b, "-o", "json", "report", "show", backup["operation_id"]))
    assert (seen["status"], seen["backup_id"]) == ("succeeded", backup["backup_id"])
    assert cli_json(cli(a, "-o", "json", "state", "migrate"))["skipped"] == [backup["operation_id"]]

    local = cli(laptop, "state", "init")
    assert local.returncode == 2 and "manage a shared DynamoDB table" in local.stderr
    bad = cli(a, "--state", "dynamodb://x", "report", "list")
    assert bad.returncode == 2 and "state" in bad.stderr


def test_a_backup_killed_on_one_machine_is_finished_from_another(served_sandbox):
    """kill -9 on A between the collection and the store write; B resumes from A's checkpoints in
    the shared table and writes the one backup, which A's `backup list` shows (shared S3 store)."""
    served = served_sandbox
    a, b = machines(served)
    served.seed("tiny", seed=93)
    crash = run_cli_killed_at("backup:before-store-write", a, "backup", "create")
    assert crash.returncode == -signal.SIGKILL
    wait_for_leases_to_expire(served.client, TABLE)
    killed = cli_json(run_cli(b, "-o", "json", "report", "list"))["operations"][0]
    assert killed["status"] == "interrupted" and killed["backup_id"].startswith("bk-")

    served.reset_counters()
    resumed = run_cli(b, "-o", "json", "backup", "create", "--resume", killed["operation_id"])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    result = cli_json(resumed)
    assert result["backup_id"] == killed["backup_id"] and result["status"] == "succeeded"
    assert result["reused_steps"] > 0
    reads = {k: v for k, v in served.counters().items() if k.startswith("sso-admin:Describe")}
    assert reads == {}  # every permission set came from A's checkpoints
    listed = cli_json(run_cli(a, "-o", "json", "backup", "list"))["backups"]
    assert [x["backup_id"] for x in listed] == [killed["backup_id"]]
    assert cli_json(run_cli(a, "-o", "json", "report", "list"))["operations"][0]["status"] == "succeeded"

"""Checkpointed backups end to end: kill and resume, partial backups, the operations list."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.helpers import awsideman_command, cli_json, paced_config, run_cli

pytestmark = pytest.mark.e2e  # drives the real executable

DENY_ASSIGNMENT_LISTINGS = {"rules": [
    {"operation": "ListAccountAssignments", "fail_after": 0, "error": "AccessDeniedException"},
    {"operation": "ListAccountAssignmentsForPrincipal", "fail_after": 0, "error": "AccessDeniedException"},
]}


def _payload_sha(env, backup_id):
    return cli_json(run_cli(env, "-o", "json", "backup", "show", backup_id))["payload"]["sha256"]


def _snapshot(env, backup_id):
    import gzip
    import os

    path = os.path.join(env["AWSIDEMAN_HOME"], "backups", backup_id, "snapshot.json.gz")
    with open(path, "rb") as handle:
        return json.loads(gzip.decompress(handle.read()))


def _kill_when(served, env, operation, at_least):
    """Start a paced backup and SIGKILL it once the emulator has seen `at_least` calls of `operation`."""
    proc = subprocess.Popen([*awsideman_command(), "--config", paced_config(served.home), "backup", "create"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while served.counters().get(operation, 0) < at_least:
        assert proc.poll() is None, "backup finished before the kill point: " + proc.stderr.read().decode()
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    return proc


def test_killed_backup_resumes_to_the_same_snapshot_with_fewer_calls(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("small", seed=21)
    clean = cli_json(run_cli(env, "-o", "json", "backup", "create"))
    served.set_faults({"latency_ms": 15})  # slow enough to land the kill mid-run
    served.reset_counters()
    _kill_when(served, env, "sso-admin:ListAccountAssignments", 5)

    operations = cli_json(run_cli(env, "-o", "json", "report", "list"))["operations"]
    killed = operations[0]
    assert killed["kind"] == "backup" and killed["status"] == "interrupted"
    assert killed["backup_id"] is None
    listed = cli_json(run_cli(env, "-o", "json", "backup", "list"))["backups"]
    assert [b["backup_id"] for b in listed] == [clean["backup_id"]]  # the killed run left no visible backup

    served.set_faults({})
    resumed = run_cli(env, "-o", "json", "backup", "create", "--resume", killed["operation_id"])
    assert resumed.returncode == 0, resumed.stderr
    result = cli_json(resumed)
    assert result["operation_id"] == killed["operation_id"] and result["status"] == "succeeded"
    assert result["reused_steps"] > 0
    assert result["api_calls"] < clean["api_calls"]
    assert _payload_sha(env, result["backup_id"]) == _payload_sha(env, clean["backup_id"])

    again = run_cli(env, "backup", "create", "--resume", killed["operation_id"])
    assert again.returncode == 2 and "already finished" in again.stderr


def test_denied_assignment_listing_fails_without_allow_partial(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=22)
    served.set_faults(DENY_ASSIGNMENT_LISTINGS)
    proc = run_cli(env, "backup", "create")
    assert proc.returncode == 1, proc.stderr
    assert "AccessDenied" in proc.stderr and "--resume op-" in proc.stderr and "--allow-partial" in proc.stderr
    assert cli_json(run_cli(env, "-o", "json", "backup", "list"))["backups"] == []
    assert cli_json(run_cli(env, "-o", "json", "report", "list"))["operations"][0]["status"] == "failed"

    as_json = run_cli(env, "-o", "json", "backup", "create")
    document = cli_json(as_json)
    assert as_json.returncode == 1 and document["status"] == "failed"
    assert document["operation_id"].startswith("op-")
    error = document["errors"][0]  # the root cause, not the wrapper, and its advice once
    assert (error["category"], error["code"]) == ("authorization", "AccessDeniedException")
    assert sum("--resume op-" in step for step in error["remediation"]) == 1


def test_partial_backup_equals_full_minus_what_is_missing(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=23)
    full = cli_json(run_cli(env, "-o", "json", "backup", "create"))
    served.set_faults(DENY_ASSIGNMENT_LISTINGS)
    proc = run_cli(env, "-o", "json", "backup", "create", "--allow-partial")
    assert proc.returncode == 3, proc.stderr
    partial = cli_json(proc)
    assert partial["status"] == "partial"
    assert {m["resource"] for m in partial["missing"]} == {"assignments"}
    assert partial["missing"][0]["code"] == "AccessDeniedException"
    assert any("sso:ListAccountAssignments" in step for step in partial["missing"][0]["remediation"])
    assert partial["errors"][0]["category"] == "authorization"

    served.set_faults({})
    verified = run_cli(env, "-o", "json", "backup", "verify", partial["backup_id"])
    assert verified.returncode == 0 and cli_json(verified)["partial"] is True
    shown = cli_json(run_cli(env, "-o", "json", "backup", "show", partial["backup_id"]))
    assert shown["partial"] is True and shown["missing"] == partial["missing"]

    got, expected = _snapshot(env, partial["backup_id"]), _snapshot(env, full["backup_id"])
    assert got["assignments"] == [] and expected["assignments"]
    expected["assignments"] = []
    assert got == expected
    assert cli_json(run_cli(env, "-o", "json", "report", "list"))["operations"][0]["status"] == "partial"


def test_report_list_shows_newest_first_and_limits(served_sandbox):
    env = served_sandbox.env
    served_sandbox.seed("tiny", seed=24)
    ids = [cli_json(run_cli(env, "-o", "json", "backup", "create"))["operation_id"] for _ in range(3)]
    rows = cli_json(run_cli(env, "report", "list", "--limit", "2", "-o", "json"))["operations"]
    assert [r["operation_id"] for r in rows] == ids[::-1][:2]
    assert set(rows[0]) == {"operation_id", "kind", "status", "started_at", "finished_at", "backup_id"}
    assert all(r["status"] == "succeeded" and r["backup_id"].startswith("bk-") for r in rows)
    text = run_cli(env, "--no-color", "report", "list")
    assert text.returncode == 0 and ids[0] in text.stdout


@pytest.mark.parametrize("bad", ["op-../../x", "bk-20260101T000000Z-abcdef", "op-20260101T000000Z-abcdef"])
def test_resume_of_unknown_or_malformed_operation_exits_2(served_sandbox, bad):
    proc = run_cli(served_sandbox.env, "backup", "create", "--resume", bad)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_expired_credentials_mid_run_stop_at_once_and_resume_later(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("small", seed=26)
    served.set_faults({"rules": [{"operation": "ListAccountAssignments", "fail_after": 3,
                                  "error": "ExpiredTokenException"}]})
    proc = run_cli(env, "backup", "create")
    assert proc.returncode == 1, proc.stderr
    assert "expired" in proc.stderr.lower() and "aws sso login" in proc.stderr
    assert "--resume op-" in proc.stderr and "Traceback" not in proc.stderr
    calls = served.counters()["sso-admin:ListAccountAssignments"]
    assert calls <= 3 + 8  # stopped at once: only the calls already in flight on 8 workers
    failed = cli_json(run_cli(env, "-o", "json", "report", "list"))["operations"][0]
    assert failed["status"] == "failed"
    served.set_faults({})
    resumed = run_cli(env, "-o", "json", "backup", "create", "--resume", failed["operation_id"])
    assert resumed.returncode == 0, resumed.stderr
    assert cli_json(resumed)["reused_steps"] > 0


def test_denied_instance_discovery_is_clear_and_is_a_failed_operation(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=27)
    served.set_faults({"rules": [{"operation": "ListInstances", "fail_after": 0, "error": "AccessDeniedException"}]})
    proc = run_cli(env, "backup", "create")
    assert proc.returncode == 1 and "sso:ListInstances" in proc.stderr
    [op] = cli_json(run_cli(env, "-o", "json", "report", "list"))["operations"]  # finding 14: it has a report
    assert op["status"] == "failed" and f"backup create --resume {op['operation_id']}" in proc.stderr

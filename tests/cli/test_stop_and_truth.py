"""Issue "before restore", end to end: stop means stop, one owner per operation, no plaintext
left behind, and results that tell the truth at every kill point. Real executable, served emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import awsideman_command, cli_json, paced_config, run_cli, run_cli_killed_at

# Every permission set read is throttled and every backoff lasts ten minutes: the run to stop
# can only end if the stop cuts the waits short (no clock is measured). The collector has two
# pools (one per service) of `concurrency` workers.
BUSY = {"seed": 5, "latency_ms": 20, "quotas": "real",
        "rules": [{"operation": "sso-admin:DescribePermissionSet", "throttle": 1.0}]}
CONCURRENCY = 8
LONG_BACKOFF = f"concurrency: {CONCURRENCY}\nretry: {{base_delay: 600, max_delay: 600, jitter: false}}\n"


def _start(env, *args):
    return subprocess.Popen([*awsideman_command(), *args], env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def _wait_for_calls(served, proc, operation, at_least):
    deadline = time.monotonic() + 120
    while served.counters().get(operation, 0) < at_least:
        assert proc.poll() is None, "finished before the stop point: " + proc.stderr.read()
        assert time.monotonic() < deadline, "stop point never reached"
        time.sleep(0.01)


def _last_operation(env):
    return cli_json(run_cli(env, "-o", "json", "report", "list"))["operations"][0]


def _backups(env):
    return cli_json(run_cli(env, "-o", "json", "backup", "list"))["backups"]


def _journal_bytes(env) -> bytes:
    home = Path(env["AWSIDEMAN_HOME"])
    return b"".join(p.read_bytes() for p in home.glob("state.db*"))


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_a_busy_backup_at_once_and_the_resume_matches_a_clean_run(served_sandbox, signum):
    served, env = served_sandbox, served_sandbox.env
    served.seed("small", seed=31)
    clean = cli_json(run_cli(env, "-o", "json", "backup", "create"))
    served.set_faults(BUSY)
    served.reset_counters()
    config = served.home / "long-backoff.yaml"
    config.write_text(LONG_BACKOFF)
    proc = _start(env, "--config", str(config), "backup", "create")
    _wait_for_calls(served, proc, "sso-admin:DescribePermissionSet", 3)  # three workers are backing off
    calls_at_signal = sum(served.counters().values())
    proc.send_signal(signum)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the stop waited out a 600 s retry backoff")
    # Each worker finishes at most the one call it had in flight; none starts another.
    started_after_signal = sum(served.counters().values()) - calls_at_signal
    assert started_after_signal <= 2 * CONCURRENCY, started_after_signal
    assert proc.returncode == 128 + signum, stderr
    assert "--resume op-" in stderr and "Traceback" not in stderr
    stopped = _last_operation(env)
    assert stopped["status"] == "interrupted"

    served.set_faults({})
    resumed = run_cli(env, "-o", "json", "backup", "create", "--resume", stopped["operation_id"])
    assert resumed.returncode == 0, resumed.stderr
    shown = [cli_json(run_cli(env, "-o", "json", "backup", "show", b))["payload"]["sha256"]
             for b in (clean["backup_id"], cli_json(resumed)["backup_id"])]
    assert shown[0] == shown[1]


@pytest.mark.paced  # the kill point needs a run that lasts a while
@pytest.mark.e2e
def test_two_concurrent_resumes_of_one_operation_exactly_one_runs(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("small", seed=32)
    served.set_faults({"latency_ms": 15})
    killed = _start(env, "backup", "create")
    _wait_for_calls(served, killed, "sso-admin:DescribePermissionSet", 2)
    killed.kill()
    killed.wait(timeout=10)
    op_id = _last_operation(env)["operation_id"]
    racers = [_start(env, "-o", "json", "backup", "create", "--resume", op_id) for _ in range(2)]
    results = [(r.wait(timeout=120), r.stdout.read(), r.stderr.read()) for r in racers]
    codes = sorted(code for code, _, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    loser = next(doc for code, doc, _ in results if code != 0)
    assert "still running" in loser or "cannot be continued" in loser or "already finished" in loser
    assert len(_backups(env)) == 1


@pytest.mark.e2e
def test_no_user_attribute_in_clear_in_the_journal_after_success_or_a_killed_encrypted_backup(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    seeded = served.seed("small", seed=33)
    emails = [e["Value"].encode() for u in seeded.users.values() for e in u.get("Emails", [])]
    assert emails
    assert run_cli(env, "backup", "create").returncode == 0
    assert not [e for e in emails if e in _journal_bytes(env)]

    key = served.client("kms").create_key()["KeyMetadata"]["Arn"]
    served.set_faults({"latency_ms": 15})
    served.reset_counters()
    killed = _start(env, "--config", paced_config(served.home), "backup", "create", "--kms-key", key)
    _wait_for_calls(served, killed, "sso-admin:ListTagsForResource", 3)  # some steps checkpointed
    killed.kill()
    killed.wait(timeout=10)
    assert _last_operation(env)["status"] == "interrupted"
    assert not [e for e in emails if e in _journal_bytes(env)]
    served.set_faults({})
    resumed = run_cli(env, "-o", "json", "backup", "create", "--resume", _last_operation(env)["operation_id"])
    assert resumed.returncode == 0, resumed.stderr
    assert cli_json(resumed)["reused_steps"] > 0


@pytest.mark.e2e
@pytest.mark.parametrize("point", ["backup:before-store-write", "backup:after-store-write"])
def test_a_kill_between_store_write_and_journal_record_never_duplicates(served_sandbox, point):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=34)
    crash = run_cli_killed_at(point, env, "backup", "create")
    assert crash.returncode == -signal.SIGKILL
    killed = _last_operation(env)
    assert killed["status"] == "interrupted" and killed["backup_id"].startswith("bk-")
    written = [b["backup_id"] for b in _backups(env)]
    assert written == ([killed["backup_id"]] if point == "backup:after-store-write" else [])

    resumed = run_cli(env, "-o", "json", "backup", "create", "--resume", killed["operation_id"])
    assert resumed.returncode == 0, resumed.stderr
    result = cli_json(resumed)
    assert result["backup_id"] == killed["backup_id"]
    if point == "backup:after-store-write":
        assert any("already written" in note for note in result["notes"])
    assert [b["backup_id"] for b in _backups(env)] == [killed["backup_id"]]
    assert _last_operation(env)["status"] == "succeeded"


@pytest.mark.e2e
def test_a_resume_after_a_user_and_a_membership_were_added_contains_them(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("small", seed=35)
    served.set_faults({"latency_ms": 15})
    killed = _start(env, "--config", paced_config(served.home), "backup", "create")
    _wait_for_calls(served, killed, "sso-admin:DescribePermissionSet", 2)
    killed.kill()
    killed.wait(timeout=10)
    served.set_faults({})
    ids = served.client("identitystore")
    store_id = served.client("sso-admin").list_instances()["Instances"][0]["IdentityStoreId"]
    user = ids.create_user(IdentityStoreId=store_id, UserName="late.user", DisplayName="Late User",
                           Name={"GivenName": "Late", "FamilyName": "User"})["UserId"]
    group = ids.list_groups(IdentityStoreId=store_id)["Groups"][0]
    ids.create_group_membership(IdentityStoreId=store_id, GroupId=group["GroupId"], MemberId={"UserId": user})

    resumed = run_cli(env, "-o", "json", "backup", "create", "--resume", _last_operation(env)["operation_id"])
    assert resumed.returncode == 0, resumed.stderr
    backup_id = cli_json(resumed)["backup_id"]
    import gzip

    snapshot = json.loads(gzip.decompress(
        (Path(env["AWSIDEMAN_HOME"]) / "backups" / backup_id / "snapshot.json.gz").read_bytes()))
    assert "late.user" in {u["user_name"] for u in snapshot["users"]}
    assert (group["DisplayName"], "late.user") in {(m["group_name"], m["user_name"]) for m in snapshot["memberships"]}
    assert os.environ.get("AWSIDEMAN_CRASH_AT") is None


@pytest.mark.e2e
def test_a_kill_after_an_assignment_request_before_its_id_is_journaled_is_rolled_back(served_sandbox):
    """A death between an assignment's call and the journal write of its request id leaves an
    intent without the id: the rollback waits until no such request runs, then reverts it."""
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=36)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    sso = served.client("sso-admin")
    arn = sso.list_instances()["Instances"][0]["InstanceArn"]

    def assignments() -> set[tuple[str, str, str, str]]:
        found = set()
        for ps in sso.list_permission_sets(InstanceArn=arn)["PermissionSets"]:
            for account in sso.list_accounts_for_provisioned_permission_set(
                    InstanceArn=arn, PermissionSetArn=ps)["AccountIds"]:
                for a in sso.list_account_assignments(InstanceArn=arn, AccountId=account,
                                                      PermissionSetArn=ps)["AccountAssignments"]:
                    found.add((account, ps, a["PrincipalType"], a["PrincipalId"]))
        return found

    before = assignments()
    gone = sorted(before)[0]
    sso.delete_account_assignment(InstanceArn=arn, TargetId=gone[0], TargetType="AWS_ACCOUNT", PermissionSetArn=gone[1],
                                  PrincipalType=gone[2], PrincipalId=gone[3])
    drifted = assignments()
    assert drifted == before - {gone}
    served.set_faults({"async_seconds": 2})  # still running when the process dies
    crash = run_cli_killed_at("apply:after-async-call", env, "restore", backup_id, "--yes")
    assert crash.returncode == -signal.SIGKILL
    killed = _last_operation(env)
    assert killed["kind"] == "restore" and killed["status"] == "interrupted"
    from awsideman.journal import ChangeState, Journal

    journal = Journal.open(Path(env["AWSIDEMAN_HOME"]) / "state.db")
    try:
        left = [c for c in journal.changes(killed["operation_id"]) if c.kind == "assignment:create"]
    finally:
        journal.close()
    assert [(c.state, c.request_id) for c in left] == [(ChangeState.INTENT, None)]  # sent, id never journaled

    undone = run_cli(env, "-o", "json", "rollback", killed["operation_id"], "--yes")
    assert undone.returncode == 0, undone.stderr
    assert assignments() == drifted  # the request ended, then its assignment was deleted again
    assert _last_operation(env)["kind"] == "rollback"

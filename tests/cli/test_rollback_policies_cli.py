"""Rollback policies end to end (issue 24, item 3), through the executable and the served emulator.

A restore of a drifted instance fails at its first account assignment (the request ends FAILED
in the emulator), after it applied changes of every kind. Then, per `rollback:` in the config:

- `keep: [users]`: the user changes stay, everything else is reverted; exit 4, and the command's
  summary and `report show` give the same reason, naming the policy, for each kept change;
- `when: never`: nothing is reverted, every applied change is listed, the next command is exact,
  and `awsideman rollback OP` then puts the instance back;
- `time_budget: 0`: the budget is spent before the first revert (no clock to race), so the
  compensation starts nothing, journals what is left, and `awsideman rollback OP` finishes it;
- `inverse_retention_days: 0`: the retention pass (the next `backup create`) purges the inverses,
  `awsideman rollback OP` says they were purged on that date by policy; `report audit` stays.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.drift import differing_addresses, drift
from tests.helpers import backup_records, cli_json, live_records, run_cli

pytestmark = pytest.mark.e2e
FAIL_ASSIGNMENT = {"operation": "CreateAccountAssignment", "async_fail_after": 0,
                   "failure_reason": "IAM role quota reached"}


def _failing_restore(served, policy: str, seed: int):
    """Seed, back up, drift; configure ``rollback: policy``; run the restore that fails. Returns
    (env, backup id, the records before the restore, the restore's JSON result, its exit code)."""
    env = served.env
    served.seed("tiny", seed=seed)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    drift(served.client)
    before = live_records(env)
    config = served.home / "config.yaml"
    config.write_text(config.read_text() + f"rollback: {policy}\n")
    served.set_faults({"rules": [FAIL_ASSIGNMENT]})
    proc = run_cli(env, "-o", "json", "restore", backup_id, "--prune", "--yes")
    served.set_faults({})
    return env, backup_id, before, cli_json(proc), proc.returncode


def _report(env, operation_id):
    return cli_json(run_cli(env, "-o", "json", "report", "show", operation_id))


def test_keep_users_leaves_the_restored_users_and_reverts_the_rest(served_sandbox):
    env, backup_id, before, result, code = _failing_restore(served_sandbox, "{keep: [users]}", seed=241)
    assert code == 4, result
    assert result["status"] == "rolled_back"
    users = {a for a in result["applied"] if a.startswith("user:")}
    assert users, "the restore applied no user change before it failed: the test proves nothing"
    assert set(result["applied"]) - users, "nothing but users was applied: nothing to revert"
    assert sorted(result["kept"]) == sorted(users)
    assert set(result["compensated"]) == set(result["applied"]) - users
    assert {item["resource"] for item in result["leftover"]} == users
    assert all("rollback.keep" in item["why"] for item in result["leftover"])
    # The command's summary and the report say the same, from the journal.
    report = _report(env, result["operation_id"])
    assert report["status"] == "rolled_back" and report["counts"] == {
        k: result["counts"][k] for k in ("applied", "compensated", "failed", "leftover")}
    assert {i["address"]: i["why"] for i in report["leftover"]} == {i["resource"]: i["why"] for i in result["leftover"]}
    assert {i["policy"] for i in report["leftover"]} == {"rollback.keep"}
    assert any("rollback" in step and "keep" in step for step in report["recovery"])
    # The instance: the kept users are as in the backup, everything else as before the restore.
    now, backed_up = live_records(env), backup_records(env, backup_id)
    assert differing_addresses(now, before) == users
    for address in users:
        name = address.split(":", 1)[1]
        assert now.get("user", {}).get((name,)) == backed_up.get("user", {}).get((name,)), address


def test_when_never_leaves_everything_with_the_exact_next_command(served_sandbox):
    env, _backup_id, before, result, code = _failing_restore(served_sandbox, "{when: never}", seed=242)
    op = result["operation_id"]
    assert code == 5 and result["status"] == "failed", result
    assert result["applied"] and result["compensated"] == []
    assert {item["resource"] for item in result["leftover"]} >= set(result["applied"])
    assert all("rollback.when is never" in item["why"] for item in result["leftover"])
    report = _report(env, op)
    assert report["next_command"] == f"awsideman restore --resume {op}"
    assert {i["policy"] for i in report["leftover"]} == {"rollback.when"}
    records = {a for a in result["applied"] if not a.startswith("provision:")}  # a provisioning is no record
    assert differing_addresses(live_records(env), before) >= records
    # The way back is one command.
    undo = run_cli(env, "-o", "json", "rollback", op, "--yes")
    assert undo.returncode == 0, undo.stdout
    assert differing_addresses(live_records(env), before) == set()


def test_a_spent_time_budget_leaves_the_rest_journaled_for_rollback_to_finish(served_sandbox):
    env, _backup_id, before, result, code = _failing_restore(served_sandbox, "{time_budget: 0}", seed=243)
    op = result["operation_id"]
    assert code == 5 and result["status"] == "rollback_failed", result
    assert result["compensated"] == [] and result["applied"]
    assert {item["resource"] for item in result["leftover"]} >= set(result["applied"])
    assert all("time budget" in item["why"] for item in result["leftover"])
    report = _report(env, op)
    assert report["next_command"] == f"awsideman rollback {op}"
    assert {i["why"] for i in report["leftover"]} == {i["why"] for i in result["leftover"]}
    finished = run_cli(env, "-o", "json", "rollback", op, "--yes")
    assert finished.returncode == 0, finished.stdout
    assert sorted(cli_json(finished)["compensated"]) == sorted(i["resource"] for i in result["leftover"])
    assert differing_addresses(live_records(env), before) == set()
    assert _report(env, op)["status"] == "rolled_back"


def test_purged_inverses_make_rollback_say_so_and_the_audit_record_stays(served_sandbox):
    env, _backup_id, _before, result, _code = _failing_restore(
        served_sandbox, "{when: never, inverse_retention_days: 0}", seed=244)
    op = result["operation_id"]
    audit_before = cli_json(run_cli(env, "-o", "json", "report", "audit", "--operation", op))["entries"]
    assert audit_before
    # The retention pass runs after every backup create; a 0-day window purges every ended restore.
    assert run_cli(env, "-o", "json", "backup", "create").returncode == 0
    refused = run_cli(env, "-o", "json", "rollback", op, "--yes")
    assert refused.returncode == 2, refused.stdout
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    said = refused.stdout + refused.stderr
    assert f"The inverses of {op} were purged on " in said and "by policy" in said, said
    assert "inverse_retention_days" in said and "Traceback" not in said
    assert today[:4] in said  # the date (not compared to the clock: a run may cross midnight)
    resumed = run_cli(env, "-o", "json", "restore", "--resume", op, "--yes")
    assert resumed.returncode == 2 and "purged" in resumed.stdout + resumed.stderr
    audit_after = cli_json(run_cli(env, "-o", "json", "report", "audit", "--operation", op))["entries"]
    assert audit_after == audit_before


@pytest.mark.parametrize("flag, value, words", [
    ("--rollback-when", "sometimes", "--rollback-when must be one of on_failure, never, on_partial"),
    ("--rollback-keep", "users,robots", "--rollback-keep takes a comma-separated list"),
    ("--rollback-time-budget", "-5", "--rollback-time-budget must be a number of seconds >= 0"),
])
def test_bad_rollback_flags_are_refused_before_anything_happens(served_sandbox, flag, value, words):
    proc = run_cli(served_sandbox.env, "restore", "bk-20200101T000000Z-000000", f"{flag}={value}", "--yes")
    said = proc.stdout + proc.stderr
    assert proc.returncode == 2 and words in said and "Traceback" not in said, said

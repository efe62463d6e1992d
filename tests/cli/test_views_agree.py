"""End to end through the executable: every view of an operation agrees with its journal (issue 20).

A restore that fails for good and is rolled back automatically; a restore that succeeds and is
rolled back later by a separate `rollback`; a backup denied at its very first read; a restore
refused because its backup is corrupt: the command's own `-o json` result, `report show`
(text, json, markdown), `report list`, `analyze-error --operation` and the metrics file say the
same status, counts and error categories (`tests.helpers.assert_views_agree`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.drift import drift
from tests.helpers import assert_views_agree, cli_json, run_cli

pytestmark = pytest.mark.e2e
FAIL = {"operation": "CreateAccountAssignment", "async_fail_after": 0, "failure_reason": "IAM role quota reached"}


def _views(env):
    return lambda *args: run_cli(env, *args)


def _backup(served, env):
    served.seed("tiny", seed=123)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    drift(served.client)
    return backup_id


def test_a_failed_restore_rolled_back_automatically_agrees_everywhere(served_sandbox, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    metrics = tmp_path / "awsideman.prom"
    backup_id = _backup(served, env)
    served.set_faults({"rules": [FAIL]})
    restore = run_cli(env, "--metrics-file", str(metrics), "-o", "json", "restore", backup_id, "--prune", "--yes")
    assert restore.returncode == 4, restore.stdout + restore.stderr
    closing = cli_json(restore)
    op = closing["operation_id"]
    report = assert_views_agree(_views(env), op, closing=closing, metrics=metrics)
    assert report["status"] == "rolled_back" and report["counts"]["leftover"] == 0
    # Applied counts what took effect, also what was then reverted (finding 11: 6 vs 0 before).
    assert report["counts"]["applied"] == report["counts"]["compensated"] == len(closing["applied"]) > 0
    assert [e["category"] for e in report["errors"]] == ["validation"]  # finding 1: not "No errors found"
    # Finding 8: the real id, and no rollback proposed after the automatic one completed.
    steps = " ".join(step for error in closing["errors"] + report["errors"] for step in error["remediation"])
    assert "OP_ID" not in steps and "awsideman rollback" not in steps, steps
    assert "awsideman rollback" not in " ".join(report["recovery"])
    # Finding 6: the phases the run recorded, each with its own time, not all in the first.
    assert [p["name"] for p in report["phases"]] == ["loading", "reading", "planning", "applying", "compensating"]
    assert report["phases"][-1]["done"] == report["counts"]["compensated"]
    ends = [(p["started_at"], p["finished_at"]) for p in report["phases"]]
    assert all(ended <= ends[i + 1][0] for i, (_, ended) in enumerate(ends[:-1])), ends  # one after the other
    # The operation starts before its first phase (finding 14), so its duration covers them all.
    assert sum(p["seconds"] for p in report["phases"]) <= report["summary"]["duration_seconds"] + 0.002
    # Finding 10: the recovery refers to the cause where the report prints it (before the options).
    text = run_cli(env, "report", "show", op).stdout
    assert "cause below" not in text and "cause above" in text
    assert text.index("Failure: validation") < text.index("Recovery options:")


def test_a_restore_rolled_back_later_says_so_in_every_view(served_sandbox, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    metrics = tmp_path / "awsideman.prom"
    backup_id = _backup(served, env)
    restored = cli_json(run_cli(env, "--metrics-file", str(metrics), "-o", "json", "restore", backup_id, "--yes"))
    op = restored["operation_id"]
    before = assert_views_agree(_views(env), op, closing=restored, metrics=metrics)
    assert before["status"] == "succeeded" and before["counts"]["applied"] > 0
    assert before["counts"]["leftover"] == 0 and before["links"] == {"rollbacks": []}

    rollback = run_cli(env, "--metrics-file", str(metrics), "-o", "json", "rollback", op, "--yes")
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    undone = cli_json(rollback)
    rolled = assert_views_agree(_views(env), undone["operation_id"], closing=undone, metrics=metrics)
    assert rolled["counts"]["compensated"] == before["counts"]["applied"] and rolled["links"] == {"restore": op}

    # Finding 3: the restore now says it was rolled back, names the rollback, and never suggests it again.
    after = assert_views_agree(_views(env), op)
    assert after["status"] == "rolled_back"
    assert after["counts"] == dict(before["counts"], compensated=before["counts"]["applied"])
    assert [r["operation_id"] for r in after["links"]["rollbacks"]] == [undone["operation_id"]]
    assert after["summary"]["recorded"]["rolled_back_by"] == undone["operation_id"]
    assert after["next_command"] == f"awsideman restore {backup_id} --dry-run"
    assert not any("awsideman rollback" in step for step in after["recovery"])
    assert not any("cause" in step for step in after["recovery"])  # finding 10: there is no cause to fix

    # Finding 12: a rollback with nothing left to do says so on stdout, exits 0, no "Rolled back" headline.
    again = run_cli(env, "rollback", op, "--yes")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Nothing to roll back: ") and "Rolled back" not in again.stdout
    assert "compensated" not in again.stdout
    quiet = cli_json(run_cli(env, "-o", "json", "rollback", op, "--yes"))
    # Every run is an operation (finding 14): one with nothing to revert is a rollback that succeeded.
    nothing = assert_views_agree(_views(env), quiet["operation_id"], closing=quiet)
    assert nothing["status"] == quiet["status"] == "succeeded" and nothing["next_command"] is None
    assert quiet["counts"] == {"applied": 0, "compensated": 0, "failed": 0, "leftover": 0}
    assert cli_json(run_cli(env, "-o", "json", "report", "show", op))["status"] == "rolled_back"


def test_a_backup_denied_at_its_first_read_agrees_everywhere(served_sandbox, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    metrics = tmp_path / "awsideman.prom"
    served.seed("tiny", seed=125)
    served.set_faults({"rules": [{"operation": "ListInstances", "fail_after": 0, "error": "AccessDeniedException"}]})
    backup = run_cli(env, "--metrics-file", str(metrics), "-o", "json", "backup", "create")
    assert backup.returncode == 1, backup.stdout + backup.stderr
    closing = cli_json(backup)
    report = assert_views_agree(_views(env), closing["operation_id"], closing=closing, metrics=metrics)
    assert report["status"] == "failed" and [e["category"] for e in report["errors"]] == ["authorization"]
    assert cli_json(run_cli(env, "-o", "json", "report", "show", "last"))["operation_id"] == closing["operation_id"]
    assert closing["next_command"] == report["next_command"] == (
        f"awsideman backup create --resume {closing['operation_id']}")


def test_a_restore_of_a_corrupt_backup_agrees_everywhere(served_sandbox, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    metrics = tmp_path / "awsideman.prom"
    backup_id = _backup(served, env)
    payload = Path(env["AWSIDEMAN_HOME"]) / "backups" / backup_id / "snapshot.json.gz"
    payload.write_bytes(b"\x00" + payload.read_bytes()[1:])  # same size, wrong checksum
    restore = run_cli(env, "--metrics-file", str(metrics), "-o", "json", "restore", backup_id, "--yes")
    assert restore.returncode == 1, restore.stdout + restore.stderr
    closing = cli_json(restore)
    assert closing["operation_id"], closing  # it was `null`
    report = assert_views_agree(_views(env), closing["operation_id"], closing=closing, metrics=metrics)
    assert report["status"] == "failed" and [e["category"] for e in report["errors"]] == ["validation"]
    assert report["counts"] == {"applied": 0, "compensated": 0, "failed": 0, "leftover": 0}
    assert report["backup_id"] == closing["backup_id"] == backup_id
    assert closing["next_command"] == report["next_command"] == f"awsideman restore {backup_id} --dry-run"

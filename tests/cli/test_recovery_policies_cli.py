"""End to end through the executable: recovery policies per error category (issue 24, item 1).

- ``resource_conflict: {resources: [assignments], action: skip}``: a restore whose assignment
  the service refuses with ConflictException goes on without it and finishes ``partial``
  (exit 3), the assignment listed with the rule in the result and in ``report show``.
- ``rate_limiting: {action: pause}``: a restore throttled past its attempts stops journaled and
  resumable (exit 1, ``interrupted``, nothing rolled back, the exact ``--resume`` command), and
  ``restore --resume`` completes it once the throttling is gone.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from tests.drift import Target, differences
from tests.helpers import backup_records, cli_json, live_records, run_cli

pytestmark = pytest.mark.e2e


def _config(tmp_path, text: str) -> str:
    path = tmp_path / "recovery.yaml"
    path.write_text(text)
    return str(path)


def _drift(served) -> tuple[str, str]:
    """A deleted user (re-created by the restore) and a deleted assignment; (its permission set, account)."""
    t = Target(served.client)
    arns = t.permission_sets()
    name, arn = sorted(arns.items())[0]
    gone = t.assignments(arn)[0]
    t.sso.delete_account_assignment(InstanceArn=t.arn, TargetId=gone["AccountId"], TargetType="AWS_ACCOUNT",
                                    PermissionSetArn=arn, PrincipalType=gone["PrincipalType"],
                                    PrincipalId=gone["PrincipalId"])
    assigned = {a["PrincipalId"] for ps in arns.values() for a in t.assignments(ps)}
    victim = next(u for u in t.users() if u["UserId"] not in assigned)
    t.ids.delete_user(IdentityStoreId=t.store, UserId=victim["UserId"])
    return name, gone["AccountId"]


def test_a_skip_policy_on_assignment_conflicts_finishes_partial_with_the_assignment_listed(served_sandbox, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=62)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    permission_set, account = _drift(served)
    config = _config(tmp_path, "recovery:\n  resource_conflict:\n"
                               "    - {resources: [assignments], action: skip, max_attempts: 1}\n")
    served.set_faults({"rules": [{"operation": "CreateAccountAssignment", "fail_after": 0,
                                  "error": "ConflictException"}]})

    proc = run_cli(env, "-o", "json", "--config", config, "restore", backup_id, "--yes")
    result = cli_json(proc)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert result["status"] == "partial"
    skipped = [s for s in result["skipped"] if s.get("rule")]
    assert [s["address"].split("/")[:2] for s in skipped] == [[f"assignment:{account}", permission_set]]
    assert skipped[0]["rule"] == "recovery.resource_conflict[0] (resources: assignments): skip"
    assert any(a.startswith("user:") for a in result["applied"])  # the rest of the restore went on

    report = cli_json(run_cli(env, "-o", "json", "report", "show", result["operation_id"]))
    assert report["status"] == "partial"
    assert [s["address"] for s in report["skipped"]] == [skipped[0]["address"]]
    assert report["skipped"][0]["decision"]["rule"] == skipped[0]["rule"]
    text = run_cli(env, "report", "show", result["operation_id"]).stdout
    assert "skip by recovery.resource_conflict[0]" in " ".join(text.split())


def test_a_pause_policy_on_throttling_stops_resumably_and_resume_completes(served_sandbox, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=62)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    expected = backup_records(env, backup_id)
    _drift(served)
    config = _config(tmp_path, "recovery:\n  rate_limiting: {action: pause, max_attempts: 2, base_delay: 0}\n")
    served.set_faults({"rules": [{"operation": "CreateAccountAssignment", "throttle": 1.0}]})
    served.reset_counters()

    proc = run_cli(env, "-o", "json", "--config", config, "restore", backup_id, "--yes")
    result = cli_json(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    op = result["operation_id"]
    assert result["status"] == "interrupted" and not result["compensated"]
    assert any(f"awsideman restore --resume {op}" in note for note in result["notes"])
    assert served.counters()["sso-admin:CreateAccountAssignment"] == 2  # max_attempts, then the pause
    report = cli_json(run_cli(env, "-o", "json", "report", "show", op))
    assert report["status"] == "interrupted" and report["next_command"] == f"awsideman restore --resume {op}"
    assert report["failed"][0]["decision"]["action"] == "pause"

    served.set_faults({})
    resumed = run_cli(env, "-o", "json", "--config", config, "restore", "--resume", op, "--yes")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert cli_json(resumed)["status"] == "succeeded"
    diffs = differences(live_records(env), expected)
    assert not diffs, "\n".join(diffs)


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "error-handler"


def _install_example(site: Path) -> None:
    """Install examples/error-handler into ``site`` as an installer does: the module, and a
    dist-info whose entry_points.txt is the package's (read from its pyproject.toml)."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    shutil.copytree(EXAMPLE / "awsideman_example_handler", site / "awsideman_example_handler")
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = project["entry-points"]
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in items.items())
        for group, items in points.items()))


def test_an_installed_error_handler_chooses_the_action_before_the_built_in_table(served_sandbox, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=62)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    permission_set, account = _drift(served)
    site = tmp_path / "site"
    site.mkdir()
    _install_example(site)
    with_plugin = dict(env, PYTHONPATH=str(site))
    served.set_faults({"rules": [{"operation": "CreateAccountAssignment", "fail_after": 0,
                                  "error": "ConflictException"}]})

    # No `recovery:` config at all: the handler alone turns the conflict into a skip.
    proc = run_cli(with_plugin, "-o", "json", "restore", backup_id, "--yes")
    result = cli_json(proc)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    skipped = [s for s in result["skipped"] if s.get("rule")]
    assert len(skipped) == 1 and skipped[0]["address"].startswith(f"assignment:{account}/{permission_set}/")
    assert skipped[0]["rule"] == "error handler skip-conflicting-assignments"

    # Without the plugin the same conflict (the assignment is still missing) is retried, then
    # fails the restore, which is rolled back: the built-in table's answer.
    plain = run_cli(env, "-o", "json", "restore", backup_id, "--yes")
    assert plain.returncode == 4, plain.stdout + plain.stderr
    assert cli_json(plain)["status"] == "rolled_back"


def test_a_skip_policy_on_an_scp_denied_account_finishes_partial_with_the_account_named(served_sandbox, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=62)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    _permission_set, account = _drift(served)
    config = _config(tmp_path, "recovery:\n  authorization:\n    - {resources: [assignments], action: skip}\n")
    served.set_faults({"quirks": {"deny_accounts": [{"accounts": [account]}]}})

    proc = run_cli(env, "-o", "json", "--config", config, "restore", backup_id, "--yes")
    result = cli_json(proc)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    skipped = [s for s in result["skipped"] if s.get("rule")]
    assert len(skipped) == 1 and skipped[0]["category"] == "authorization"
    assert account in skipped[0]["reason"] and f"seeded-{account}" in skipped[0]["reason"]

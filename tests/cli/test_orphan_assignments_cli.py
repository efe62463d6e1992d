"""End to end through the executable, with the emulator's quirk `orphan_assignments` on (issue 23):
deleting a user or group leaves its account assignments in place, naming a principal id that no
longer resolves, as AWS does.

- A backup listing per permission set sees them: it succeeds, keeps them marked and counted, and
  `backup show` lists them; a restore of it never creates anything for them and says so.
- A backup listing per principal cannot see them: its manifest says so (and how to see them).
- `restore --prune` deletes the target's orphans, journaled without an inverse; a rollback of
  that restore reverts the rest and says the orphans stay deleted.
- `diff` reports them apart from the differences, in text and JSON.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.drift import Target
from tests.helpers import cli_json, run_cli

pytestmark = pytest.mark.e2e
ORPHANS = {"quirks": {"orphan_assignments": True}}


def _all_assignments(t: Target) -> list[dict[str, Any]]:
    return [a for arn in t.permission_sets().values() for a in t.assignments(arn)]


def _orphan_a_user(served: Any) -> tuple[Target, str, list[dict[str, Any]]]:
    """Delete the user with the most assignments; they stay (the quirk). Returns its id and them."""
    t = Target(served.client)
    assignments = [a for a in _all_assignments(t) if a["PrincipalType"] == "USER"]
    by_user: dict[str, list[dict[str, Any]]] = {}
    for a in assignments:
        by_user.setdefault(a["PrincipalId"], []).append(a)
    user_id, kept = max(sorted(by_user.items()), key=lambda item: len(item[1]))
    served.set_faults(ORPHANS)
    t.ids.delete_user(IdentityStoreId=t.store, UserId=user_id)
    still = [a for a in _all_assignments(t) if a["PrincipalId"] == user_id]
    assert len(still) == len(kept) >= 1, "the quirk did not keep the deleted user's assignments"
    return t, user_id, kept


def _strategy(served: Any, route: str) -> None:
    """The config key (the sandbox home's config.yaml, read by every run)."""
    config = served.home / "config.yaml"
    config.write_text(config.read_text() + f"assignment_strategy: {route}\n")


def test_a_backup_with_orphan_assignments_succeeds_and_lists_them_and_its_restore_skips_them(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=23)
    _t, user_id, orphans = _orphan_a_user(served)

    proc = run_cli(env, "-o", "json", "backup", "create", "--assignment-strategy", "permission-set")
    backup = cli_json(proc)
    assert proc.returncode == 0, proc.stderr
    assert backup["status"] == "succeeded"
    assert backup["orphan_assignments"]["visible"] is True
    assert backup["orphan_assignments"]["count"] == len(orphans)
    backup_id = backup["backup_id"]

    shown = cli_json(run_cli(env, "-o", "json", "backup", "show", backup_id))
    listed = shown["orphan_assignments"]["assignments"]
    assert len(listed) == len(orphans)
    assert all(o["orphan"] is True and o["principal_id"] == user_id and o["principal_type"] == "USER"
               for o in listed)
    assert sorted((o["account_id"], o["permission_set_arn"]) for o in listed) == sorted(
        (a["AccountId"], a["PermissionSetArn"]) for a in orphans)
    text = run_cli(env, "backup", "show", backup_id)
    assert text.returncode == 0 and f"orphan assignments: {len(orphans)}" in text.stdout
    assert f"user {user_id} (deleted)" in text.stdout

    # The restore has work to do (one user's deleted assignment), and none of it for the orphans.
    t = Target(served.client)
    other = next(a for a in _all_assignments(t) if a["PrincipalId"] != user_id)
    t.sso.delete_account_assignment(InstanceArn=t.arn, TargetId=other["AccountId"], TargetType="AWS_ACCOUNT",
                                    PermissionSetArn=other["PermissionSetArn"],
                                    PrincipalType=other["PrincipalType"], PrincipalId=other["PrincipalId"])
    served.reset_counters()
    proc = run_cli(env, "-o", "json", "restore", backup_id, "--yes")
    result = cli_json(proc)
    assert proc.returncode == 0, result["errors"]
    assert result["status"] == "succeeded"
    assert result["plan"] == {"assignment": {"create": 1}}
    calls = served.counters()
    assert calls.get("sso-admin:CreateAccountAssignment") == 1
    assert not calls.get("sso-admin:DeleteAccountAssignment") and not calls.get("identitystore:CreateUser")
    skipped = [n for n in result["not_touched"] if "orphan assignment(s) in the backup" in n["what"]]
    assert len(skipped) == 1 and len(skipped[0]["addresses"]) == len(orphans)
    assert "nothing is created for them" in skipped[0]["reason"]
    # ... and the report (from the journal) says it too.
    report = cli_json(run_cli(env, "-o", "json", "report", "show", result["operation_id"]))
    assert any("orphan assignment(s) in the backup" in n["what"]
               for n in report["summary"]["recorded"]["not_touched"])
    shown = run_cli(env, "report", "show", result["operation_id"], "--format", "text")
    assert f"Not touched: {len(orphans)} orphan assignment(s) in the backup" in shown.stdout
    assert len([a for a in _all_assignments(t) if a["PrincipalId"] == user_id]) == len(orphans)

    text = run_cli(env, "restore", backup_id, "--dry-run")
    assert text.returncode == 0
    assert f"not touched: {len(orphans)} orphan assignment(s) in the backup" in text.stdout + text.stderr


def test_a_per_principal_backup_says_in_its_manifest_that_it_could_not_see_orphans(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=23)
    _t, _user_id, orphans = _orphan_a_user(served)

    proc = run_cli(env, "-o", "json", "backup", "create", "--assignment-strategy", "principal")
    backup = cli_json(proc)
    assert proc.returncode == 0, proc.stderr
    manifest = cli_json(run_cli(env, "-o", "json", "backup", "show", backup["backup_id"]))
    assert manifest["source"]["assignment_listing"] == "principal"
    assert manifest["orphan_assignments"]["visible"] is False
    assert "per principal" in manifest["orphan_assignments"]["note"]
    assert "--assignment-strategy permission-set" in manifest["orphan_assignments"]["note"]
    text = run_cli(env, "backup", "show", backup["backup_id"])
    assert "orphan assignments: not looked for" in text.stdout + text.stderr

    # The config key makes every backup list per permission set, and so see them.
    _strategy(served, "permission-set")
    proc = run_cli(env, "-o", "json", "backup", "create")
    seen = cli_json(proc)
    assert proc.returncode == 0, proc.stderr
    assert seen["orphan_assignments"] == {"visible": True, "count": len(orphans), "note": seen[
        "orphan_assignments"]["note"]} and seen["orphan_assignments"]["count"] >= 1

    bad = run_cli(env, "backup", "create", "--assignment-strategy", "everything")
    assert bad.returncode == 2 and "--assignment-strategy must be one of" in bad.stderr


def test_restore_prune_deletes_orphan_assignments_and_a_rollback_says_they_stay_deleted(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=23)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    t, user_id, orphans = _orphan_a_user(served)
    served.reset_counters()

    proc = run_cli(env, "-o", "json", "restore", backup_id, "--prune", "--yes")
    result = cli_json(proc)
    assert proc.returncode == 0, result["errors"]
    assert result["status"] == "succeeded"
    deleted = [c for c in result["changes"] if c["action"] == "delete" and user_id in c["address"]]
    assert len(deleted) == len(orphans)
    assert all("cannot be given back" in " ".join(c["notes"]) for c in deleted)
    assert served.counters().get("sso-admin:DeleteAccountAssignment") == len(orphans)
    assert not [a for a in _all_assignments(t) if a["PrincipalId"] == user_id], "an orphan is still assigned"
    # The user came back under a new id, with its assignments by name.
    assert len(_all_assignments(t)) == _backed_up_assignments(env, backup_id)

    rollback = run_cli(env, "-o", "json", "rollback", result["operation_id"], "--yes")
    undone = cli_json(rollback)
    assert rollback.returncode == 0, undone["errors"]
    assert undone["status"] == "succeeded" and undone["leftover"] == []
    assert any("stay deleted" in note for note in undone["notes"])
    assert not [a for a in _all_assignments(t) if a["PrincipalId"] == user_id]


def _backed_up_assignments(env: dict[str, str], backup_id: str) -> int:
    from tests.helpers import backup_records

    return len(backup_records(env, backup_id)["assignment"])


def test_diff_reports_orphan_assignments_apart_from_the_differences(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=23)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    _t, user_id, orphans = _orphan_a_user(served)
    _strategy(served, "permission-set")

    proc = run_cli(env, "-o", "json", "diff", backup_id)
    result = cli_json(proc)
    found = result["orphan_assignments"]
    assert found["to"] == {"visible": True, "count": len(orphans)}
    assert found["from"]["count"] == 0
    assert len(found["only_in_to"]) == len(orphans)
    assert all(o["orphan"] is True and o["principal_id"] == user_id for o in found["only_in_to"])
    # The deleted user is a difference (its assignments by name went with it); the orphans are not.
    assert not any(user_id in str(d) for d in result["differences"])

    text = run_cli(env, "diff", backup_id)
    assert f"Orphan assignments (principal deleted; not drift, never recreated): from 0, to {len(orphans)}" \
        in text.stdout
    assert f"only in to: user {user_id} ->" in text.stdout

    # A backup taken now holds them: compared with the live instance, they are on both sides.
    now = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    both = cli_json(run_cli(env, "-o", "json", "diff", now))["orphan_assignments"]
    assert len(both["in_both"]) == len(orphans) and both["only_in_to"] == both["only_in_from"] == []


def test_a_failed_prune_restore_rolls_back_everything_else_and_says_the_orphans_stay_deleted(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=23)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    t, user_id, orphans = _orphan_a_user(served)
    # The re-created user's assignments are denied in one account (an SCP): the restore fails
    # and rolls back; the orphans it deleted cannot be given back and must not stop that.
    denied = orphans[0]["AccountId"]
    served.set_faults({"quirks": {"orphan_assignments": True, "deny_accounts": [{"accounts": [denied]}]}})

    proc = run_cli(env, "-o", "json", "restore", backup_id, "--prune", "--yes")
    result = cli_json(proc)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert result["status"] == "rolled_back" and result["leftover"] == []
    gone = [a for a in _all_assignments(t) if a["PrincipalId"] == user_id]
    deleted = [c for c in result["applied"] if user_id in c]
    assert len(gone) == len(orphans) - len(deleted)
    assert deleted, "no orphan was deleted before the denial: the test proves nothing"
    assert any("stay deleted" in note for note in result["notes"]), result["notes"]

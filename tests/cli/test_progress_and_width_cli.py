"""End to end through the installed executable: progress at a pseudo-terminal (a live bar with
phase and done/total; under NO_COLOR/--no-color not one escape byte), the phases recorded in the
journal, the plan text naming every policy that changes, ids whole at 80 and 60 columns with
output piped, `diff --exit-code --quiet` silent, and one JSON shape for every list."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess

import pytest

from tests.drift import Target, drift
from tests.helpers import awsideman_command, cli_json, run_cli, run_in_process

pytestmark = pytest.mark.e2e
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
POLICIES = [f"arn:aws:iam::aws:policy/{name}" for name in
            ("PowerUserAccess", "IAMFullAccess", "job-function/ViewOnlyAccess", "AmazonS3ReadOnlyAccess")]


def run_at_terminal(env: dict[str, str], *args: str, timeout: float = 120) -> tuple[int, bytes]:
    """Run the executable with stdin, stdout and stderr on a pseudo-terminal; all it wrote, and its code."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([*awsideman_command(), *args], env=env, stdin=secondary, stdout=secondary,
                            stderr=secondary, close_fds=True)
    os.close(secondary)
    written = b""
    try:
        while True:
            ready, _, _ = select.select([primary], [], [], timeout)
            assert ready, f"no output for {timeout} s: {written[-2000:]!r}"
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal closed with the process (EIO on Linux)
                break
            if not chunk:
                break
            written += chunk
    finally:
        os.close(primary)
    return proc.wait(timeout=timeout), written


def _terminal_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    base = {k: v for k, v in env.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    return dict(base, TERM="xterm-256color", **extra)


def _drifted_backup(served) -> str:
    backup = cli_json(run_cli(served.env, "-o", "json", "backup", "create"))["backup_id"]
    drift(served.client)
    return backup


@pytest.mark.parametrize("how", ["NO_COLOR", "--no-color"])
def test_no_color_at_a_terminal_writes_no_escape_code_but_plain_progress(served_sandbox, how):
    served = served_sandbox
    served.seed("tiny", seed=201)
    env = _terminal_env(served.env, **({"NO_COLOR": "1"} if how == "NO_COLOR" else {}))
    flag = ["--no-color"] if how == "--no-color" else []
    code, backup = run_at_terminal(env, *flag, "backup", "create")
    assert code == 0 and b"\x1b" not in backup, backup
    backup_id = re.search(rb"Backup written: (bk-\S+)", backup)[1].decode()
    drift(served.client)
    code, restored = run_at_terminal(env, *flag, "restore", backup_id, "--yes")
    assert code == 0, restored
    assert b"\x1b" not in restored, restored  # no colour, no cursor movement, no erase-line
    text = restored.decode()
    assert re.search(r"^  applying: (\d+)/\1 in \d+\.\d s\r?$", text, re.M), text  # the phase's plain line


def test_progress_at_a_terminal_shows_the_phase_and_done_of_total(served_sandbox):
    served = served_sandbox
    served.seed("tiny", seed=202)
    backup_id = _drifted_backup(served)
    code, written = run_at_terminal(_terminal_env(served.env), "restore", backup_id, "--yes")
    assert code == 0, written
    shown = ANSI.sub("", written.decode())
    # The live bar (stderr): phase name, a bar, done/total; the closing summary has one line per phase.
    assert re.search(r"applying\s+[━╺╸\s]+(\d+)/\1", shown), shown
    assert re.search(r"reading\s+[━╺╸\s]+(\d+)/\1", shown), shown
    assert "ETA" in shown
    for phase in ("loading", "reading", "planning", "applying"):
        assert re.search(rf"^  {phase}: \d+/\d+ in \d+\.\d s\r?$", shown, re.M), (phase, shown)


def _phases(env: dict[str, str], operation_id: str) -> list[dict]:
    return cli_json(run_cli(env, "-o", "json", "report", "show", operation_id))["summary"]["recorded"]["phases"]


def _assert_in_order(phases: list[dict]) -> None:
    """Each phase took time of its own, and no two overlap (the journal's stamps sort by time)."""
    assert all(p["seconds"] > 0 and p["finished_at"] for p in phases), phases
    stamps = [stamp for p in phases for stamp in (p["started_at"], p["finished_at"])]
    assert stamps == sorted(stamps), phases


def test_a_restore_records_its_phases_with_their_own_times(served_sandbox):
    served = served_sandbox
    served.seed("tiny", seed=203)
    backup_id = _drifted_backup(served)
    result = cli_json(run_cli(served.env, "-o", "json", "restore", backup_id, "--yes"))
    phases = _phases(served.env, result["operation_id"])
    assert [p["name"] for p in phases] == ["loading", "reading", "planning", "applying"]
    _assert_in_order(phases)
    applying = phases[-1]
    assert applying["done"] == applying["total"] == len(result["changes"]) > 0
    assert phases[1]["done"] == phases[1]["total"] > 1  # one per read step


def test_ids_are_whole_at_80_and_60_columns_when_piped(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=204)
    backup_id = _drifted_backup(served)
    served.set_faults({"rules": [{"operation": "CreateAccountAssignment", "async_fail_after": 0,
                                  "failure_reason": "IAM role quota reached"}]})
    failed = run_cli(env, "-o", "json", "restore", backup_id, "--yes")
    assert failed.returncode == 4, failed.stdout + failed.stderr
    op = cli_json(failed)["operation_id"]
    served.set_faults({})
    # A rolled-back restore's phases: applying, then compensating, in order too.
    phases = _phases(env, op)
    assert [p["name"] for p in phases][-2:] == ["applying", "compensating"]
    _assert_in_order(phases)
    report = cli_json(run_cli(env, "-o", "json", "report", "show", op))
    addresses = [item["address"] for item in report["failed"]]
    assert addresses and all(len(a) > 40 for a in addresses)
    for columns in ("80", "60"):
        shown = run_cli(dict(env, COLUMNS=columns), "--no-color", "report", "show", op)
        listed = run_cli(dict(env, COLUMNS=columns), "--no-color", "report", "list")
        assert shown.returncode == 0 and listed.returncode == 0, shown.stderr + listed.stderr
        for text in (shown.stdout, listed.stdout):
            drawn = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
            assert all(len(line) <= int(columns) for line in drawn), (columns, text)  # COLUMNS honoured
        ids = set(re.findall(r"\b(?:op|bk)-\d{8}T\d{6}Z-[0-9a-f]{6}\b", report["summary"]["operation_id"]
                             + " " + backup_id + " " + " ".join(e["event"] for e in report["timeline"])))
        assert {op, backup_id} <= ids
        for whole in [*ids, *addresses]:
            assert whole in shown.stdout, (columns, whole, shown.stdout)
        assert op in listed.stdout and backup_id in listed.stdout


def test_plan_text_names_every_policy_and_diff_quiet_exit_code_prints_nothing(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=205)
    backup_id = _drifted_backup(served)  # drift: ReadOnlyAccess detached, AdministratorAccess attached
    target = Target(served.client)
    name, arn = next(iter(target.permission_sets().items()))
    ref = {"InstanceArn": target.arn, "PermissionSetArn": arn}
    kept = [p["Arn"] for p in target.sso.list_managed_policies_in_permission_set(**ref)["AttachedManagedPolicies"]]
    for policy in POLICIES:
        target.sso.attach_managed_policy_to_permission_set(**ref, ManagedPolicyArn=policy)

    dry = run_cli(env, "--no-color", "restore", backup_id, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    for policy in POLICIES:  # attached since the backup: the plan detaches each, named in full
        assert f"- {policy}" in dry.stdout, (policy, dry.stdout)
    assert all(policy in dry.stdout for policy in kept)
    assert "..." not in dry.stdout.split(f"permission_set:{name}", 1)[-1]

    quiet = run_cli(env, "diff", backup_id, "--exit-code", "--quiet")
    assert (quiet.returncode, quiet.stdout) == (3, ""), quiet.stdout + quiet.stderr
    shown = run_cli(env, "--no-color", "diff", backup_id, "--quiet")  # --quiet alone: no progress, the result
    assert shown.returncode == 0 and all(f"+ {policy}" in shown.stdout for policy in POLICIES), shown.stdout


def test_every_list_prints_an_object_with_its_items_and_a_count(served_sandbox, monkeypatch, capsys):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=206)
    made = [cli_json(run_cli(env, "-o", "json", "backup", "create")) for _ in range(2)]

    def listed(*args: str) -> dict:
        proc = run_in_process(monkeypatch, capsys, env, "-o", "json", *args)
        assert proc.returncode == 0, proc.stderr
        return cli_json(proc)

    backups = listed("backup", "list")
    assert set(backups) == {"store", "backups", "count"} and backups["count"] == len(backups["backups"]) == 2
    operations = listed("report", "list")
    assert set(operations) == {"operations", "count"} and operations["count"] == 2
    assert [o["operation_id"] for o in operations["operations"]] == [m["operation_id"] for m in made][::-1]
    assert listed("report", "list", "--limit", "1")["count"] == 1
    pruned = listed("backup", "prune", "--keep-last", "1", "--dry-run")
    assert pruned["counts"] == {"kept": len(pruned["kept"]), "deleted": len(pruned["deleted"])} == {"kept": 1,
                                                                                                     "deleted": 1}

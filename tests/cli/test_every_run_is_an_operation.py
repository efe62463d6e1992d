"""End to end through the installed executable (issue 20, findings 7, 8 and 14): every backup,
restore and rollback that gets past its argument checks is an operation with a report, also when
it fails before its first change; the plan is shown once, before the prompt or the apply; a
declined prompt changes nothing and exits 0; Ctrl-C names the command that continues the run."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from awsideman.services.restore import MUTATING_PREFIXES
from tests.drift import drift
from tests.helpers import awsideman_command, cli_json, paced_config, run_cli

pytestmark = pytest.mark.e2e
DENY_DISCOVERY = {"rules": [{"operation": "ListInstances", "fail_after": 0, "error": "AccessDeniedException"}]}
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def _mutating(calls: dict[str, int]) -> int:
    return sum(n for key, n in calls.items() if key.split(":", 1)[-1].startswith(MUTATING_PREFIXES))


def _operations(env) -> list[dict]:
    return cli_json(run_cli(env, "-o", "json", "report", "list", "--limit", "50"))["operations"]


def _drifted_backup(served) -> str:
    served.seed("tiny", seed=71)
    backup_id = cli_json(run_cli(served.env, "-o", "json", "backup", "create"))["backup_id"]
    drift(served.client)
    return backup_id


class Terminal:
    """The executable on a pseudo-terminal (stdin, stdout and stderr): read until a text shows, answer."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.primary, secondary = pty.openpty()
        self.proc = subprocess.Popen([*awsideman_command(), *args], env=env, stdin=secondary, stdout=secondary,
                                     stderr=secondary, close_fds=True)
        os.close(secondary)
        self.written = b""
        self.seen_at: dict[bytes, float] = {}  # when a watched text first showed (wall clock)

    def read_until(self, text: bytes | None, timeout: float = 120, watch: tuple[bytes, ...] = ()) -> None:
        """Read until ``text`` shows (None: until the process closes the terminal)."""
        deadline = time.monotonic() + timeout
        while text is None or text not in ANSI.sub(b"", self.written):
            ready, _, _ = select.select([self.primary], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"{text!r} did not show: {self.written[-3000:]!r}"
            try:
                chunk = os.read(self.primary, 65536)
            except OSError:  # closed with the process (EIO on Linux)
                chunk = b""
            if not chunk:
                assert text is None, f"ended before {text!r} showed: {self.written[-3000:]!r}"
                return
            self.written += chunk
            for watched in watch:
                if watched in ANSI.sub(b"", self.written):
                    self.seen_at.setdefault(watched, time.time())

    def answer(self, line: str) -> None:
        os.write(self.primary, line.encode() + b"\n")

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        self.read_until(None, timeout)
        os.close(self.primary)
        return self.proc.wait(timeout=timeout), ANSI.sub(b"", self.written).decode(errors="replace")


def _terminal_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    base = {k: v for k, v in env.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    return dict(base, TERM="xterm-256color", **extra)


# -- finding 14: failures before the first change are operations ---------------------------------


def test_a_backup_denied_at_its_first_read_has_an_operation_a_log_and_a_report(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=72)
    served.set_faults(DENY_DISCOVERY)
    failed = run_cli(env, "backup", "create")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    [op] = _operations(env)
    assert op["kind"] == "backup" and op["status"] == "failed"
    assert f"Operation: {op['operation_id']}" in " ".join(failed.stderr.split())
    report = cli_json(run_cli(env, "-o", "json", "report", "show", "last"))
    assert report["operation_id"] == op["operation_id"] and report["summary"]["instance_arn"] is None
    assert [(e["category"], e["code"]) for e in report["errors"]] == [("authorization", "AccessDeniedException")]
    assert report["next_command"] == f"awsideman backup create --resume {op['operation_id']}"
    log = Path(env["AWSIDEMAN_HOME"]) / "logs" / f"{op['operation_id']}.log"
    assert log.exists() and "ListInstances" in log.read_text()

    served.set_faults({})  # once the permission is granted, the resume is a whole backup
    resumed = cli_json(run_cli(env, "-o", "json", "backup", "create", "--resume", op["operation_id"]))
    assert resumed["status"] == "succeeded" and resumed["operation_id"] == op["operation_id"]
    assert cli_json(run_cli(env, "-o", "json", "report", "show", "last"))["summary"]["instance_arn"]


def test_a_restore_of_a_corrupt_backup_is_a_failed_operation_that_suggests_no_resume(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    backup_id = _drifted_backup(served)
    payload = Path(env["AWSIDEMAN_HOME"]) / "backups" / backup_id / "snapshot.json.gz"
    payload.write_bytes(payload.read_bytes()[:-8])
    served.reset_counters()
    refused = run_cli(env, "restore", backup_id, "--yes")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert _mutating(served.counters()) == 0
    op = _operations(env)[0]
    assert (op["kind"], op["status"], op["backup_id"]) == ("restore", "failed", backup_id)
    assert "--resume" not in refused.stderr and "awsideman rollback" not in refused.stderr, refused.stderr
    report = cli_json(run_cli(env, "-o", "json", "report", "show", op["operation_id"]))
    assert [e["category"] for e in report["errors"]] == ["validation"]
    assert report["next_command"] == f"awsideman restore {backup_id} --dry-run"
    assert not any("--resume" in step or "rollback" in step for step in report["recovery"]), report["recovery"]


def test_a_failed_dry_run_is_journaled_and_a_successful_one_is_not(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    backup_id = _drifted_backup(served)
    before = _operations(env)
    planned = run_cli(env, "-o", "json", "restore", backup_id, "--dry-run")
    assert planned.returncode == 0 and cli_json(planned)["operation_id"] is None, planned.stderr
    assert _operations(env) == before  # nothing happened: nothing to report
    assert run_cli(env, "rollback", before[0]["operation_id"], "--dry-run").returncode == 2  # a backup: refused
    assert _operations(env) == before

    served.set_faults(DENY_DISCOVERY)
    failed = run_cli(env, "-o", "json", "restore", backup_id, "--dry-run")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    closing = cli_json(failed)
    op = _operations(env)[0]
    assert op["operation_id"] == closing["operation_id"] and op["status"] == closing["status"] == "failed"
    report = cli_json(run_cli(env, "-o", "json", "report", "show", "last"))
    assert report["summary"]["params"]["dry_run"] is True and report["backup_id"] == backup_id
    assert report["next_command"] == closing["next_command"] == f"awsideman restore {backup_id} --dry-run"
    assert "--resume" not in failed.stdout + failed.stderr


def test_an_empty_plan_is_a_succeeded_restore_with_nothing_to_undo(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=73)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    same = cli_json(run_cli(env, "-o", "json", "restore", backup_id, "--yes"))
    assert same["status"] == "succeeded" and same["operation_id"] and same["mutating_calls"] == 0
    report = cli_json(run_cli(env, "-o", "json", "report", "show", same["operation_id"]))
    assert report["status"] == "succeeded" and report["next_command"] is None
    assert not any("rollback" in step for step in report["recovery"]), report["recovery"]
    nothing = cli_json(run_cli(env, "-o", "json", "rollback", same["operation_id"], "--yes"))
    assert nothing["status"] == "succeeded" and nothing["operation_id"]
    # A rollback that had nothing to revert does not make the restore "rolled back".
    assert cli_json(run_cli(env, "-o", "json", "report", "show", same["operation_id"]))["status"] == "succeeded"
    listed = {o["operation_id"]: o["status"] for o in _operations(env)}
    assert listed[same["operation_id"]] == "succeeded" and listed[nothing["operation_id"]] == "succeeded"


def _at_the_restore_prompt(served) -> tuple[str, list[dict], Terminal]:
    """A drifted sandbox's restore waiting at its prompt: its backup, the operations before it; counters reset."""
    backup_id = _drifted_backup(served)
    before = _operations(served.env)
    served.reset_counters()
    term = Terminal(_terminal_env(served.env), "restore", backup_id)
    term.read_until(b"Apply these ")
    return backup_id, before, term


# -- finding 7: the plan once, before the prompt or the apply; declining is not an error ------------


def test_at_a_terminal_the_plan_shows_once_before_the_prompt_and_no_changes_nothing(served_sandbox):
    served = served_sandbox
    backup_id, before, term = _at_the_restore_prompt(served)
    assert _mutating(served.counters()) == 0  # waiting at the prompt: nothing changed yet
    term.answer("n")
    code, text = term.finish()
    assert code == 0, text
    assert "Nothing changed" in text and "Error" not in text and "UsageError" not in text, text
    assert text.count("Restore plan") == 1, text
    assert _mutating(served.counters()) == 0
    assert _operations(served.env) == before  # declined: no operation

    term = Terminal(_terminal_env(served.env), "restore", backup_id)
    term.read_until(b"Apply these ")
    assert _mutating(served.counters()) == 0
    term.answer("y")
    code, text = term.finish()
    assert code == 0, text
    assert text.count("Restore plan") == 1, text  # not again with the result (it was twice)
    assert text.index("Restore plan") < text.index("Apply these ") < text.index("Restore succeeded")
    assert _mutating(served.counters()) > 0


def test_with_yes_at_a_terminal_the_plan_shows_before_the_first_change(served_sandbox):
    served = served_sandbox
    backup_id = _drifted_backup(served)
    served.set_faults({"rules": [{"operation": "*", "latency_ms": 40}]})  # an apply that lasts a moment
    served.reset_counters()
    term = Terminal(_terminal_env(served.env, NO_COLOR="1"), "restore", backup_id, "--yes")
    term.read_until(b"Restore plan", watch=(b"Restore plan",))
    code, text = term.finish()
    assert code == 0, text
    assert text.count("Restore plan") == 1, text
    # Changes were still being made after the plan showed (before, it showed after the last one).
    assert _mutating(served.calls_since(term.seen_at[b"Restore plan"]).calls) > 0
    assert text.index("Restore plan") < text.index("  applying ...") < text.index("Restore succeeded"), text


def test_declining_a_rollback_at_a_terminal_changes_nothing_and_exits_0(served_sandbox):
    served = served_sandbox
    backup_id = _drifted_backup(served)
    op = cli_json(run_cli(served.env, "-o", "json", "restore", backup_id, "--yes"))["operation_id"]
    before = _operations(served.env)
    served.reset_counters()
    term = Terminal(_terminal_env(served.env), "rollback", op)
    term.read_until(b"Revert these ")
    term.answer("n")
    code, text = term.finish()
    assert code == 0 and "Nothing changed" in text and "Error" not in text, text
    assert _mutating(served.counters()) == 0 and _operations(served.env) == before


# -- finding 8: Ctrl-C names the command that continues the run -------------------------------------


def test_ctrl_c_during_apply_prints_the_resume_command_with_the_real_id(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("small", seed=74)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    drift(served.client)
    served.set_faults({"latency_ms": 20})
    served.reset_counters()
    proc = subprocess.Popen([*awsideman_command(), "--config", paced_config(served.home), "restore", backup_id,
                             "--prune", "--yes", "--no-auto-rollback"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _mutating(served.counters()) == 0:
        assert proc.poll() is None, "finished before the stop point: " + proc.stderr.read()
        assert time.monotonic() < deadline, "no change was ever made"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    op = _operations(env)[0]
    assert op["status"] == "interrupted"
    said = " ".join(err.split())
    assert f"Continue: awsideman restore --resume {op['operation_id']}" in said, err
    assert f"awsideman rollback {op['operation_id']}" in said, err  # the other way
    assert "--debug" not in err and "report it" not in err and "OP_ID" not in err and "Traceback" not in err, err
    report = cli_json(run_cli(env, "-o", "json", "report", "show", op["operation_id"]))
    assert report["next_command"] == f"awsideman restore --resume {op['operation_id']}"
    assert report["backup_id"] == backup_id


def test_ctrl_c_at_the_prompt_changes_nothing_and_leaves_no_operation(served_sandbox):
    served = served_sandbox
    backup_id, before, term = _at_the_restore_prompt(served)
    term.proc.send_signal(signal.SIGINT)  # the prompt itself is interrupted, at once
    code, text = term.finish()  # the default guard: a loaded CI machine is slow to start and stop
    assert code == 130 and "Nothing changed" in text, text
    assert "Traceback" not in text and "--debug" not in text, text
    assert _mutating(served.counters()) == 0 and _operations(served.env) == before

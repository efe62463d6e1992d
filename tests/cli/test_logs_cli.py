"""End to end through the executable: an operation's log is readable by people and by
`analyze-error --file`, and says what its report says (issue 20, finding 2 / Deliver 3).

A restore that fails for good (an asynchronous request ends FAILED): its log has one line per
event with time, level, operation and phase; it ends with the analysed error, what to do, and the
final status with the next command; `analyze-error --file` on it names the error with the category
`report show` gives.
"""

from __future__ import annotations

import re

import pytest

from tests.drift import drift
from tests.helpers import cli_json, run_cli

pytestmark = pytest.mark.e2e
FAIL = {"operation": "CreateAccountAssignment", "async_fail_after": 0, "failure_reason": "IAM role quota reached"}
LINE = re.compile(r"^(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<level>DEBUG|INFO|WARNING|ERROR) "
                  r"(?P<op>op-\d{8}T\d{6}Z-[0-9a-z]{6}|-) \[(?P<phase>[a-z]+|-)\] (?P<logger>awsideman[\w.]*): "
                  r"(?P<message>.+)$")


@pytest.mark.parametrize(("flags", "exit_code", "status"), [((), 4, "rolled_back"),
                                                             (("--no-auto-rollback",), 5, "failed")],
                         ids=["auto-rollback", "no-auto-rollback"])
def test_the_log_of_a_failed_restore_ends_with_its_error_and_status_and_analyze_error_reads_it(
        served_sandbox, flags, exit_code, status):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=123)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    drift(served.client)
    served.set_faults({"rules": [FAIL]})
    restore = run_cli(env, "-o", "json", "restore", backup_id, "--prune", "--yes", *flags)
    assert restore.returncode == exit_code, restore.stdout + restore.stderr
    op = cli_json(restore)["operation_id"]
    report = cli_json(run_cli(env, "-o", "json", "report", "show", op))
    assert report["status"] == status and report["errors"]

    log = served.home / "logs" / f"{op}.log"
    lines = log.read_text().splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), [line for line, match in zip(lines, parsed, strict=True) if not match]
    times = [m["at"] for m in parsed if m]
    assert times == sorted(times)  # UTC, milliseconds: they sort as written
    mine = [m for m in parsed if m and m["op"] == op]
    assert {"applying"} <= {m["phase"] for m in mine}
    assert any(m["phase"] == "applying" and m["logger"] == "awsideman.aws" for m in mine)  # worker threads too
    assert any(m["level"] == "WARNING" and m["logger"] == "awsideman.apply" and "IAM role quota" in m["message"]
               for m in mine)

    # The end: each of the report's errors, what to do about it, then the status and the next command.
    ending: list[str] = []
    for error in report["errors"]:
        ending.append(f"error category={error['category']} severity={error['severity']} recoverable="
                      f"{'yes' if error['recoverable'] else 'no'} code={error['code']}: {error['message']}")
        ending += [f"what to do: {step}" for step in error["remediation"]]
    ended = f"restore {op} ended: status={status}"
    ending.append(f"{ended}; next: {report['next_command']}" if report["next_command"] else ended)
    tail = parsed[-len(ending):]
    assert [m["message"] for m in tail if m] == ending
    assert all(m and m["op"] == op and m["logger"] == "awsideman.run" for m in tail)
    assert tail[0] and tail[0]["level"] == "ERROR" and tail[-1] and tail[-1]["level"] == "WARNING"

    # analyze-error --file names that error, with the report's category, its line and operation.
    found = cli_json(run_cli(env, "-o", "json", "analyze-error", "--file", str(log)))
    assert found["omitted"] == 0
    assert [(e["category"], e["code"]) for e in found["errors"]] == [
        (e["category"], e["code"]) for e in report["errors"]]
    assert all(e["operation_id"] == op and lines[e["line"] - 1].split(": ", 1)[1].startswith("error category=")
               for e in found["errors"])
    assert found["errors"][0]["remediation"] == report["errors"][0]["remediation"]
    text = run_cli(env, "analyze-error", "--file", str(log))
    assert text.returncode == 0 and f"Error 1 of {len(report['errors'])} (line " in text.stdout
    assert report["errors"][0]["category"] in text.stdout and op in text.stdout


def test_a_successful_backup_log_ends_with_its_status(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=5)
    op = cli_json(run_cli(env, "-o", "json", "backup", "create"))["operation_id"]
    lines = (served.home / "logs" / f"{op}.log").read_text().splitlines()
    assert all(LINE.match(line) for line in lines)
    assert lines[-1].endswith(f" INFO {op} [-] awsideman.run: backup {op} ended: status=succeeded")
    assert any(f" {op} [reading] awsideman.aws: request " in line for line in lines)
    found = cli_json(run_cli(env, "-o", "json", "analyze-error", "--file",
                             str(served.home / "logs" / f"{op}.log")))
    assert found["count"] == 0 and found["errors"] == []

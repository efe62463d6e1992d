"""End to end: a restore that fails for good is rolled back; `report show` names the failure, its
category, remediation and the next command in all three formats; the metrics file parses with
the Prometheus client's parser and shows the failed run beside the backup's last success."""

from __future__ import annotations

import json
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.drift import drift
from tests.helpers import run_cli, run_in_process

pytestmark = pytest.mark.e2e
ANSI = "\x1b["


def _one_document(proc):
    assert ANSI not in proc.stdout
    return json.loads(proc.stdout)  # exactly one document, or this raises


def _samples(path):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(path.read_text()) for s in family.samples}


def test_rolled_back_restore_report_in_three_formats_and_metrics(served_sandbox, tmp_path, monkeypatch, capsys):
    served, env = served_sandbox, served_sandbox.env

    def run(*args):  # the report and prune checks: cli.entry.main in this process, ~1 s less each
        return run_in_process(monkeypatch, capsys, env, *args)

    metrics = tmp_path / "textfile" / "awsideman.prom"
    served.seed("tiny", seed=123)
    backup = run_cli(env, "--metrics-file", str(metrics), "backup", "create")  # text mode, no terminal
    assert backup.returncode == 0 and backup.stderr == "", backup.stderr  # so no progress at all
    backup_id = re.search(r"Backup written: (bk-\S+)", backup.stdout)[1]
    assert re.search(r"report: awsideman report show op-\S+", backup.stdout)
    success = _samples(metrics)[("awsideman_last_success_timestamp_seconds", (("operation", "backup"),))]
    drift(served.client)
    served.set_faults({"rules": [{"operation": "CreateAccountAssignment", "async_fail_after": 0,
                                  "failure_reason": "IAM role quota reached"}]})
    restore = run_cli(env, "--metrics-file", str(metrics), "-o", "json", "restore", backup_id,
                      "--prune", "--yes")
    assert restore.returncode == 4, restore.stdout + restore.stderr
    op = _one_document(restore)["operation_id"]

    report = _one_document(run("-o", "json", "report", "show", "last"))
    assert report["operation_id"] == op and report["status"] == "rolled_back"
    group = report["failures"][0]
    assert group["remediation"] and any("IAM role quota" in m for m in group["messages"])
    next_command = f"awsideman restore {backup_id} --dry-run"
    assert report["next_command"] == next_command
    for fmt, marker in (("text", "Next command: "), ("markdown", "### Next command")):
        shown = run("report", "show", op, "--format", fmt)
        assert shown.returncode == 0 and ANSI not in shown.stdout and marker in shown.stdout
        assert group["category"] in shown.stdout and next_command in shown.stdout
        assert group["remediation"][0][:40] in shown.stdout

    samples = _samples(metrics)
    restore_kind = (("operation", "restore"),)
    assert samples[("awsideman_last_run_success", restore_kind)] == 0
    assert samples[("awsideman_last_run_status", (("operation", "restore"), ("status", "rolled_back")))] == 1
    assert samples[("awsideman_last_run_errors", (("category", group["category"]), ("operation", "restore")))] >= 1
    assert samples[("awsideman_last_run_api_calls", restore_kind)] > 0
    assert ("awsideman_last_success_timestamp_seconds", restore_kind) not in samples
    assert samples[("awsideman_last_success_timestamp_seconds", (("operation", "backup"),))] == success
    log = served.home / "logs" / f"{op}.log"
    assert log.stat().st_mode & 0o777 == 0o600 and "Applying" in log.read_text()

    refused = run("-o", "json", "backup", "prune", "--keep-last", "1")  # no terminal, no --yes
    assert refused.returncode == 2 and "--yes" in _one_document(refused)["errors"][0]["message"]
    dry = run("backup", "prune", "--keep-last", "1", "--dry-run", "-o", "json")
    assert dry.returncode == 0 and [k["backup_id"] for k in _one_document(dry)["kept"]] == [backup_id]

"""End to end through the executable: CloudWatch metrics (issue 24, item 5).

With `metrics: {cloudwatch: ...}` every run sends the Prometheus file's figures with
PutMetricData; read back from the emulator (ListMetrics, GetMetricData) after a backup and a
failed restore, each metric has the file's value, the sample's labels and the configured
dimensions as its dimensions. A CloudWatch that fails is retried by the one retry owner within
the configured timeout, then warned about; the run's result stands.
"""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families

from awsideman.adapters.aws import AwsGateway
from awsideman.adapters.cloudwatch_metrics import put_metric_data
from awsideman.core.retry import RetryConfig, RetryPolicy
from tests.drift import drift
from tests.helpers import cli_json, run_cli

pytestmark = pytest.mark.e2e
NAMESPACE = "awsideman-ci"
FAIL = {"operation": "CreateAccountAssignment", "async_fail_after": 0, "failure_reason": "IAM role quota reached"}


def _configure(served, text):
    config = served.home / "config.yaml"  # the unpaced rate limits stay (tests/conftest.py)
    config.write_text(config.read_text() + text)


def _file_samples(path, kind):
    """The metrics file's samples of one operation kind: {(name, dimensions): value}."""
    found = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            if sample.labels.get("operation") == kind:
                found[(sample.name.removeprefix("awsideman_"), tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _cloudwatch_values(cloudwatch, keys):
    """The latest value CloudWatch holds for each (name, labels), with the configured dimension."""
    now = dt.datetime.now(dt.UTC)
    keys = sorted(keys)
    values = {}
    for start in range(0, len(keys), 100):
        chunk = keys[start:start + 100]
        queries = [{"Id": f"m{i}", "ReturnData": True, "MetricStat": {"Period": 60, "Stat": "Maximum", "Metric": {
            "Namespace": NAMESPACE, "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted((*labels, ("environment", "ci")))]}}}
            for i, (name, labels) in enumerate(chunk)]
        answer = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=now - dt.timedelta(hours=1),
                                            EndTime=now + dt.timedelta(hours=1))
        for result in answer["MetricDataResults"]:
            key = chunk[int(result["Id"][1:])]
            values[key] = result["Values"][0] if result["Values"] else None
    return values


def test_the_metrics_files_figures_reach_cloudwatch_after_a_backup_and_a_failed_restore(served_sandbox, tmp_path):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=123)
    _configure(served, f"metrics:\n  cloudwatch: {{namespace: {NAMESPACE}, dimensions: {{environment: ci}}}}\n")
    metrics = tmp_path / "awsideman.prom"
    backup = run_cli(env, "--metrics-file", str(metrics), "-o", "json", "backup", "create")
    assert backup.returncode == 0 and backup.stderr == "", backup.stderr
    cloudwatch = served.client("cloudwatch")
    assert served.counters()["cloudwatch:PutMetricData"] == 1

    listed = {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
              for page in cloudwatch.get_paginator("list_metrics").paginate(Namespace=NAMESPACE)
              for m in page["Metrics"]}
    in_file = _file_samples(metrics, "backup")
    assert len(in_file) > 20
    assert {(name, tuple(sorted((*labels, ("environment", "ci"))))) for name, labels in in_file} == listed
    assert _cloudwatch_values(cloudwatch, in_file) == in_file
    assert in_file[("last_run_success", (("operation", "backup"),))] == 1.0

    drift(served.client)
    served.set_faults({"rules": [FAIL]})
    restore = run_cli(env, "--metrics-file", str(metrics), "-o", "json", "restore",
                      cli_json(backup)["backup_id"], "--prune", "--yes")
    assert restore.returncode == 4, restore.stdout + restore.stderr
    report = cli_json(run_cli(env, "-o", "json", "report", "show", cli_json(restore)["operation_id"]))
    restored = _file_samples(metrics, "restore")
    assert _cloudwatch_values(cloudwatch, restored) == restored
    mine = (("operation", "restore"),)
    assert restored[("last_run_success", mine)] == 0.0
    assert restored[("last_run_status", (*mine, ("status", "rolled_back")))] == 1.0
    for state, number in report["counts"].items():
        assert restored[("last_run_changes", (*mine, ("state", state)))] == number
    for group in report["failures"]:
        assert restored[("last_run_errors", (("category", group["category"]), *mine))] == group["count"]


def test_a_failing_cloudwatch_is_retried_within_its_timeout_then_warned_about(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=5)
    _configure(served, "metrics:\n  cloudwatch: {timeout: 2}\n")
    served.set_faults({"rules": [{"operation": "cloudwatch:PutMetricData", "server_error": 1}]})
    backup = run_cli(env, "-o", "json", "backup", "create")
    assert backup.returncode == 0, backup.stderr
    assert cli_json(backup)["status"] == "succeeded"
    assert "Could not send the metrics to CloudWatch: " in backup.stderr, backup.stderr
    attempts = served.counters()["cloudwatch:PutMetricData"]
    assert attempts > 1  # retried by the one retry owner...
    assert attempts == sum(n for key, n in served.fault_counters().items() if key.startswith("cloudwatch:"))


def test_more_metrics_than_one_request_takes_go_in_batches_of_1000(served_sandbox):
    served = served_sandbox
    now = dt.datetime.now(dt.UTC)
    data = [{"MetricName": f"m{i:04d}", "Value": float(i), "Timestamp": now, "Unit": "Count",
             "Dimensions": [{"Name": "operation", "Value": "backup"}]} for i in range(2001)]
    with pytest.MonkeyPatch.context() as patch:  # the product's gateway, pointed at the emulator
        for key, value in served.env.items():
            patch.setenv(key, value)
        gateway = AwsGateway(profile=None, region=served.region, retry=RetryPolicy(RetryConfig()))
        assert put_metric_data(gateway, NAMESPACE, data) == 3
    assert served.counters()["cloudwatch:PutMetricData"] == 3
    names = {m["MetricName"] for page in served.client("cloudwatch").get_paginator("list_metrics").paginate(
        Namespace=NAMESPACE) for m in page["Metrics"]}
    assert names == {f"m{i:04d}" for i in range(2001)}


def test_a_long_run_reports_its_progress_every_interval_while_it_lasts(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=124)
    backup = cli_json(run_cli(env, "-o", "json", "backup", "create"))
    _configure(served, f"metrics:\n  cloudwatch: {{namespace: {NAMESPACE}, progress_interval: 1}}\n")
    drift(served.client)
    served.set_faults({"async_seconds": 2.5})  # each assignment request takes 2.5 s: a run of several seconds
    served.reset_counters()
    restore = run_cli(env, "-o", "json", "restore", backup["backup_id"], "--prune", "--yes")
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert served.counters()["cloudwatch:PutMetricData"] >= 2  # the end of the run, and progress before it
    listed = {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
              for page in served.client("cloudwatch").get_paginator("list_metrics").paginate(Namespace=NAMESPACE)
              for m in page["Metrics"]}
    progress = {dims for name, dims in listed if name == "progress_done"}
    assert progress and all(dict(dims)["operation"] == "restore" for dims in progress)
    assert (("operation", "restore"),) in {dims for name, dims in listed if name == "progress_elapsed_seconds"}
    assert "progress report" not in restore.stderr  # nothing failed: no warning

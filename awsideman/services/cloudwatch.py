"""The run's figures in CloudWatch (``metrics: {cloudwatch: ...}``): the Prometheus file's
samples (``services/metrics.py``), one metric each, sent with PutMetricData when a run ends.

A metric is named as the sample is, without the ``awsideman_`` prefix (the namespace says it):
``last_run_success``, ``last_success_timestamp_seconds``... Its dimensions are the sample's
labels (``operation``, and ``status``/``category``/``resource``/``state`` where it has one)
and the configured ``dimensions``. Sending is bounded by ``timeout`` (retries included, through
a gateway of its own, so a run stopped with Ctrl-C still reports how it ended) and never fails
the run: the caller turns an error into a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from awsideman.adapters import cloudwatch_metrics
from awsideman.config import Settings
from awsideman.core.metrics_config import CloudWatchConfig
from awsideman.core.retry import RetryPolicy

# Units CloudWatch shows next to a value; the rest are plain numbers (1/0 flags, Unix times).
_COUNTS = ("last_run_resources", "last_run_changes", "last_run_api_calls", "last_run_retries",
           "last_run_throttles", "last_run_errors", "last_run_notifications_failed")


def metric_data(samples: Sequence[tuple[str, tuple[tuple[str, str], ...], float]], config: CloudWatchConfig,
                now: float) -> list[dict[str, Any]]:
    """One PutMetricData datum per sample, stamped ``now`` (epoch seconds)."""
    stamp = datetime.fromtimestamp(now, UTC)
    extra = [(str(k), str(v)) for k, v in config.dimensions.items()]
    data = []
    for name, labels, value in samples:
        unit = "Seconds" if name == "last_run_duration_seconds" else "Count" if name in _COUNTS else "None"
        # Sorted by name: CloudWatch treats them as a set, but a reader (or emulator) comparing
        # lists finds the same metric every run.
        dimensions = [{"Name": k, "Value": v} for k, v in sorted([*labels, *extra])]
        data.append({"MetricName": name, "Dimensions": dimensions, "Timestamp": stamp, "Value": float(value),
                     "Unit": unit})
    return data


def send(settings: Settings, samples: Sequence[tuple[str, tuple[tuple[str, str], ...], float]], *,
         now: float | None = None, gateway: Any = None, clock: Callable[[], float] = time.monotonic) -> int:
    """Send ``samples`` to the configured namespace; returns the number of PutMetricData calls."""
    config = settings.metrics.cloudwatch
    if config is None or not samples:
        return 0
    if gateway is None:
        from awsideman.adapters.aws import AwsGateway

        policy = RetryPolicy(replace(settings.retry, deadline=config.timeout), clock=clock)
        gateway = AwsGateway(profile=settings.profile, region=settings.region, retry=policy, max_pool=2,
                             timeout=config.timeout)
    data = metric_data(samples, config, time.time() if now is None else now)
    return cloudwatch_metrics.put_metric_data(gateway, config.namespace, data)

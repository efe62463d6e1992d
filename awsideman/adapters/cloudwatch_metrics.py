"""Send metric data to CloudWatch through the gateway, in batches the API accepts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

BATCH = 1000  # PutMetricData: at most 1000 metrics per request


def batches(data: Sequence[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    """``data`` in lists of at most ``size`` metrics, in order."""
    if size < 1:
        raise ValueError("a batch holds at least one metric")
    for start in range(0, len(data), size):
        yield list(data[start:start + size])


def put_metric_data(gateway: Any, namespace: str, data: Sequence[dict[str, Any]], *, size: int = BATCH) -> int:
    """Send every metric of ``data`` to ``namespace``; returns how many requests it took.

    A datum sent twice (a retry after a lost answer) is one more data point of the same value at
    the same timestamp: Maximum, Minimum and Average stay as they were, and a Sum of successes
    stays >= 1, so retrying is safe for the alarms the README shows.
    """
    calls = 0
    for batch in batches(data, size):
        gateway.call("cloudwatch", "PutMetricData", Namespace=namespace, MetricData=batch)
        calls += 1
    return calls

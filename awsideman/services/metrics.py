"""Prometheus textfile metrics for node_exporter's textfile collector (``--metrics-file``).

One file holds every operation kind (label ``operation``: backup, restore, rollback). Each run
replaces its own kind's samples and keeps the other kinds' from the previous file, so a restore
never hides last night's backup from the alert. The last success survives failed runs: it is
the newest of the previous file's value and the journal's last succeeded operation of the kind.
The file is written with prometheus_client's ``write_to_textfile`` (temp file + rename).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import write_to_textfile
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry

from awsideman.core.error_table import CATEGORIES
from awsideman.journal import STATUSES, SUCCEEDED, Operation, StateJournal, parse_timestamp

PREFIX = "awsideman_"
# name -> (help, label names besides `operation`)
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "last_run_timestamp_seconds": ("When the last run of this operation kind ended (Unix time).", ()),
    "last_success_timestamp_seconds": ("When a run of this operation kind last succeeded (Unix time).", ()),
    "last_run_duration_seconds": ("Wall time of the last run.", ()),
    "last_run_success": ("1 if the last run succeeded, else 0.", ()),
    "last_run_status": ("1 for the status the last run ended with.", ("status",)),
    "last_run_resources": ("Resources in the backup the last run wrote, by kind.", ("resource",)),
    "last_run_changes": ("Changes of the last restore or rollback, by outcome.", ("state",)),
    "last_run_api_calls": ("AWS API calls (attempts) the last run made.", ()),
    "last_run_retries": ("Retries the last run made.", ()),
    "last_run_throttles": ("Throttled attempts the last run saw.", ()),
    "last_run_errors": ("Errors of the last run by category.", ("category",)),
    "last_run_notifications_failed": ("Notifications of the last run that could not be delivered (notify:).", ()),
}

Sample = tuple[str, tuple[tuple[str, str], ...], float]


@dataclass
class RunFigures:
    """What the process knows about a run beyond the journal (from the gateway's counters)."""

    api_calls: int = 0
    retries: int = 0
    throttles: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # Set only when sinks are configured (``notify:``): without them there is no such sample.
    notifications_failed: int | None = None


def operation_samples(op: Operation, journal: StateJournal, figures: RunFigures, now: float) -> list[Sample]:
    """The samples of one finished operation (its kind's complete set), from its account."""
    from awsideman.services.account import operation_account

    account = operation_account(journal, op.id)
    status = account.status
    kind = (("operation", op.kind),)
    finished = account.summary.get("finished_at")
    ended = parse_timestamp(finished).timestamp() if finished else now
    samples: list[Sample] = [
        ("last_run_timestamp_seconds", kind, ended),
        ("last_run_duration_seconds", kind, float(account.duration_seconds or 0.0)),
        ("last_run_success", kind, 1.0 if status == SUCCEEDED else 0.0),
        ("last_run_api_calls", kind, float(figures.api_calls)),
        ("last_run_retries", kind, float(figures.retries)),
        ("last_run_throttles", kind, float(figures.throttles)),
    ]
    if figures.notifications_failed is not None:
        samples.append(("last_run_notifications_failed", kind, float(figures.notifications_failed)))
    samples += [("last_run_status", (*kind, ("status", s)), 1.0 if s == status else 0.0) for s in STATUSES]
    errors = {c: 0 for c in CATEGORIES}
    for group in account.failures:
        errors[group["category"]] = errors.get(group["category"], 0) + group["count"]
    samples += [("last_run_errors", (*kind, ("category", c)), float(n)) for c, n in sorted(errors.items())]
    counts = (op.summary or {}).get("counts") or {}
    if op.kind == "backup":
        samples += [("last_run_resources", (*kind, ("resource", r)), float(n)) for r, n in sorted(counts.items())
                    if isinstance(n, int | float)]
    else:
        samples += [("last_run_changes", (*kind, ("state", s)), float(n)) for s, n in account.counts.items()]
    success = _last_success(journal, op.kind)
    if status == SUCCEEDED:
        success = max(success or 0.0, ended)
    if success is not None:
        samples.append(("last_success_timestamp_seconds", kind, success))
    return samples


def _last_success(journal: StateJournal, kind: str) -> float | None:
    for op in journal.list_operations(limit=500, kind=kind):
        if op.status == SUCCEEDED and op.finished_at:
            return parse_timestamp(op.finished_at).timestamp()
    return None


def read_samples(path: Path) -> list[Sample]:
    """Our samples in an existing metrics file (none if it is missing or not ours to parse)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    found: list[Sample] = []
    with contextlib.suppress(ValueError, TypeError):
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith(PREFIX) and sample.name[len(PREFIX):] in METRICS:
                    found.append((sample.name[len(PREFIX):], tuple(sorted(sample.labels.items())), sample.value))
    return found


def merge(previous: Iterable[Sample], current: list[Sample]) -> list[Sample]:
    """Replace the current kind's samples, keep the others; the last success never goes back."""
    kinds = {dict(labels)["operation"] for _, labels, _ in current}
    kept = [s for s in previous if dict(s[1]).get("operation") not in kinds]
    merged = kept + current
    for name, labels, value in previous:
        if name == "last_success_timestamp_seconds" and dict(labels).get("operation") in kinds:
            mine = [s for s in merged if s[0] == name and s[1] == labels]
            if not mine:
                merged.append((name, labels, value))
            elif mine[0][2] < value:
                merged[merged.index(mine[0])] = (name, labels, value)
    return merged


class _Samples(Collector):
    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (text, extra) in METRICS.items():
            rows = [(dict(labels), value) for n, labels, value in self.samples if n == name]
            if not rows:
                continue
            family = GaugeMetricFamily(PREFIX + name, text, labels=["operation", *extra])
            for labels, value in sorted(rows, key=lambda r: sorted(r[0].items())):
                family.add_metric([labels.get("operation", ""), *(labels.get(k, "") for k in extra)], value)
            yield family


def write_metrics(path: str | os.PathLike[str], samples: list[Sample]) -> None:
    """Merge ``samples`` into the file at ``path`` and write it atomically."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Samples(merge(read_samples(target), samples)))
    write_to_textfile(str(target), registry)

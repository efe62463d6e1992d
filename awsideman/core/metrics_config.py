"""`metrics:` in the config: CloudWatch as a second home of the Prometheus file's figures.

``metrics: {cloudwatch: {namespace, dimensions, timeout, progress_interval}}``: when ``cloudwatch`` is there, every
run's figures are sent with ``PutMetricData`` to ``namespace`` (default ``awsideman``), each
metric with the sample's own labels (``operation``, ``status``...) and the ``dimensions`` given
here (``{environment: prod}``) as dimensions. ``timeout`` bounds the sending, retries included.
``progress_interval`` (seconds, default 60; 0 turns it off): while a run lasts, its open phase
is sent that often (``services/cloudwatch_progress.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from awsideman.core.config_section import ConfigSection, is_number

# The samples' own labels (services/metrics.py): a configured dimension may not take their names.
SAMPLE_LABELS = ("operation", "status", "resource", "state", "category")
MAX_DIMENSIONS = 30  # CloudWatch's limit per metric, the samples' two labels included
_NAMESPACE = re.compile(r"[A-Za-z0-9_./#:-]{1,255}")


@dataclass(frozen=True)
class CloudWatchConfig(ConfigSection):
    """``metrics.cloudwatch``."""

    section = "metrics.cloudwatch"

    namespace: str = "awsideman"
    dimensions: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    progress_interval: float = 60.0

    def _problems(self) -> list[str]:
        problems = []
        if (not isinstance(self.namespace, str) or not _NAMESPACE.fullmatch(self.namespace)
                or self.namespace.startswith((":", "AWS/"))):
            problems.append(f"namespace must be 1-255 letters, digits or . _ - / # : (not starting with ':' or "
                            f"'AWS/'), not {self.namespace!r}")
        if not isinstance(self.dimensions, Mapping):
            problems.append(f"dimensions must be a mapping of names to values, not {self.dimensions!r}")
        else:
            problems += _dimension_problems(self.dimensions)
        if not is_number(self.timeout) or not math.isfinite(self.timeout) or not 0 < self.timeout <= 60:
            problems.append(f"timeout must be a number of seconds > 0 and <= 60, not {self.timeout!r}")
        interval = self.progress_interval
        if not is_number(interval) or not math.isfinite(interval) or not (interval == 0 or 1 <= interval <= 3600):
            problems.append(f"progress_interval must be 0 (off) or a number of seconds from 1 to 3600, "
                            f"not {interval!r}")
        return problems


def _dimension_problems(dimensions: Mapping[Any, Any]) -> list[str]:
    problems = []
    if len(dimensions) > MAX_DIMENSIONS - 2:
        problems.append(f"dimensions: at most {MAX_DIMENSIONS - 2} (CloudWatch allows {MAX_DIMENSIONS} per metric, "
                        "and each metric has up to two of its own)")
    for name, value in dimensions.items():
        if not isinstance(name, str) or not 1 <= len(name) <= 255 or name.startswith(":"):
            problems.append(f"dimension name {name!r} must be 1-255 characters, not starting with ':'")
        elif name in SAMPLE_LABELS:
            problems.append(f"dimension {name!r} is one of the metrics' own ({', '.join(SAMPLE_LABELS)})")
        if not isinstance(value, str) or not 1 <= len(value) <= 1024:
            problems.append(f"dimension {name!r}: the value must be a string of 1-1024 characters (quote numbers "
                            f"and yes/no), not {value!r}")
    return problems


@dataclass(frozen=True)
class MetricsConfig(ConfigSection):
    """``metrics:``; ``cloudwatch`` is None unless configured."""

    section = "metrics"

    cloudwatch: CloudWatchConfig | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> MetricsConfig:
        values = cls.known_values(data)
        if "cloudwatch" not in values:
            return cls()
        cloudwatch = values["cloudwatch"]
        if cloudwatch is not None and not isinstance(cloudwatch, Mapping):
            raise ValueError(f"cloudwatch must be a mapping (namespace, dimensions, timeout, progress_interval), "
                             f"not {cloudwatch!r}")
        return cls(cloudwatch=CloudWatchConfig.from_mapping(cloudwatch))

"""The ``retry:`` section of the config: plain limits, read at start by every command.

Apart from the retry engine (``core/retry.py``, which re-exports it) so that reading the
config does not import tenacity and the analyser.
"""

from __future__ import annotations

from dataclasses import dataclass

from awsideman.core.config_section import ConfigSection, is_integer, is_number


@dataclass(frozen=True)
class RetryConfig(ConfigSection):
    """Retry limits; times in seconds. ``max_retries`` counts retries, so attempts = max_retries + 1."""

    section = "retry"

    max_retries: int = 8
    base_delay: float = 0.25
    max_delay: float = 20.0
    exponential_base: float = 2.0
    jitter: bool = True
    deadline: float = 900.0

    def _problems(self) -> list[str]:
        problems = []
        if not is_integer(self.max_retries) or self.max_retries < 0:
            problems.append(f"max_retries must be an integer >= 0, not {self.max_retries!r}")
        for name in ("base_delay", "max_delay", "deadline"):
            value = getattr(self, name)
            if not is_number(value) or value < 0:
                problems.append(f"{name} must be a number >= 0, not {value!r}")
        if not problems and self.max_delay < self.base_delay:
            problems.append(f"max_delay ({self.max_delay}) must be >= base_delay ({self.base_delay})")
        if not is_number(self.exponential_base) or self.exponential_base < 1:
            problems.append(f"exponential_base must be a number >= 1, not {self.exponential_base!r}")
        if not isinstance(self.jitter, bool):
            problems.append(f"jitter must be true or false, not {self.jitter!r}")
        return problems

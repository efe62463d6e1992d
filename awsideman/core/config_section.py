"""What the config file's sections (`retry:`, `rate_limit:`, `limits:`) share as frozen dataclasses.

A section is built from its YAML mapping by ``from_mapping`` (dashes read as underscores, an
unknown key refused by name) and checks its values when constructed, so a bad value is refused
whether it came from the file or from code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar, Self


def is_number(value: Any) -> bool:
    """An int or a float; YAML reads unquoted yes/no as booleans, and those are no numbers here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value: Any) -> bool:
    """An int that is not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)


class ConfigSection:
    """Base of a section's frozen dataclass: ``section`` is its key in the config file."""

    section: ClassVar[str]

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ValueError(f"invalid {self.section} config: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        """Every value that is wrong, each with what it must be: all are named, so one edit fixes them."""
        return []

    @classmethod
    def known_values(cls, data: Mapping[str, Any] | None) -> dict[str, Any]:
        """``data`` with dashes in keys read as underscores; a key the section lacks raises ValueError."""
        values = {str(k).replace("-", "_"): v for k, v in (data or {}).items()}
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]  # every subclass is a dataclass
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls.section} keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return values

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> Self:
        """Build from a config mapping (dashes or underscores); unknown keys raise ValueError naming them."""
        return cls(**cls.known_values(data))

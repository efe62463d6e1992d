"""Which backups a retention policy keeps (pure: `backup prune` and prune-after-backup use it).

Rules in the manner of restic's ``forget``: a backup is kept if any rule keeps it, and the
newest complete (not partial) backup is always kept, as is the newest backup of all, whatever
the options say. Each kept backup carries the reasons it is kept, so a dry run explains itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class RetentionError(ValueError):
    """A retention option is malformed (the message names it).

    A ValueError of this pure module, not an ``AwsidemanError`` (so not in core/exceptions.py): it
    never reaches the CLI as such; its callers turn it into the UsageError (a flag) or ConfigError
    (a key of the config file) that says where the option came from.
    """


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``2w``, ``1d12h`` (s, m, h, d, w) into a timedelta."""
    value = str(text).strip().lower()
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise RetentionError(f"keep-within: {text!r} is not a duration like 30d, 12h, 2w or 1d12h")
    try:
        return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))
    except OverflowError:
        raise RetentionError(f"keep-within: {text!r} is longer than any date can reach") from None


@dataclass(frozen=True)
class Candidate:
    """A complete backup in the store: its id, creation time and whether it is partial."""

    backup_id: str
    created_at: datetime
    partial: bool = False


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int | None = None
    keep_within: timedelta | None = None
    keep_daily: int | None = None

    @classmethod
    def from_options(cls, keep_last: object = None, keep_within: object = None,
                     keep_daily: object = None) -> RetentionPolicy:
        """Validate the flags (or config keys): at least one, counts at least 1."""
        if keep_last is None and keep_within is None and keep_daily is None:
            raise RetentionError("give at least one of --keep-last, --keep-within, --keep-daily")
        for name, value in (("keep-last", keep_last), ("keep-daily", keep_daily)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise RetentionError(f"{name}: must be a whole number of at least 1, not {value!r}")
        within = parse_duration(str(keep_within)) if keep_within is not None else None
        return cls(keep_last=keep_last, keep_within=within, keep_daily=keep_daily)  # type: ignore[arg-type]

    def decide(self, backups: list[Candidate], now: datetime) -> dict[str, list[str]]:
        """``{backup_id: reasons}`` for every backup kept; the ones missing are to be deleted."""
        newest_first = sorted(backups, key=lambda b: (b.created_at, b.backup_id), reverse=True)
        keep: dict[str, list[str]] = {}

        def mark(backup: Candidate, reason: str) -> None:
            keep.setdefault(backup.backup_id, []).append(reason)

        if newest_first:
            mark(newest_first[0], "newest backup")
        complete = [b for b in newest_first if not b.partial]
        if complete:
            mark(complete[0], "newest complete backup")
        for backup in newest_first[: self.keep_last or 0]:
            mark(backup, f"keep-last {self.keep_last}")
        if self.keep_within is not None:
            for backup in newest_first:
                if backup.created_at >= now - self.keep_within:
                    mark(backup, "keep-within")
        if self.keep_daily:
            days: list[str] = []
            for backup in newest_first:
                day = backup.created_at.strftime("%Y-%m-%d")
                if day not in days:
                    days.append(day)
                    if len(days) > self.keep_daily:
                        break
                    mark(backup, f"keep-daily {self.keep_daily} ({day})")
        return keep

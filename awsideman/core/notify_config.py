"""`notify:` in the config: where the account of each finished operation is sent, and when.

A sink is an SNS topic (``sns://TOPIC_ARN``) or a webhook (``https://...``; plain ``http://``
only to this machine: localhost, 127.0.0.1, ::1, since anything else would carry the account,
and a webhook's secret path, in clear over the network). Each sink says which ending statuses it
wants (``on:``), the least severity worth sending (``min_severity``), the body (``format``: a
JSON document or a Slack-compatible text) and how long delivery may take, retries included
(``timeout``): a sink that hangs never holds the run's exit up for longer than that.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from awsideman.core.config_section import ConfigSection, is_number
from awsideman.core.error_table import SEVERITIES

EVENTS = ("failed", "rolled_back", "rollback_failed", "partial", "interrupted", "succeeded")
DEFAULT_EVENTS = ("failed", "rolled_back", "rollback_failed", "partial", "interrupted")
FORMATS = ("json", "slack")
MAX_TIMEOUT = 60.0
LOOPBACK = ("localhost", "127.0.0.1", "::1")
TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")
# An operation's severity when it has no error worse than this (a rolled-back restore is news
# even when its error was a medium one; a success is the least).
STATUS_SEVERITY = {"succeeded": "low", "partial": "medium", "interrupted": "medium", "failed": "high",
                   "rolled_back": "high", "rollback_failed": "critical"}


@dataclass(frozen=True)
class NotifySink(ConfigSection):
    """One entry of ``notify:``."""

    section = "notify"

    url: str = field(default="", repr=False)  # a webhook's path is often its secret
    on: tuple[str, ...] = DEFAULT_EVENTS
    min_severity: str = "low"
    format: str = "json"
    timeout: float = 10.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> NotifySink:
        values = cls.known_values(data)
        if isinstance(values.get("on"), list):
            values["on"] = tuple(values["on"])
        return cls(**values)

    def _problems(self) -> list[str]:
        problems = []
        if not isinstance(self.url, str) or not self.url:
            problems.append("url is required: sns://TOPIC_ARN or https://...")
        else:
            problems += url_problems(self.url)
        if not isinstance(self.on, tuple) or not self.on or any(e not in EVENTS for e in self.on):
            problems.append(f"on must be a list of {', '.join(EVENTS)}, not {_shown(self.on)}")
        if self.min_severity not in SEVERITIES:
            problems.append(f"min_severity must be one of {', '.join(SEVERITIES)}, not {self.min_severity!r}")
        if self.format not in FORMATS:
            problems.append(f"format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        if not is_number(self.timeout) or not math.isfinite(self.timeout) or not 0 < self.timeout <= MAX_TIMEOUT:
            problems.append(f"timeout must be a number of seconds > 0 and <= {MAX_TIMEOUT:g}, not {self.timeout!r}")
        return problems

    @property
    def kind(self) -> str:
        """``sns`` or ``webhook``."""
        return "sns" if self.url.startswith("sns://") else "webhook"

    @property
    def topic_arn(self) -> str:
        return self.url[len("sns://"):]

    @property
    def label(self) -> str:
        """The sink as warnings and reports name it: a webhook's path often is its secret, so only
        its scheme, host and port are shown."""
        return self.url if self.kind == "sns" else host_only(self.url)

    def wants(self, status: str, severity: str) -> bool:
        """Whether an operation that ended ``status`` with ``severity`` is sent here."""
        return status in self.on and SEVERITIES.index(severity) >= SEVERITIES.index(self.min_severity)


def url_problems(url: str) -> list[str]:
    """What is wrong with a sink's URL (nothing for a good one)."""
    if url.startswith("sns://"):
        if not TOPIC_ARN.fullmatch(url[len("sns://"):]):
            return [f"url {url!r} is not sns://arn:aws:sns:REGION:ACCOUNT_ID:TOPIC"]
        return []
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        return [f"url {url!r} has a bad port"]
    if parts.scheme == "https" and parts.hostname:
        return []
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return []
    if parts.scheme == "http" and parts.hostname:
        return [f"url {host_only(url)!r}: http:// is allowed only to localhost, 127.0.0.1 or ::1; use https://"]
    return [f"url {host_only(url)!r} is neither sns://TOPIC_ARN nor an https:// webhook"]


def notify_sinks(entries: Any) -> tuple[NotifySink, ...]:
    """``notify:`` (a list of sink mappings) as sinks; a problem raises ValueError naming the entry."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ValueError("must be a list of sinks ({url: sns://TOPIC_ARN or https://..., on: [...]})")
    sinks = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ValueError(f"entry {index}: must be a mapping with a url, not {_shown(entry)}")
        try:
            sinks.append(NotifySink.from_mapping(yaml_keys(entry)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"entry {index}: {exc}") from None
    return tuple(sinks)


def yaml_keys(entry: Mapping[Any, Any]) -> dict[str, Any]:
    """A sink's mapping with the key ``on`` restored: YAML 1.1 reads an unquoted ``on:`` as true."""
    return {("on" if key is True else str(key)): value for key, value in entry.items()}


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """The config with each ``notify:`` entry's ``on`` key restored (before the schema is asked)."""
    entries = data.get("notify")
    if not isinstance(entries, list):
        return data
    fixed = [yaml_keys(e) if isinstance(e, Mapping) else e for e in entries]
    return {**data, "notify": fixed}


def host_only(url: str) -> str:
    """``url`` without its path, query and user part (``https://hooks.example.com/...``)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" + ("/..." if parts.path.strip("/") else "")


def _shown(value: Any) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return repr(list(value))
    return repr(value)

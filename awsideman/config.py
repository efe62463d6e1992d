"""Configuration: YAML file + environment + flags (flags win), validated once at start.

A bad file, key or value is a ConfigError naming the file and the key (exit 2).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from awsideman.core.exceptions import ConfigError
from awsideman.core.limits import Limits
from awsideman.core.metrics_config import MetricsConfig
from awsideman.core.notify_config import NotifySink, host_only, normalise, notify_sinks
from awsideman.core.ratelimit import RateLimitConfig
from awsideman.core.recovery import RecoveryRule, parse_recovery
from awsideman.core.retry_config import RetryConfig
from awsideman.core.rollback_policy import RollbackPolicy

# PyYAML is imported only when a config file exists and jsonschema only when there is something
# to validate: a command run without a config file starts without either (tens of milliseconds).
if TYPE_CHECKING:
    from jsonschema import ValidationError

# The published schema (``awsideman/schemas/config.schema.json``) is the one list of keys, types
# and ranges; other tools can validate a config with it. Every number in it has a range, and
# NaN / infinity are refused before the schema is asked (JSON Schema's ranges let NaN through).
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "config.schema.json"
# YAML 1.1 reads these unquoted words as booleans: `off` and `no` arrive as False.
_YAML_BOOLEAN_WORDS = "yes/no, on/off, true/false, y/n"


@lru_cache(maxsize=1)
def config_schema() -> dict[str, Any]:
    """The configuration's JSON Schema (draft 2020-12)."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def default_home() -> Path:
    return Path(os.environ.get("AWSIDEMAN_HOME") or Path.home() / ".awsideman").expanduser()


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where and how to run."""

    home: Path
    config_path: Path | None = None
    profile: str | None = None
    region: str | None = None
    instance_arn: str | None = None
    identity_store_id: str | None = None
    store: str | None = None
    kms_key: str | None = None
    s3_sse_kms_key: str | None = None
    concurrency: int = 8
    retention_days: float = 30.0
    assignment_strategy: str = "auto"
    metrics_file: str | None = None
    # -- where the journal lives: "local" (state.db) or "dynamodb://TABLE" (shared by runners) --
    state: str = "local"
    state_s3: str | None = None
    state_lease_seconds: float = 60.0
    prune_after_backup: dict[str, Any] | None = None
    retry: RetryConfig = field(default_factory=RetryConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    # -- size limits on untrusted input (stores, pasted text) --
    limits: Limits = field(default_factory=Limits)
    # -- where each finished operation's account and figures are sent (notify:, metrics:) --
    notify: tuple[NotifySink, ...] = ()
    # -- what a restore does with a change that failed, per error category (recovery:) --
    recovery: Mapping[str, tuple[RecoveryRule, ...]] = field(default_factory=dict)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    # -- what an automatic rollback does, and how long inverses are kept (rollback:) --
    rollback: RollbackPolicy = field(default_factory=RollbackPolicy)

    @property
    def journal_path(self) -> Path:
        return self.home / "state.db"

    @property
    def default_store(self) -> str:
        return self.store or str(self.home / "backups")


def _read_yaml(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: config file not found",
                              remediation=["Check --config / AWSIDEMAN_CONFIG, or copy config.example.yaml."])
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise ConfigError(f"{path}: not valid YAML{at}",
                          remediation=["Fix the YAML syntax; see config.example.yaml."]) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return data


def _check_keys(path: Path | None, data: dict[str, Any]) -> None:
    """Validate ``data`` against the schema; the first problem is a ConfigError naming the key."""
    if not data:  # nothing to check: the schema requires no key
        return
    from jsonschema import Draft202012Validator

    where = str(path) if path else "configuration"
    for key, value in _numbers(data):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {key}: must be a finite number, got {value!r}",
                              remediation=["Give a number within the range in config.example.yaml."])
    validator = Draft202012Validator(config_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.validator))
    if errors:
        key, problem = _describe(errors[0])
        raise ConfigError(f"{where}: {key}: {problem}",
                          remediation=["See config.example.yaml (or the JSON Schema "
                                       "awsideman/schemas/config.schema.json) for every key and range."])


def _numbers(data: Any, prefix: str = "") -> list[tuple[str, float]]:
    """Every float in a nested mapping, with its dotted key (for the NaN / infinity check)."""
    found = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, float):
            found.append((name, value))
        elif isinstance(value, (dict, list)):
            found.extend(_numbers(value, name))
    return found


def _describe(error: ValidationError) -> tuple[str, str]:
    """(dotted key, what is wrong) for one schema violation, in the config's words."""
    key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    schema, value = error.schema if isinstance(error.schema, dict) else {}, error.instance
    meaning = f" ({schema['description']})" if schema.get("description") else ""
    kind = error.validator
    if kind == "oneOf" and error.context:
        # One rule or a list of rules: say what is wrong with the closer reading, not "not valid under any".
        # The branch of the wrong type (an object where a list was one choice) says least.
        from jsonschema.exceptions import best_match

        closer = [e for e in error.context if not (e.validator == "type" and not e.relative_path)]
        return _describe(best_match(closer or error.context))
    if kind == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        unknown = sorted(set(value) - set(known)) if isinstance(value, dict) else []
        prefix = f"{key}." if error.absolute_path else ""
        return f"{prefix}{unknown[0] if unknown else '?'}", f"unknown key (known: {', '.join(known)})"
    if kind == "enum":
        hint = (f"; YAML reads unquoted {_YAML_BOOLEAN_WORDS} as true/false, so quote the word"
                if isinstance(value, bool) else "")
        return key, f"must be one of {', '.join(map(str, error.validator_value))}, got {value!r}{hint}"
    if kind == "type":
        hint = (f" (YAML reads unquoted {_YAML_BOOLEAN_WORDS} as true/false: quote it)"
                if isinstance(value, bool) and error.validator_value == "string" else "")
        wanted = "integer" if error.validator_value == "integer" else error.validator_value
        return key, f"expected {wanted}{meaning}, got {value!r}{hint}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return key, f"must be {_range(schema)}{meaning}, got {value!r}"
    if kind == "pattern" and key.endswith(".url") and schema.get("description"):
        # A sink's URL: what it must be, and the URL without its path (a webhook's secret).
        return key, f"must be {schema['description']}, got {_without_path(value)!r}"
    return key, error.message


def _without_path(value: Any) -> Any:
    """A URL as an error may show it: a webhook's path and query are often its secret."""
    if isinstance(value, str) and "://" in value:
        return host_only(value)
    return value


def _range(schema: dict[str, Any]) -> str:
    low = (f"> {schema['exclusiveMinimum']}" if "exclusiveMinimum" in schema
           else f">= {schema['minimum']}" if "minimum" in schema else "")
    high = (f"< {schema['exclusiveMaximum']}" if "exclusiveMaximum" in schema
            else f"<= {schema['maximum']}" if "maximum" in schema else "")
    return " and ".join(part for part in (low, high) if part)


def _section(path: Path | None, name: str, data: dict[str, Any], factory: Any) -> Any:
    try:
        return factory.from_mapping(data.get(name) or {})
    except (ValueError, TypeError) as exc:
        where = str(path) if path else "configuration"
        raise ConfigError(f"{where}: {name}: {exc}") from exc


PRUNE_KEYS = ("keep_last", "keep_within", "keep_daily")


def _prune_section(path: Path | None, data: dict[str, Any] | None) -> dict[str, Any] | None:
    """``prune_after_backup: {keep_last: N, keep_within: 30d, keep_daily: N}``, checked like the flags."""
    if not data:
        return None
    from awsideman.core.retention import RetentionError, RetentionPolicy

    where = f"{path or 'configuration'}: prune_after_backup"
    unknown = sorted(set(data) - set(PRUNE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}", remediation=[f"Known keys: {', '.join(PRUNE_KEYS)}."])
    try:
        RetentionPolicy.from_options(data.get("keep_last"), data.get("keep_within"), data.get("keep_daily"))
    except RetentionError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return dict(data)


def _state(value: str) -> str:
    """``local`` or ``dynamodb://TABLE``, from any source (the schema checks only the file)."""
    if not re.fullmatch(STATE_PATTERN, value):
        raise ConfigError(f"state: must be `local` or `dynamodb://TABLE`, got {value!r}",
                          remediation=["Set `state:` in the config, AWSIDEMAN_STATE or --state; a table name "
                                       "is 3-255 letters, digits, '_', '-' or '.'."])
    return value


STATE_PATTERN = r"local|dynamodb://[A-Za-z0-9_.-]{3,255}"


def load_settings(config_path: str | None = None, profile: str | None = None,
                  region: str | None = None, state: str | None = None) -> Settings:
    """Build Settings from the config file, the environment and flags, in rising priority."""
    home = default_home()
    explicit = config_path or os.environ.get("AWSIDEMAN_CONFIG")
    path = Path(explicit).expanduser() if explicit else home / "config.yaml"
    data = normalise(_read_yaml(path, explicit=bool(explicit)))
    _check_keys(path, data)
    env_region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return Settings(
        home=home,
        config_path=path if path.exists() else None,
        profile=profile or os.environ.get("AWS_PROFILE") or data.get("profile"),
        region=region or env_region or data.get("region"),
        instance_arn=os.environ.get("AWSIDEMAN_INSTANCE_ARN") or data.get("instance_arn"),
        identity_store_id=os.environ.get("AWSIDEMAN_IDENTITY_STORE_ID") or data.get("identity_store_id"),
        store=os.environ.get("AWSIDEMAN_STORE") or data.get("store"),
        kms_key=os.environ.get("AWSIDEMAN_KMS_KEY") or data.get("kms_key"),
        s3_sse_kms_key=data.get("s3_sse_kms_key"),
        concurrency=int(data.get("concurrency", 8)),
        retention_days=float(data.get("retention_days", 30)),
        assignment_strategy=data.get("assignment_strategy", "auto"),
        metrics_file=os.environ.get("AWSIDEMAN_METRICS_FILE") or data.get("metrics_file"),
        state=_state(state or os.environ.get("AWSIDEMAN_STATE") or data.get("state") or "local"),
        state_s3=os.environ.get("AWSIDEMAN_STATE_S3") or data.get("state_s3"),
        state_lease_seconds=float(data.get("state_lease_seconds", 60)),
        prune_after_backup=_prune_section(path, data.get("prune_after_backup")),
        retry=_section(path, "retry", data, RetryConfig),
        rate_limit=_section(path, "rate_limit", data, RateLimitConfig),
        limits=_section(path, "limits", data, Limits),
        notify=_notify_section(path, data.get("notify")),
        recovery=_recovery_section(path, data.get("recovery")),
        metrics=_section(path, "metrics", data, MetricsConfig),
        rollback=_section(path, "rollback", data, RollbackPolicy),
    )


def _notify_section(path: Path | None, entries: Any) -> tuple[NotifySink, ...]:
    try:
        return notify_sinks(entries)
    except ValueError as exc:
        raise ConfigError(f"{path or 'configuration'}: notify: {exc}",
                          remediation=["See config.example.yaml (notify:) for a sink's keys."]) from None


def _recovery_section(path: Path | None, data: Any) -> dict[str, tuple[RecoveryRule, ...]]:
    try:
        return parse_recovery(data)
    except ValueError as exc:
        raise ConfigError(f"{path or 'configuration'}: recovery.{exc}",
                          remediation=["See config.example.yaml (recovery:) for a rule's keys."]) from None

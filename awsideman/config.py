"""Configuration: YAML file + environment + flags (flags win), validated once at start.

A bad file, key or value is a ConfigError naming the file and the key (exit 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from awsideman.core.exceptions import ConfigError
from awsideman.core.limits import Limits
from awsideman.core.ratelimit import RateLimitConfig
from awsideman.core.retry import RetryConfig

ASSIGNMENT_STRATEGIES = ("auto", "permission-set", "principal")

# key -> (type(s), description) for the top level; nested sections are validated by their owners.
_TOP_LEVEL: dict[str, tuple[tuple[type, ...], str]] = {
    "profile": ((str,), "AWS credentials profile"),
    "region": ((str,), "region of the Identity Center instance"),
    "instance_arn": ((str,), "Identity Center instance ARN"),
    "identity_store_id": ((str,), "identity store id"),
    "store": ((str,), "default backup store URL"),
    "kms_key": ((str,), "KMS key for client-side envelope encryption of backups"),
    "s3_sse_kms_key": ((str,), "KMS key for S3 server-side encryption (SSE-KMS)"),
    "concurrency": ((int,), "parallel API reads"),
    "retention_days": ((int, float), "days to keep finished operation state"),
    "assignment_strategy": ((str,), "auto, permission-set or principal"),
    "retry": ((dict,), "retry policy"),
    "rate_limit": ((dict,), "client-side rate limits"),
    # Size limits on input read from stores and pasted text (core/limits.py).
    "limits": ((dict,), "size limits in MiB: manifest_mib, payload_mib, snapshot_mib, text_mib"),
}


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
    retry: RetryConfig = field(default_factory=RetryConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    # -- size limits on untrusted input (stores, pasted text) --
    limits: Limits = field(default_factory=Limits)

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
    where = str(path) if path else "configuration"
    for key, value in data.items():
        if key not in _TOP_LEVEL:
            known = ", ".join(sorted(_TOP_LEVEL))
            raise ConfigError(f"{where}: unknown key {key!r}", remediation=[f"Known keys: {known}."])
        types, meaning = _TOP_LEVEL[key]
        if isinstance(value, bool) or not isinstance(value, types):
            wanted = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{where}: {key}: expected {wanted} ({meaning}), got {value!r}")
    if "concurrency" in data and not 1 <= data["concurrency"] <= 64:
        raise ConfigError(f"{where}: concurrency: must be between 1 and 64, got {data['concurrency']}")
    if "retention_days" in data and data["retention_days"] <= 0:
        raise ConfigError(f"{where}: retention_days: must be positive, got {data['retention_days']}")
    strategy = data.get("assignment_strategy", "auto")
    if strategy not in ASSIGNMENT_STRATEGIES:
        raise ConfigError(f"{where}: assignment_strategy: must be one of "
                          f"{', '.join(ASSIGNMENT_STRATEGIES)}, got {strategy!r}")


def _section(path: Path | None, name: str, data: dict[str, Any], factory: Any) -> Any:
    try:
        return factory.from_mapping(data.get(name) or {})
    except (ValueError, TypeError) as exc:
        where = str(path) if path else "configuration"
        raise ConfigError(f"{where}: {name}: {exc}") from exc


def load_settings(config_path: str | None = None, profile: str | None = None,
                  region: str | None = None) -> Settings:
    """Build Settings from the config file, the environment and flags, in rising priority."""
    home = default_home()
    explicit = config_path or os.environ.get("AWSIDEMAN_CONFIG")
    path = Path(explicit).expanduser() if explicit else home / "config.yaml"
    data = _read_yaml(path, explicit=bool(explicit))
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
        retry=_section(path, "retry", data, RetryConfig),
        rate_limit=_section(path, "rate_limit", data, RateLimitConfig),
        limits=_section(path, "limits", data, Limits),
    )

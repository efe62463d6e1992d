"""Configuration: the example file is valid; flags win over environment, environment over file."""

from __future__ import annotations

from pathlib import Path

import pytest

from awsideman.config import load_settings
from awsideman.core.exceptions import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWSIDEMAN_CONFIG", "AWSIDEMAN_STORE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWSIDEMAN_HOME", str(tmp_path / "home"))


def test_the_example_config_is_valid():
    settings = load_settings(config_path=str(EXAMPLE))
    assert settings.concurrency == 8 and settings.retry.max_retries == 8
    assert settings.rate_limit.window == 2.0 and settings.rate_limit.safety == 0.95


def test_flags_win_over_environment_over_file(tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("region: eu-west-1\nprofile: from-file\nstore: /from/file\n")
    assert load_settings(config_path=str(config)).region == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWSIDEMAN_STORE", "/from/env")
    settings = load_settings(config_path=str(config), region="us-west-2")
    assert settings.region == "us-west-2" and settings.profile == "from-file"
    assert settings.default_store == "/from/env"


def test_default_config_file_is_optional_but_an_explicit_one_is_not(tmp_path):
    assert load_settings().config_path is None
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config_path=str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize("text, words", [
    ("retention_days: -3\n", "retention_days"),
    ("assignment_strategy: fastest\n", "assignment_strategy"),
    ("rate_limit: {sso_admin_rate: 0}\n", "sso_admin_rate"),
    ("retry: {wait: 3}\n", "wait"),
    ("- a list\n", "mapping"),
    ("concurrency: true\n", "concurrency"),
    # YAML 1.1 booleans where a word is expected, and unknown keys, named with their path
    ("assignment_strategy: off\n", "quote the word"),
    ("profile: no\n", "quote it"),
    ("retry: {jitter: 3}\n", "retry.jitter"),
    ("rate_limit: {burst: 5, speed: 3}\n", "rate_limit.speed: unknown key"),
    ("regoin: eu-west-1\n", "regoin: unknown key"),
    # recovery policies: the schema's shape, then what it cannot say
    ("recovery: {weather: {action: skip}}\n", "recovery: must be one of network"),
    ("recovery: {validation: {action: later}}\n", "recovery.validation.action: must be one of retry"),
    ("recovery: {network: [{action: skip, colour: red}]}\n", "recovery.network.0.colour: unknown key"),
    ("recovery: {validation: {action: retry}}\n", "recovery.validation.action: retry does not apply"),
])
def test_bad_values_name_the_file_and_key(tmp_path, text, words):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=str(config))
    assert str(config) in caught.value.message and words in caught.value.message


# -- the published schema and sane bounds ------------------------------------------------------
def _numeric_properties(schema: dict, prefix: str = "") -> list[tuple[str, dict]]:
    found = []
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        if sub.get("type") in ("number", "integer"):
            found.append((key, sub))
        found += _numeric_properties(sub, f"{key}.")
    return found


def test_the_example_config_is_valid_against_the_published_schema():
    import yaml
    from jsonschema import Draft202012Validator

    from awsideman.config import config_schema

    Draft202012Validator.check_schema(config_schema())
    assert list(Draft202012Validator(config_schema()).iter_errors(yaml.safe_load(EXAMPLE.read_text()))) == []


def test_every_number_in_the_schema_has_a_range():
    from awsideman.config import config_schema

    numeric = _numeric_properties(config_schema())
    assert len(numeric) >= 10
    for key, sub in numeric:
        assert {"minimum", "exclusiveMinimum"} & set(sub), f"{key} has no lower bound"
        assert {"maximum", "exclusiveMaximum"} & set(sub), f"{key} has no upper bound"


def _yaml_value(key: str, value: str) -> str:
    parts = key.split(".")
    return "".join(f"{'  ' * depth}{part}:\n" for depth, part in enumerate(parts[:-1])) + \
        f"{'  ' * (len(parts) - 1)}{parts[-1]}: {value}\n"


def _numeric_keys() -> list[str]:
    from awsideman.config import config_schema

    return [key for key, _ in _numeric_properties(config_schema())]


@pytest.mark.parametrize("key", _numeric_keys())
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "-1", "1e300"])
def test_numbers_at_nan_infinity_negative_and_huge_are_refused_naming_the_key(tmp_path, key, value):
    config = tmp_path / "c.yaml"
    config.write_text(_yaml_value(key, value))
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=str(config))
    assert f"{config}: {key}:" in caught.value.message


@pytest.mark.parametrize("key", ["concurrency", "retention_days", "rate_limit.burst", "retry.max_retries"])
def test_zero_is_refused_where_it_would_stop_every_run(tmp_path, key):
    config = tmp_path / "c.yaml"
    config.write_text(_yaml_value(key, "0") if key != "retry.max_retries" else _yaml_value(key, "-1"))
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(config_path=str(config))


def test_a_long_retention_works(tmp_path):
    from datetime import UTC, datetime

    from awsideman.journal import Journal

    config = tmp_path / "c.yaml"
    config.write_text("retention_days: 36500\n")
    settings = load_settings(config_path=str(config))
    with Journal.open(tmp_path / "state.db") as journal:
        assert journal.cleanup(settings.retention_days, now=datetime(2026, 1, 1, tzinfo=UTC)) == 0
        assert journal.cleanup(1e12) == 0  # far beyond the schema's range: still no overflow


def test_documented_off_is_accepted_in_the_sandbox_fault_rules():
    from awsideman.sandbox.fault_rules import FaultRules

    rules = FaultRules.from_dict({"quotas": False, "async_max_outstanding": False})  # `quotas: off` as YAML reads it
    assert rules.quotas == {} and rules.async_max_outstanding is None

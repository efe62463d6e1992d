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
])
def test_bad_values_name_the_file_and_key(tmp_path, text, words):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=str(config))
    assert str(config) in caught.value.message and words in caught.value.message

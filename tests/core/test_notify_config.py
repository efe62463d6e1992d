"""`notify:` and `metrics:` in the config: good sinks load, every bad key or value is refused with
the file and the key named (exit 2), and a webhook's path (often its secret) is never echoed."""

from __future__ import annotations

import pytest

from awsideman.config import load_settings
from awsideman.core.exceptions import ConfigError
from awsideman.core.notify_config import DEFAULT_EVENTS, NotifySink

TOPIC = "arn:aws:sns:eu-west-1:111122223333:awsideman-alerts"
SECRET_PATH = "/services/T0000/B0000/XyZsEcReTtOkEn"


def _load(tmp_path, text):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    return config, load_settings(config_path=str(config))


def _refused(tmp_path, text):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=str(config))
    assert caught.value.exit_code == 2
    return str(config), caught.value.message


def test_sinks_load_with_defaults_and_an_unquoted_on_key(tmp_path):
    _, settings = _load(tmp_path, f"""notify:
  - url: sns://{TOPIC}
  - url: https://hooks.example.com{SECRET_PATH}
    on: [failed, succeeded]
    min_severity: high
    format: slack
    timeout: 2.5
  - url: http://127.0.0.1:8080/hook
  - url: http://[::1]:9000/
  - url: http://localhost/
""")
    sns, hook, *loopback = settings.notify
    assert (sns.kind, sns.topic_arn, sns.on, sns.min_severity, sns.format, sns.timeout) == (
        "sns", TOPIC, DEFAULT_EVENTS, "low", "json", 10.0)
    # YAML 1.1 reads an unquoted `on:` as the key True: it is still the sink's `on`.
    assert (hook.kind, hook.on, hook.min_severity, hook.format, hook.timeout) == (
        "webhook", ("failed", "succeeded"), "high", "slack", 2.5)
    assert hook.label == "https://hooks.example.com/..." and SECRET_PATH not in repr(hook)
    assert [s.kind for s in loopback] == ["webhook"] * 3
    assert settings.metrics.cloudwatch is None


def test_a_sink_wants_its_statuses_at_or_above_its_severity():
    sink = NotifySink(url=f"sns://{TOPIC}", on=("failed", "rolled_back"), min_severity="high")
    assert sink.wants("failed", "high") and sink.wants("rolled_back", "critical")
    assert not sink.wants("failed", "medium") and not sink.wants("succeeded", "critical")


@pytest.mark.parametrize(("entry", "key", "words"), [
    ("{url: 'http://example.com/x'}", "notify.0.url", "localhost"),
    ("{url: 'ftp://example.com/x'}", "notify.0.url", "https://"),
    ("{url: 'sns://not-an-arn'}", "notify.0.url", "sns://TOPIC_ARN"),
    ("{url: 'http://127.0.0.1@evil.example/x'}", "notify.0.url", "localhost"),
    ("{url: 'https://h.example/x', bogus: 1}", "notify.0.bogus", "unknown key"),
    ("{url: 'https://h.example/x', on: [failed, exploded]}", "notify.0.on.1", "must be one of"),
    ("{url: 'https://h.example/x', on: []}", "notify.0.on", "non-empty"),
    ("{url: 'https://h.example/x', min_severity: urgent}", "notify.0.min_severity", "must be one of"),
    ("{url: 'https://h.example/x', format: xml}", "notify.0.format", "must be one of"),
    ("{url: 'https://h.example/x', timeout: 0}", "notify.0.timeout", "> 0"),
    ("{url: 'https://h.example/x', timeout: 61}", "notify.0.timeout", "<= 60"),
    ("{url: 'https://h.example/x', timeout: .nan}", "notify.0.timeout", "finite"),
    ("{on: [failed]}", "notify.0", "url"),
])
def test_a_bad_sink_is_refused_naming_the_file_and_the_key(tmp_path, entry, key, words):
    config, message = _refused(tmp_path, f"notify:\n  - {entry}\n")
    assert message.startswith(f"{config}: {key}"), message
    assert words in message, message


def test_a_refused_webhook_url_is_named_by_its_host_only(tmp_path):
    _, message = _refused(tmp_path, f"notify:\n  - url: http://hooks.example.com{SECRET_PATH}\n")
    assert "http://hooks.example.com/..." in message and "XyZsEcReTtOkEn" not in message


def test_notify_must_be_a_list_of_mappings(tmp_path):
    config, message = _refused(tmp_path, "notify: {url: 'https://h.example/x'}\n")
    assert message.startswith(f"{config}: notify:") and "array" in message


def test_cloudwatch_loads_with_a_default_namespace(tmp_path):
    _, settings = _load(tmp_path, "metrics:\n  cloudwatch:\n")
    assert settings.metrics.cloudwatch is not None
    assert (settings.metrics.cloudwatch.namespace, dict(settings.metrics.cloudwatch.dimensions)) == ("awsideman", {})
    _, settings = _load(tmp_path, "metrics:\n  cloudwatch: {namespace: Team/IAM, dimensions: {environment: prod}}\n")
    assert settings.metrics.cloudwatch is not None
    assert dict(settings.metrics.cloudwatch.dimensions) == {"environment": "prod"}


@pytest.mark.parametrize(("text", "key", "words"), [
    ("metrics: {bogus: 1}", "metrics.bogus", "unknown key"),
    ("metrics: {cloudwatch: {region: x}}", "metrics.cloudwatch.region", "unknown key"),
    ("metrics: {cloudwatch: {namespace: 'AWS/IAM'}}", "metrics.cloudwatch.namespace", "namespace"),
    ("metrics: {cloudwatch: {namespace: ''}}", "metrics.cloudwatch.namespace", "namespace"),
    ("metrics: {cloudwatch: {dimensions: {environment: 3}}}", "metrics.cloudwatch.dimensions.environment",
     "expected string"),
    ("metrics: {cloudwatch: {dimensions: {operation: prod}}}", "metrics", "operation"),
    ("metrics: {cloudwatch: {timeout: 0}}", "metrics.cloudwatch.timeout", "> 0"),
])
def test_a_bad_cloudwatch_setting_is_refused_naming_the_file_and_the_key(tmp_path, text, key, words):
    config, message = _refused(tmp_path, text + "\n")
    assert message.startswith(f"{config}: {key}"), message
    assert words in message, message

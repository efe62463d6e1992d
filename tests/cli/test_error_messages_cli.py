"""End to end: what the executable says about set-up and input errors (issue 20, findings 13, 15, 17).

No emulator: the failures come before any request is sent (no credentials, no region) or from
the command line itself.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import awsideman_command

pytestmark = pytest.mark.e2e


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "LANG", "LC_ALL")}
    env.update(AWSIDEMAN_HOME=str(tmp_path / "home"), HOME=str(tmp_path), NO_COLOR="1",
               AWS_CONFIG_FILE=str(tmp_path / "absent-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "absent-credentials"),
               AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL="http://127.0.0.1:9", **extra)
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*awsideman_command(), *args], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def _error(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)["errors"][0]


def test_no_credentials_is_authentication_and_exits_2(tmp_path):
    result = _run(_env(tmp_path, AWS_REGION="eu-west-1"), "-o", "json", "backup", "create")
    assert result.returncode == 2, result.stdout + result.stderr
    error = _error(result)
    assert (error["category"], error["code"]) == ("authentication", "NoCredentialsError")
    assert any("AWS_PROFILE" in step for step in error["remediation"])
    text = _run(_env(tmp_path, AWS_REGION="eu-west-1"), "analyze-error", "Unable to locate credentials", "-o", "json")
    assert json.loads(text.stdout)["category"] == "authentication"


def test_a_missing_region_is_a_configuration_error_naming_region_not_credentials(tmp_path):
    env = _env(tmp_path, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY="x" * 40)
    result = _run(env, "-o", "json", "backup", "create")
    assert result.returncode == 2, result.stdout + result.stderr
    error = _error(result)
    assert (error["category"], error["code"]) == ("configuration", "MissingRegion")
    steps = " ".join(error["remediation"])
    assert "--region" in steps and "AWS_REGION" in steps and "Credentials" not in json.dumps(error)
    assert len(error["remediation"]) == len(set(error["remediation"]))
    shown = _run(env, "backup", "create")
    assert "Error (MissingRegion)" in shown.stderr and "CredentialsError" not in shown.stderr


def test_an_id_that_is_a_path_is_quoted_as_given(tmp_path):
    result = _run(_env(tmp_path), "backup", "show", "../../etc/passwd")
    assert result.returncode == 2
    assert "'../../etc/passwd': expected bk-" in result.stderr and "REDACTED" not in result.stderr


def test_operation_not_found_lists_each_step_once_and_no_error_ends_with_generic_help(tmp_path):
    env = _env(tmp_path)
    missing = "op-20240131T120000Z-3f9a1c"
    _run(env, "report", "list")  # whatever it does, the journal question below is the one under test
    for args in (("report", "show", missing), ("analyze-error", "--operation", missing)):
        result = _run(env, *args)
        assert result.returncode == 2, result.stderr
        bullets = [line for line in result.stderr.splitlines() if line.lstrip().startswith("- ")]
        assert bullets and sum("awsideman report list" in b for b in bullets) == 1, result.stderr
    for args in (("analyze-error", "x", "--file", "/etc/hostname"), ("analyze-error",),
                 ("report", "show", missing)):
        result = _run(env, *args)
        assert result.returncode == 2 and "awsideman --help`" not in result.stderr, result.stderr
        last = [line for line in result.stderr.splitlines() if line.strip()][-1]
        assert "See `awsideman --help`" not in last

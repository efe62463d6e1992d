"""Start-up: what a command imports before it answers (issue 25 item 5).

boto3/botocore, Rich, typer, jsonschema, PyYAML, the services and the sandbox cost most of a
start; each is imported only by a command that needs it. Asserted on the modules a real process
imported (``python -X importtime``), never on a timing: timings belong to bench/startup.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import awsideman

# `import time:  self |  cumulative | <indent>name`, one line per module a process imported.
_IMPORTED = re.compile(r"^import time:\s*\d+\s*\|\s*\d+\s*\|\s*(?P<name>\S+)\s*$")

HEAVY_FOR_VERSION = ("boto3", "botocore", "rich", "typer", "jsonschema", "yaml", "tenacity", "pydantic",
                     "awsideman.services", "awsideman.sandbox", "awsideman.adapters", "awsideman.cli.app")
# What no command that makes no AWS call may import (the help, a local journal's listing).
SDK_AND_SANDBOX = ("boto3", "botocore", "awsideman.sandbox", "awsideman.adapters")


def _run(home: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``python -m awsideman ARGS`` in a fresh process: the result and the modules it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS")}  # AWS_* and AWSIDEMAN_*
    env["AWSIDEMAN_HOME"] = str(home)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "awsideman", *args], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    modules = {m["name"] for line in proc.stderr.splitlines() if (m := _IMPORTED.match(line))}
    assert "awsideman" in modules, proc.stderr[-2000:]  # the reader saw the imports: not vacuous
    return proc, modules


def _loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_a_bare_version_imports_none_of_the_heavy_modules(tmp_path):
    proc, modules = _run(tmp_path, "--version")
    assert (proc.returncode, proc.stdout) == (0, f"awsideman {awsideman.__version__}\n"), proc.stderr[-2000:]
    assert _loaded(modules, HEAVY_FOR_VERSION) == []
    assert "awsideman.render" in modules  # printed through the one module that prints


def test_version_with_other_options_is_answered_by_the_app(tmp_path):
    proc, modules = _run(tmp_path, "--no-color", "--version")
    assert (proc.returncode, proc.stdout) == (0, f"awsideman {awsideman.__version__}\n"), proc.stderr[-2000:]
    assert "awsideman.cli.app" in modules


@pytest.mark.parametrize("args", [["--help"], ["backup", "--help"], ["restore", "--help"]],
                         ids=lambda a: " ".join(a))
def test_help_imports_no_sdk_no_sandbox_and_no_rich(tmp_path, args):
    proc, modules = _run(tmp_path, *args)
    assert proc.returncode == 0 and "Usage: awsideman" in proc.stdout, proc.stderr[-2000:]
    assert _loaded(modules, (*SDK_AND_SANDBOX, "rich", "pydantic", "awsideman.services")) == []


def test_report_list_of_a_local_journal_imports_no_sdk_and_no_sandbox(tmp_path):
    proc, modules = _run(tmp_path, "report", "list")
    assert proc.returncode == 0 and "No operations recorded" in proc.stdout, proc.stderr[-2000:]
    assert _loaded(modules, (*SDK_AND_SANDBOX, "tenacity", "jsonschema", "yaml")) == []
    assert "awsideman.journal" in modules  # it did read the journal


def test_a_config_file_is_still_read_and_checked(tmp_path):
    """PyYAML and jsonschema are imported late, not skipped: a bad key is still refused (exit 2)."""
    (tmp_path / "config.yaml").write_text("concurency: 4\n")
    proc, modules = _run(tmp_path, "report", "list")
    assert proc.returncode == 2 and "concurency" in proc.stderr, proc.stderr[-2000:]
    assert {"yaml", "jsonschema"} <= modules

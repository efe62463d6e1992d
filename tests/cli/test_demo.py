"""`awsideman demo` runs the whole story against its own emulator and exits 0."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import run_cli

pytestmark = pytest.mark.e2e


def test_demo_tells_the_whole_story_and_exits_0(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS")}
    env["AWSIDEMAN_HOME"] = str(tmp_path / "home")
    proc = run_cli(env, "-o", "json", "demo", "--home", str(tmp_path / "demo"), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    steps = json.loads(proc.stdout)["steps"]
    codes = [(s["command"].split()[1], s["exit_code"]) for s in steps if "command" in s]
    assert codes == [("backup", 0), ("restore", 4), ("report", 0), ("restore", 0), ("report", 0), ("restore", 0)]
    failed_report, clean_report = steps[3]["result"], steps[5]["result"]
    assert failed_report["status"] == "rolled_back" and failed_report["failures"][0]["remediation"]
    assert clean_report["status"] == "succeeded" and clean_report["counts"]["applied"] > 0
    assert steps[6]["result"]["changes"] == []  # the dry run after the clean restore finds nothing

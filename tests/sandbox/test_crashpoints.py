"""The product announces named points (services/hooks.py); only the sandbox's kill points act on
them. The kills themselves are proved end to end in tests/cli/test_stop_and_truth.py and
tests/cli/test_shared_state_cli.py (run_cli_killed_at)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from awsideman import __version__
from awsideman.sandbox import crashpoints
from awsideman.services import hooks

PACKAGE = Path(__file__).resolve().parents[2] / "awsideman"


def test_a_point_reaches_each_observer_until_it_is_removed():
    seen: list[str] = []
    remove = hooks.observe(seen.append)
    hooks.reached("backup:before-store-write")
    remove()
    hooks.reached("backup:after-store-write")
    assert seen == ["backup:before-store-write"]


def test_the_kill_points_are_the_points_the_product_announces():
    announced = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "reached"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "hooks"):
                announced.add(node.args[0].value)  # type: ignore[attr-defined]
    assert announced == set(crashpoints.POINTS)


def test_a_misspelt_kill_point_is_refused_before_the_command_runs(tmp_path):
    def run(point: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "awsideman.sandbox.crashpoints", "--version"],
                              env=dict(os.environ, AWSIDEMAN_CRASH_AT=point, HOME=str(tmp_path)),
                              capture_output=True, text=True, timeout=60)

    misspelt = run("backup:before-store")
    assert misspelt.returncode == 1 and "not a point the product announces" in misspelt.stderr
    assert __version__ not in misspelt.stdout
    armed = run("backup:before-store-write")  # a command that never reaches the point runs as usual
    assert armed.returncode == 0 and armed.stdout.strip() == f"awsideman {__version__}"

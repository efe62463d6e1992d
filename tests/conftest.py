"""Shared test setup: the sandbox emulator fixtures (`sandbox`, `served_sandbox`) and pytester.

Tests that use the served emulator are marked `served` here, from their fixtures; modules that
drive the real executable mark themselves `e2e`. `-m "not served and not e2e"` leaves the unit
tests (CI runs those again at the lowest allowed dependency versions).
"""

import compileall
from pathlib import Path

import pytest

pytest_plugins = ["awsideman.sandbox.pytest_plugin", "pytester"]

SERVED_FIXTURES = frozenset({"served_sandbox", "sandbox_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.served)


def pytest_configure(config: pytest.Config) -> None:
    # Every e2e test starts the `awsideman` executable, many times. Where PYTHONDONTWRITEBYTECODE
    # is set (as on our CI machines) each start would compile the whole package from source
    # again; compile it once here, in the controller (xdist workers have `workerinput`).
    if not hasattr(config, "workerinput"):
        compileall.compile_dir(Path(__file__).resolve().parents[1] / "awsideman", quiet=1)

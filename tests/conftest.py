"""Shared test setup: the sandbox emulator fixtures (`sandbox`, `served_sandbox`) and pytester.

Tests that use the served emulator are marked `served` here, from their fixtures; modules that
drive the real executable mark themselves `e2e`. `-m "not served and not e2e"` leaves the unit
tests (CI runs those again at the lowest allowed dependency versions).
"""

import pytest

pytest_plugins = ["awsideman.sandbox.pytest_plugin", "pytester"]

SERVED_FIXTURES = frozenset({"served_sandbox", "sandbox_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.served)

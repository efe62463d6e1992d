"""Shared test setup: the sandbox emulator fixtures (`sandbox`, `served_sandbox`) and pytester.

Tests that use the served emulator are marked `served` here, from their fixtures; modules that
drive the real executable mark themselves `e2e`. `-m "not served and not e2e"` leaves the unit
tests (CI runs those again at the lowest allowed dependency versions).
"""

import compileall
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

pytest_plugins = ["awsideman.sandbox.pytest_plugin", "pytester"]

SERVED_FIXTURES = frozenset({"served_sandbox", "sandbox_server"})

# The client-side limiter paces every run at the product's 20 calls/s per service: a `small`
# backup or restore then waits ~8 s for 1 s of work. Tests get a config.yaml in the sandbox home
# with the limiter still on (every call still takes a token) but at rates that never wait.
# Tests that set `rate_limit` themselves (make_context overrides, --config, their own
# config.yaml) are unaffected, and so are tests marked `paced`: their kill points rely on a run
# that lasts a while.
UNPACED_CONFIG = "rate_limit: {sso_admin_rate: 10000, identitystore_rate: 10000, burst: 10000}\n"


# Property tests are derandomized by default: the same examples on every run and machine, so CI
# can't fail on a draw nobody has seen. `--hypothesis-profile=explore` draws at random (run it
# when touching the sanitiser, the planner or the rollback paths).
settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("default")


def _unpaced(request: pytest.FixtureRequest, home: Path) -> None:
    config = home / "config.yaml"
    if request.node.get_closest_marker("paced") is None and not config.exists():
        config.write_text(UNPACED_CONFIG)


@pytest.fixture
def sandbox(sandbox: Any, request: pytest.FixtureRequest) -> Any:
    _unpaced(request, sandbox.home)
    return sandbox


@pytest.fixture
def served_sandbox(served_sandbox: Any, request: pytest.FixtureRequest) -> Any:
    _unpaced(request, served_sandbox.home)
    return served_sandbox


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

"""The sandbox's own tests run against both ways of reaching the emulator."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(params=["in-process", pytest.param("served", marks=pytest.mark.served)])
def emulator(request: pytest.FixtureRequest) -> Any:
    """The same test against `sandbox` (in-process) and `served_sandbox` (HTTP)."""
    return request.getfixturevalue("sandbox" if request.param == "in-process" else "served_sandbox")

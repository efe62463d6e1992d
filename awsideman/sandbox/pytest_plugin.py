"""pytest fixtures giving each test a fresh Identity Center emulator.

- `sandbox`: in-process (`moto.mock_aws()` + gap fills + the fault handler first in botocore's
  before-send chain). Any boto3 session created during the test, including inside product
  code, talks to it: AWS_* variables are replaced by dummy credentials for the test.
- `served_sandbox`: one `SandboxServer` per test session (per xdist worker), reset before each
  test; for subprocesses and end-to-end CLI runs through `AWS_ENDPOINT_URL`.

Both share moto's process-wide backends, so one test cannot use both (it fails loudly).
Enable with `pytest_plugins = ["awsideman.sandbox.pytest_plugin"]`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from awsideman.sandbox import inprocess, patches, seeder
from awsideman.sandbox.injector import FaultInjector, InjectorControls
from awsideman.sandbox.server import REGION, SandboxServer, sandbox_env, sandbox_session

# Seeding is fixture work, not the code under test: let botocore ride out injected faults.
SEED_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10})
_active_mode: str | None = None


def clean_environ(base: Mapping[str, str], sandbox: Mapping[str, str], home: Path) -> dict[str, str]:
    """`base` without any real AWS setting (creds, profile, endpoints, config files), plus `sandbox`."""
    env = {k: v for k, v in base.items() if not k.startswith("AWS_")}
    env.update(sandbox)
    # a developer's ~/.aws must not leak profiles, endpoints or SSO sessions into the test
    env["AWS_CONFIG_FILE"] = str(home / "aws-config-absent")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(home / "aws-credentials-absent")
    env["AWSIDEMAN_HOME"] = str(home)
    return env


def _claim(mode: str) -> None:
    global _active_mode
    if _active_mode is not None and _active_mode != mode:
        pytest.fail(f"a test cannot use both `sandbox` and `served_sandbox` ({_active_mode} is active): "
                    "they share moto's process-wide state", pytrace=False)
    _active_mode = mode


def _release() -> None:
    global _active_mode
    _active_mode = None


def _apply_env(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> None:
    for key in list(os.environ):
        if key.startswith("AWS_") and key not in env:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # boto3's module-level session may hold credentials resolved before the test
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


class _Sandbox(InjectorControls):
    """What both fixtures yield: boto3 clients on the emulator, seeding, and its controls."""

    def __init__(self, injector: FaultInjector, home: Path) -> None:
        self.injector = injector
        self.home = home
        self.region = REGION
        self.session = sandbox_session()

    def client(self, name: str, **kwargs: Any) -> Any:
        return self.session.client(name, **kwargs)

    def seed(self, size: str, *, seed: int = 0) -> seeder.SeedResult:
        clients = {n: self.client(n, config=SEED_CONFIG) for n in ("sso-admin", "identitystore", "organizations")}
        return seeder.seed(clients, size, seed=seed)


class InProcessSandbox(_Sandbox):
    """What the `sandbox` fixture yields."""

    @property
    def faults(self) -> FaultInjector:
        """The injector itself, for what the controls do not cover."""
        return self.injector


class ServedSandbox(_Sandbox):
    """What the `served_sandbox` fixture yields."""

    def __init__(self, server: SandboxServer, home: Path) -> None:
        super().__init__(server.injector, home)
        self.server = server
        self.endpoint_url = server.endpoint_url
        self.env = clean_environ(os.environ, server.env(), home)

    def client(self, name: str, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().client(name, **kwargs)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessSandbox]:
    """A fresh in-process emulator with fault injection (no rules until the test sets some)."""
    from moto import mock_aws

    _claim("sandbox")
    home = tmp_path / "awsideman-home"
    home.mkdir()
    _apply_env(monkeypatch, clean_environ({}, _in_process_env(), home))
    patches.apply()
    injector = FaultInjector()
    try:
        with mock_aws():
            inprocess.install(injector)
            try:
                yield InProcessSandbox(injector, home)
            finally:
                inprocess.uninstall()
    finally:
        _release()


def _in_process_env() -> dict[str, str]:
    env = sandbox_env("unused")
    del env["AWS_ENDPOINT_URL"]  # in-process, moto intercepts the real AWS URLs
    return env


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """The served emulator shared by a test session (one per xdist worker)."""
    patches.apply()
    server = SandboxServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def served_sandbox(sandbox_server: SandboxServer, tmp_path: Path) -> Iterator[ServedSandbox]:
    """The shared server, emptied (state, counters, rules) for this test."""
    _claim("served")
    home = tmp_path / "awsideman-home"
    home.mkdir()
    sandbox_server.reset(faults=True)
    try:
        yield ServedSandbox(sandbox_server, home)
    finally:
        sandbox_server.reset(faults=True)
        _release()

"""The sandbox as the product's command line uses it: serve, seed, steer and break an emulator.

`awsideman sandbox` and `awsideman demo` import only this module's names. The boto3 clients
that seed and break an emulator are built here, with its dummy credentials (never the caller's):
the sandbox owns its clients for the emulator, so the product's cli builds no AWS client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.config import Config

from awsideman.sandbox import incident, principals
from awsideman.sandbox.fault_rules import FaultRules, FaultRulesError
from awsideman.sandbox.incident import Damage, NothingToBreakError
from awsideman.sandbox.principals import Principal, PrincipalError
from awsideman.sandbox.seed_backends import seed_backends
from awsideman.sandbox.seeder import SIZES
from awsideman.sandbox.server import SandboxClient, SandboxServer, SandboxUnavailableError, sandbox_session

__all__ = [
    "SIZES", "Damage", "FaultRules", "FaultRulesError", "NothingToBreakError", "Principal", "PrincipalError",
    "SandboxClient", "SandboxServer", "SandboxUnavailableError", "break_instance", "create_principal", "seed_server",
]


def seed_server(server: SandboxServer, size: str, seed_value: int) -> dict[str, int]:
    """Seed ``server`` with the data set ``size``; returns how many of each kind it holds.

    The server runs in this process, so the data is written straight into its backends
    (``seed_backends``: ``huge`` in seconds, not an hour of API calls) and no fault rule
    can touch it."""
    result = seed_backends(size, seed=seed_value)
    server.reset_counters()  # counters describe what clients do, not the seeding
    return result.counts()


def break_instance(endpoint: str) -> list[Damage]:
    """Break the sandbox at ``endpoint`` as an incident would (see `awsideman.sandbox.incident`)."""
    return incident.break_instance(_clients(endpoint))


def create_principal(endpoint: str, name: str, deny: Sequence[str] = (),
                     allow: Sequence[str] | None = None) -> Principal:
    """Create IAM user ``name`` at the sandbox ``endpoint``, allowed ``allow`` (default every action)
    but ``deny``; returns (access key id, secret key, user ARN), see `awsideman.sandbox.principals`.

    Raises SandboxUnavailableError unless a sandbox answers at ``endpoint`` (users are made only
    in an emulator), PrincipalError for a bad name or action or a name already taken."""
    principals.check(name, deny, allow)  # a usage error before any call
    SandboxClient(endpoint).faults()
    iam = sandbox_session().client("iam", endpoint_url=endpoint, config=Config(retries={"mode": "standard"}))
    return principals.create_principal(iam, name, deny, allow)


def _clients(endpoint: str) -> dict[str, Any]:
    """Identity Center clients at a sandbox, with its dummy credentials (never the caller's)."""
    session = sandbox_session()
    config = Config(retries={"mode": "standard", "max_attempts": 10})
    return {name: session.client(name, endpoint_url=endpoint, config=config)
            for name in ("sso-admin", "identitystore", "organizations")}

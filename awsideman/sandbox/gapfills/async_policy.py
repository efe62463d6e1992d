"""What the asynchronous sso-admin requests ask of the outside world: time, limit and outcome.

The gap fills model the service; the fault rules say how long a request stays IN_PROGRESS,
how many may be outstanding and which end FAILED. This module is the seam between the two:
the transports register the active `FaultInjector` (which satisfies `AsyncPolicy`) with
`use_policy()`, and the model reads `current_policy()`. Without one (plain `mock_aws()` or
moto's own server) `DEFAULT_POLICY` applies: requests finish at once, at most 15 outstanding.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

from awsideman.sandbox.quirks import Quirks

# The service's documented limit on outstanding CreateAccountAssignment,
# DeleteAccountAssignment and ProvisionPermissionSet requests per instance; it cannot be raised.
MAX_OUTSTANDING = 15


@dataclass(frozen=True)
class AsyncPlan:
    """How one accepted request ends: after `seconds`, FAILED with `failure_reason` if set."""

    seconds: float = 0.0
    failure_reason: str | None = None


class AsyncPolicy(Protocol):
    """The questions the model asks; `FaultInjector` answers them from the rule file."""

    def now(self) -> float:
        """A monotonic clock in seconds (tests advance it instead of sleeping)."""
        ...

    def async_limit(self) -> int | None:
        """Outstanding requests allowed per instance; None for no limit."""
        ...

    def plan_async(self, service: str, operation: str) -> AsyncPlan:
        """Decide the duration and outcome of a request the service has just accepted."""
        ...

    def note(self, service: str, operation: str, kind: str) -> None:
        """Record that the model refused a call (`async_cap`, `async_conflict`, `ps_conflict`, `account_denied`)."""
        ...

    def quirks(self) -> Quirks:
        """The real-AWS behaviours switched on (``fault_rules.Quirks``)."""
        ...


class DefaultPolicy:
    """Real clock, the real limit, every request SUCCEEDED at once."""

    def now(self) -> float:
        return time.monotonic()

    def async_limit(self) -> int | None:
        return MAX_OUTSTANDING

    def plan_async(self, service: str, operation: str) -> AsyncPlan:
        return AsyncPlan()

    def note(self, service: str, operation: str, kind: str) -> None:
        return None

    def quirks(self) -> Quirks:
        return Quirks()


DEFAULT_POLICY = DefaultPolicy()
_policies: list[AsyncPolicy] = []
_lock = threading.Lock()


def use_policy(policy: AsyncPolicy) -> None:
    """Make `policy` current (a stack: an in-process sandbox may sit on a served one's)."""
    with _lock:
        _policies.append(policy)


def drop_policy(policy: AsyncPolicy | None) -> None:
    """Forget the latest registration of `policy` (no-op when it is not registered)."""
    with _lock:
        for index in range(len(_policies) - 1, -1, -1):
            if _policies[index] is policy:
                del _policies[index]
                return


def current_policy() -> AsyncPolicy:
    """The most recently registered policy, else `DEFAULT_POLICY`."""
    with _lock:
        return _policies[-1] if _policies else DEFAULT_POLICY

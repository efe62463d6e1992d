"""Retry and rate limiting proven with the emulator's fault injection (issue 4)."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from awsideman.core.exceptions import IncompleteBackupError
from awsideman.core.ratelimit import RateLimitConfig
from awsideman.core.retry import RetryConfig, RetryPolicy
from awsideman.services import context as context_module
from awsideman.services.archive import BackupArchive
from awsideman.services.backup import BackupRequest, BackupService
from tests.helpers import make_context

FAST_RETRY = RetryConfig(max_retries=15, base_delay=0.01, max_delay=0.2, deadline=60)
NO_LIMIT = RateLimitConfig(enabled=False)


def _sha(service: BackupService, backup_id: str) -> str:
    return str(BackupArchive(service.context).show(backup_id, None)["payload"]["sha256"])


def test_backup_under_throttling_5xx_and_resets_equals_a_clean_run(sandbox):
    sandbox.seed("small", seed=31)
    service = BackupService(make_context(retry=FAST_RETRY, rate_limit=NO_LIMIT))
    clean = service.create(BackupRequest())
    sandbox.set_faults({"seed": 4, "rules": [
        {"operation": "*", "throttle": 0.30, "server_error": 0.05, "reset": 0.02}]})
    stormy_service = BackupService(make_context(retry=FAST_RETRY, rate_limit=NO_LIMIT))
    stormy = stormy_service.create(BackupRequest())
    faults = sandbox.faults.fault_counters()
    kinds = {key.rsplit(":", 1)[1] for key in faults}
    assert {"throttle", "server_error", "reset"} <= kinds, faults
    assert stormy.status == "succeeded" and stormy.retries >= sum(faults.values()) > 10
    assert _sha(stormy_service, stormy.backup_id) == _sha(service, clean.backup_id)


def test_a_permanent_error_costs_exactly_one_call(sandbox):
    sandbox.seed("tiny", seed=32)
    sandbox.set_faults({"rules": [{"operation": "ListPermissionSets", "fail_after": 0,
                                   "error": "AccessDeniedException"}]})
    service = BackupService(make_context(retry=FAST_RETRY))
    result = service.create(BackupRequest(allow_partial=True))
    assert result.status == "partial"
    assert sandbox.counters()["sso-admin:ListPermissionSets"] == 1
    assert result.missing[0]["steps"] == ["permission_sets"]


class PolicyTime:
    """The retry policy's clock and sleep: time moves only when the policy waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def test_the_retry_deadline_is_respected(sandbox, monkeypatch):
    sandbox.seed("tiny", seed=33)
    # HTTP 500s without Retry-After: the policy's own backoff, not the server, sets the pace.
    sandbox.set_faults({"rules": [{"operation": "ListPermissionSets", "server_error": 1.0}]})
    retry = RetryConfig(max_retries=1000, base_delay=0.05, max_delay=0.2, deadline=1.0)
    # Injected time, so a loaded machine cannot stretch the run past the deadline: only the
    # policy's own waits count, and the test never really sleeps.
    policy_time = PolicyTime()
    real_policy = context_module.RetryPolicy

    def policy_on_fake_time(*args: Any, **kwargs: Any) -> RetryPolicy:
        kwargs.update(sleep=policy_time.sleep, clock=policy_time.clock, rng=random.Random(33))
        return real_policy(*args, **kwargs)

    monkeypatch.setattr(context_module, "RetryPolicy", policy_on_fake_time)
    service = BackupService(make_context(retry=retry))
    with pytest.raises(IncompleteBackupError, match="permission-sets .InternalServerException"):
        service.create(BackupRequest())
    # Gives up when the next wait (at most max_delay) would cross the 1 s deadline, never after
    # it, and long before 1000 retries; every wait was followed by exactly one more call.
    waited = sum(policy_time.sleeps)
    assert 1.0 - 0.2 < waited <= 1.0, policy_time.sleeps
    calls = sandbox.counters()["sso-admin:ListPermissionSets"]
    assert calls == len(policy_time.sleeps) + 1
    assert 5 < calls < 60


@pytest.mark.parametrize("limited", [True, False])
def test_the_limiter_keeps_a_run_under_the_emulators_quota(sandbox, limited):
    sandbox.seed("small", seed=34)
    sandbox.set_faults({"quotas": "real"})
    sandbox.faults.reset_counters()
    limits = RateLimitConfig() if limited else NO_LIMIT
    service = BackupService(make_context(retry=FAST_RETRY, rate_limit=limits, concurrency=8))
    result = service.create(BackupRequest())
    throttles = sum(n for key, n in sandbox.faults.fault_counters().items() if key.endswith(":throttle"))
    assert result.status == "succeeded"
    if limited:
        assert throttles <= 1, sandbox.faults.fault_counters()
    else:  # the same run without the limiter does hit the quota: the assertion above can fail
        assert throttles > 5

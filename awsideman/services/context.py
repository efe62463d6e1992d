"""Builds the shared machinery a service needs from Settings: gateway, journal, store."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from awsideman.adapters.aws import AwsGateway
from awsideman.adapters.identity_center import Instance, discover_instance
from awsideman.adapters.storage import BackupStore, open_store
from awsideman.config import Settings
from awsideman.core.cancel import StopSignal
from awsideman.core.ratelimit import RateLimiter
from awsideman.core.retry import RetryPolicy
from awsideman.journal import StateJournal


class Context:
    """Lazily created collaborators for one command run (nothing touches AWS until asked)."""

    def __init__(self, settings: Settings, progress: Callable[[str], None] | None = None,
                 stop: StopSignal | None = None, recorder: Any = None) -> None:
        self.settings = settings
        self.progress = progress or (lambda _msg: None)
        # One stop signal for everything this run does: API attempts, retry and limiter waits.
        self.stop = stop or StopSignal()
        # A RunRecorder (services.run_record): log file and metrics of the operations run here.
        self.recorder = recorder
        self.warnings: list[str] = []
        if recorder is not None:
            shown = self.progress

            def progress_and_log(message: str) -> None:
                recorder.progress(message)
                shown(message)

            self.progress = progress_and_log

    @cached_property
    def gateway(self) -> AwsGateway:
        s = self.settings
        limiter = RateLimiter(s.rate_limit, sleep=self.stop.sleep)
        policy = RetryPolicy(s.retry, limiter=limiter, stop=self.stop)
        return AwsGateway(profile=s.profile, region=s.region, retry=policy, max_pool=s.concurrency + 4)

    @cached_property
    def instance(self) -> Instance:
        return discover_instance(self.gateway, self.settings.instance_arn, self.settings.identity_store_id)

    @cached_property
    def journal(self) -> StateJournal:
        from awsideman.services.state_backend import open_journal

        journal = open_journal(self.settings)
        # With shared state, a runner whose lease ran out makes no further API call.
        self.stop.add_guard(journal.ensure_lease)
        return journal

    def store(self, url: str | None) -> BackupStore:
        return open_store(url or self.settings.default_store, lambda: self.gateway,
                          self.settings.s3_sse_kms_key, self.settings.limits)

    def close(self) -> None:
        if self.recorder is not None:
            try:
                self.recorder.finish(self.__dict__.get("journal"), self.__dict__.get("gateway"))
            except Exception as exc:  # the command's own outcome stands; metrics/logs are extras
                self.warnings.append(f"Could not write the log or metrics file: {exc}")
        if "journal" in self.__dict__:
            self.stop.remove_guard(self.journal.ensure_lease)
            self.journal.close()

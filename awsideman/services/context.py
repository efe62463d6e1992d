"""Builds the shared machinery a service needs from Settings: gateway, journal, store."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

from awsideman.adapters.aws import AwsGateway
from awsideman.adapters.identity_center import Instance, discover_instance
from awsideman.adapters.storage import BackupStore, open_store
from awsideman.config import Settings
from awsideman.core.cancel import StopSignal
from awsideman.core.progress import ENDED, STARTED, Phase, PhaseListener, PhaseTracker, PhaseView
from awsideman.core.ratelimit import RateLimiter
from awsideman.core.recovery import RecoveryPolicy
from awsideman.core.retry import RetryPolicy
from awsideman.journal import StateJournal, utc_timestamp
from awsideman.services.log_context import set_phase


class Context:
    """Lazily created collaborators for one command run (nothing touches AWS until asked)."""

    def __init__(self, settings: Settings, progress: Callable[[str], None] | None = None,
                 stop: StopSignal | None = None, recorder: Any = None, display: PhaseListener | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock  # what time budgets (rollback.time_budget) are measured on
        # One stop signal for everything this run does: API attempts, retry and limiter waits.
        self.stop = stop or StopSignal()
        # A RunRecorder (services.run_record): log file and metrics of the operations run here.
        self.recorder = recorder
        self.warnings: list[str] = []
        shown = progress or (lambda _msg: None)

        def note(message: str) -> None:
            if recorder is not None:
                recorder.progress(message)
            shown(message)

        # The run's phases: drawn by ``display`` (the renderer), logged, and recorded in the
        # journal by ``run_operation``. Calling ``progress(message)`` is a free-text note.
        self.phases = PhaseTracker(listener=_PhaseLog(display, recorder), note=note, clock=clock,
                                   timestamp=utc_timestamp)
        self.progress: Any = self.phases

    def phase(self, name: str, total: int | None = None) -> Phase:
        """Open a phase of this run (ending the open one): ``advance()`` it as work settles."""
        return self.phases.phase(name, total)

    @cached_property
    def gateway(self) -> AwsGateway:
        s = self.settings
        limiter = RateLimiter(s.rate_limit, sleep=self.stop.sleep)
        policy = RetryPolicy(s.retry, limiter=limiter, stop=self.stop, recovery=self.recovery)
        return AwsGateway(profile=s.profile, region=s.region, retry=policy, max_pool=s.concurrency + 4)

    @cached_property
    def recovery(self) -> RecoveryPolicy:
        """The ``recovery:`` rules and the installed error handlers (warnings go to the run's)."""
        from awsideman.services.error_handlers import load_handlers

        return RecoveryPolicy(rules=self.settings.recovery, warn=self.warnings.append,
                              load_handlers=lambda: load_handlers(self.warnings.append))

    @cached_property
    def instance(self) -> Instance:
        return discover_instance(self.gateway, self.settings.instance_arn, self.settings.identity_store_id)

    @cached_property
    def caller(self) -> dict[str, Any] | None:
        """Who this run is (``arn``, ``account``), from the GetCallerIdentity discovery made; None if denied."""
        identity = self.gateway.caller_identity()
        if not identity or not identity.get("Arn"):
            return None
        return {"arn": str(identity["Arn"]), "account": str(identity.get("Account") or "") or None}

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
            self.warnings += getattr(self.recorder, "warnings", [])  # notifications, CloudWatch
        if "journal" in self.__dict__:
            self.stop.remove_guard(self.journal.ensure_lease)
            self.journal.close()


class _PhaseLog:
    """Passes phase events to the display, and writes a phase's start and end to the run's log."""

    def __init__(self, display: PhaseListener | None, recorder: Any) -> None:
        self.display, self.recorder = display, recorder

    def phase_changed(self, view: PhaseView) -> None:
        if view.event == STARTED:
            set_phase(view.name)  # the lines logged from now on say which phase they belong to
        if self.recorder is not None:
            if view.event in (STARTED, ENDED):
                self.recorder.progress(f"phase {view.name} started" if view.event == STARTED
                                       else f"phase {view.line()}")
            self.recorder.phase_changed(view)  # CloudWatch progress of a long run
        if view.event == ENDED:
            set_phase(None)
        if self.display is not None:
            self.display.phase_changed(view)

"""Deliver notifications (`notify:`) to their sinks: bounded in time, retried by the one retry
owner, and never able to change the operation's result.

Every sink is delivered in a thread of its own, all at once. A sink gets ``timeout`` seconds,
retries included: its retry policy's deadline is that timeout, each attempt may wait only for
what is left of it, and a thread still busy when the time is up (a name that takes long to
resolve, a peer that stops sending half-way) is left behind as a daemon and its sink reported
``timed_out``, so the command exits on time. A webhook is sent again only when it provably was
not taken (the connection was refused, or it answered 429); a lost answer is not re-sent, so a
receiver never gets one operation's message twice. SNS goes through a gateway of the topic's
region (``adapters/aws.py``), bounded the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from awsideman.adapters import sns_publish, webhook
from awsideman.config import Settings
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import AmbiguousWriteError
from awsideman.core.notify_config import NotifySink
from awsideman.core.retry import RetryPolicy
from awsideman.core.sanitize import sanitize
from awsideman.services import notify_message

SENT, FAILED, TIMED_OUT = "sent", "failed", "timed_out"
# What a thread may take beyond its sink's timeout before it is left behind: the policy's own
# bookkeeping after the last socket wait, never a wait of its own.
GRACE = 0.5


@dataclass
class Delivery:
    """One sink's outcome for one message."""

    sink: str
    kind: str
    result: str
    detail: str = ""
    operation_id: str | None = None
    attempts: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result == SENT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """``notification to SINK: sent`` / ``notification to SINK failed: why``."""
        if self.ok:
            return f"notification to {self.sink}: sent ({self.attempts} attempt(s), {self.seconds:.1f} s)"
        return f"notification to {self.sink} {self.result.replace('_', ' ')} after {self.seconds:.1f} s: {self.detail}"


GatewayFactory = Callable[[str, RetryPolicy, float], Any]


class Notifier:
    """Sends messages to the configured sinks (``settings.notify``); see the module docstring.

    ``post`` (the webhook adapter's), ``gateway_for(region, policy, timeout)`` (an ``AwsGateway``),
    ``clock`` and ``sleep`` (the retry policy's) are injectable for tests.
    """

    def __init__(self, settings: Settings, *, post: Callable[..., int] = webhook.post,
                 gateway_for: GatewayFactory | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.post = post
        self.gateway_for = gateway_for or self._gateway
        self.clock = clock
        self.sleep = sleep

    def for_account(self, account: Any) -> list[Delivery]:
        """Send an operation's account to every sink whose ``on:`` and ``min_severity`` want it."""
        document = notify_message.payload(account)
        sinks = [s for s in self.settings.notify if s.wants(document["status"], document["severity"])]
        return self.deliver(sinks, document)

    def deliver(self, sinks: Sequence[NotifySink], document: dict[str, Any]) -> list[Delivery]:
        """Send ``document`` to each of ``sinks`` at once; every outcome, in the sinks' order."""
        found: list[Delivery | None] = [None] * len(sinks)

        def run(index: int, sink: NotifySink) -> None:
            found[index] = self._send(sink, document)

        threads = [threading.Thread(target=run, args=(i, s), name=f"awsideman-notify-{i}", daemon=True)
                   for i, s in enumerate(sinks)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for index, (thread, sink) in enumerate(zip(threads, sinks, strict=True)):
            thread.join(max(0.0, started + sink.timeout + GRACE - time.monotonic()))
            if thread.is_alive() or found[index] is None:
                found[index] = Delivery(sink.label, sink.kind, TIMED_OUT, f"no outcome within {sink.timeout:g} s",
                                        document.get("operation_id"), seconds=round(time.monotonic() - started, 3))
        return [d for d in found if d is not None]

    def _send(self, sink: NotifySink, document: dict[str, Any]) -> Delivery:
        policy = RetryPolicy(replace(self.settings.retry, deadline=sink.timeout), clock=self.clock,
                             sleep=self.sleep)
        started = self.clock()
        delivery = Delivery(sink.label, sink.kind, SENT, operation_id=document.get("operation_id"))
        try:
            if sink.kind == "sns":
                self._publish(sink, document, policy)
            else:
                self._post(sink, document, policy, started)
        except Exception as exc:  # noqa: BLE001 - a failed notification is an outcome, never the run's error
            delivery.result, delivery.detail = FAILED, _why(exc)
        delivery.attempts = int(policy.stats.snapshot()["attempts"])
        delivery.seconds = round(self.clock() - started, 3)
        return delivery

    def _post(self, sink: NotifySink, document: dict[str, Any], policy: RetryPolicy, started: float) -> None:
        body = notify_message.body(document, sink.format, webhook=True)
        ends = started + sink.timeout

        def attempt() -> int:
            left = ends - self.clock()
            if left <= 0:  # the retry waits used it up: no attempt that could only time out
                raise TimeoutError(f"no time left of the sink's {sink.timeout:g} s")
            return self.post(sink.url, body.encode("utf-8"), content_type="application/json", timeout=left)

        policy.call(attempt, service="webhook", operation="POST", idempotent=False)

    def _publish(self, sink: NotifySink, document: dict[str, Any], policy: RetryPolicy) -> None:
        region = sink.topic_arn.split(":")[3]
        gateway = self.gateway_for(region, policy, sink.timeout)
        message = notify_message.body(document, sink.format, webhook=False)
        attributes = {"kind": document["kind"], "status": document["status"], "severity": document["severity"],
                      "test": "true" if document.get("test") else "false"}
        sns_publish.publish(gateway, sink.topic_arn, message, subject=notify_message.subject(document),
                            attributes=attributes, dedup_id=f"{document['operation_id']}-{document['status']}")

    def _gateway(self, region: str, policy: RetryPolicy, timeout: float) -> Any:
        from awsideman.adapters.aws import AwsGateway

        return AwsGateway(profile=self.settings.profile, region=region, retry=policy, max_pool=2, timeout=timeout)


def _why(exc: BaseException) -> str:
    """What went wrong, in the analyser's words (the original error of a lost answer)."""
    if isinstance(exc, AmbiguousWriteError):
        exc = exc.original
    info = ErrorAnalyzer().analyze(exc)
    return sanitize(f"{info.code}: {info.message}" if info.code not in info.message else info.message)


def send_test(settings: Settings, notifier: Notifier | None = None) -> list[Delivery]:
    """`awsideman notify test`: one sample message to every configured sink, whatever its ``on:``."""
    if not settings.notify:
        from awsideman.core.exceptions import ConfigError

        where = settings.config_path or settings.home / "config.yaml"
        raise ConfigError(f"{where}: no notification sinks configured (notify:)",
                          remediation=["Add a `notify:` list to the config (see config.example.yaml), then run "
                                       "`awsideman notify test` again."])
    return (notifier or Notifier(settings)).deliver(settings.notify, notify_message.sample_payload())

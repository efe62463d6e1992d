"""Call start times: the bounded log, and `calls_since` in both modes, over HTTP and the CLI."""

from __future__ import annotations

import json
import threading
import time

import pytest

from awsideman.cli.app import main
from awsideman.sandbox.call_log import CallLog, CallsSince
from awsideman.sandbox.fault_rules import FaultRulesError
from awsideman.sandbox.server import SandboxClient


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_since_counts_calls_at_or_after_the_instant() -> None:
    clock = Clock()
    log = CallLog(clock=clock)
    for key in ("s:A", "s:B"):
        log.record(key)
        clock.now += 1
    log.record("s:A")  # at 1002
    assert log.since(1001) == CallsSince(1001, {"s:B": 1, "s:A": 1}, complete=True)
    assert log.since(1002).total == 1
    assert log.since(5000) == CallsSince(5000, {}, complete=True)
    assert log.since(0).to_dict() == {"since": 0, "calls": {"s:A": 2, "s:B": 1}, "total": 3, "complete": True}
    assert log.entries(1001) == [(1001, "s:B"), (1002, "s:A")]  # oldest first, with their start times
    log.clear()
    assert log.since(0).total == 0 and log.entries(0) == []


def test_a_full_log_drops_the_oldest_and_says_when_an_answer_is_incomplete() -> None:
    clock = Clock()
    log = CallLog(capacity=3, clock=clock)
    for _ in range(5):  # at 1000..1004; 1000 and 1001 are dropped
        log.record("s:Op")
        clock.now += 1
    assert log.since(1002) == CallsSince(1002, {"s:Op": 3}, complete=True)
    assert log.since(1001) == CallsSince(1001, {"s:Op": 3}, complete=False)
    assert CallsSince.from_dict(log.since(1001).to_dict()) == log.since(1001)


def test_recording_is_thread_safe() -> None:
    log = CallLog(capacity=10_000)
    threads = [threading.Thread(target=lambda: [log.record("s:Op") for _ in range(500)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.since(0).calls == {"s:Op": 4000}


def test_calls_since_through_boto3(emulator) -> None:
    sso = emulator.client("sso-admin")
    sso.list_instances()
    signal_sent = time.time()
    for _ in range(3):
        sso.list_instances()
    found = emulator.calls_since(signal_sent)
    assert found.calls == {"sso-admin:ListInstances": 3} and found.complete
    assert emulator.calls_since(0).total == 4
    emulator.reset_counters()
    assert emulator.calls_since(0).total == 0


def test_control_endpoints_for_calls_and_the_clock(served_sandbox, capsys) -> None:
    control = SandboxClient(served_sandbox.endpoint_url)
    sso = served_sandbox.client("sso-admin")
    sso.list_instances()
    assert control.calls_since(0) == CallsSince(0, {"sso-admin:ListInstances": 1}, complete=True)
    assert control.calls_since(time.time() + 60).total == 0
    before = served_sandbox.server.injector.now()
    control.advance(30)
    assert served_sandbox.server.injector.now() - before >= 30
    with pytest.raises(FaultRulesError, match="seconds"):
        control.advance(-1)

    try:
        main(["sandbox", "counters", "--since", "0", "-o", "json", "--endpoint", served_sandbox.endpoint_url])
    except SystemExit as done:
        assert not done.code
    document = json.loads(capsys.readouterr().out)
    assert document == {"endpoint_url": served_sandbox.endpoint_url, "since": 0.0,
                        "calls": {"sso-admin:ListInstances": 1}, "total": 1, "complete": True}

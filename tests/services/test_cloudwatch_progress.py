"""The CloudWatch progress of a long run (issue 24, item 5): what one report holds, when there is
nothing to report, and that a failing CloudWatch is counted, never raised. `tick()` is one
report: no test waits for the thread's interval."""

from __future__ import annotations

import pytest

from awsideman.core.metrics_config import MetricsConfig
from awsideman.core.progress import ADVANCED, ENDED, STARTED, PhaseView
from awsideman.services.cloudwatch_progress import ProgressBeacon


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _beacon(sent: list, kind: str | None = "restore", fail: bool = False) -> tuple[ProgressBeacon, Clock]:
    clock = Clock()

    def send(samples):
        if fail:
            raise ConnectionError("endpoint unreachable")
        sent.append(list(samples))

    beacon = ProgressBeacon(send, lambda: kind, interval=3600, clock=clock)
    return beacon, clock


def test_a_report_holds_the_open_phase_and_the_runs_elapsed_time():
    sent: list = []
    beacon, clock = _beacon(sent)
    assert beacon.tick() is False and sent == []  # no phase yet: nothing to say
    beacon.phase_changed(PhaseView("applying", 0, 40, 0.0, STARTED))
    beacon.phase_changed(PhaseView("applying", 12, 40, 4.0, ADVANCED))
    clock.now += 75
    try:
        assert beacon.tick() is True
    finally:
        beacon.close()
    labels = (("operation", "restore"), ("phase", "applying"))
    assert sent == [[("progress_done", labels, 12.0), ("progress_total", labels, 40.0),
                     ("progress_elapsed_seconds", (("operation", "restore"),), 75.0)]]
    assert beacon.sent == 1


def test_between_phases_and_outside_an_operation_nothing_is_sent():
    sent: list = []
    beacon, _ = _beacon(sent)
    beacon.phase_changed(PhaseView("reading", 3, None, 1.0, STARTED))
    beacon.phase_changed(PhaseView("reading", 3, None, 1.0, ENDED))
    assert beacon.tick() is False
    beacon.close()
    outside, _ = _beacon(sent, kind=None)
    outside.phase_changed(PhaseView("reading", 3, None, 1.0, ADVANCED))
    assert outside.tick() is False and sent == []


def test_a_failing_cloudwatch_is_counted_for_a_warning_never_raised():
    sent: list = []
    beacon, _ = _beacon(sent, fail=True)
    beacon.phase_changed(PhaseView("polling", 2, 5, 1.0, ADVANCED))
    assert beacon.tick() is False and beacon.tick() is False
    assert beacon.failures == 2 and "endpoint unreachable" in (beacon.last_error or "")


@pytest.mark.parametrize(("value", "ok"), [(60, True), (0, True), (1, True), (3600, True), (0.5, False),
                                           (3601, False), ("often", False), (-1, False)])
def test_progress_interval_is_validated(value, ok):
    data = {"cloudwatch": {"progress_interval": value}}
    if ok:
        assert MetricsConfig.from_mapping(data).cloudwatch.progress_interval == value
    else:
        with pytest.raises(ValueError, match="progress_interval"):
            MetricsConfig.from_mapping(data)

"""The phase tracker (core.progress) and how the renderer draws it, on an injected clock: no
sleeps, no wall time."""

from __future__ import annotations

import io
import threading

import pytest
from rich.console import Console

from awsideman.core.progress import ADVANCED, ENDED, STARTED, PhaseTracker, PhaseView, open_phase
from awsideman.render import PLAIN_PROGRESS_EVERY, Renderer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.stamps = 0

    def __call__(self) -> float:
        return self.now

    def stamp(self) -> str:
        self.stamps += 1
        return f"2026-01-01T00:00:{self.stamps:02d}Z"


class Events:
    def __init__(self) -> None:
        self.views: list[PhaseView] = []

    def phase_changed(self, view: PhaseView) -> None:
        self.views.append(view)


def _tracker(clock: Clock, listener: object = None, note: object = None) -> PhaseTracker:
    return PhaseTracker(listener=listener, note=note, clock=clock, timestamp=clock.stamp)  # type: ignore[arg-type]


def test_a_phase_counts_rate_elapsed_and_eta_on_its_clock():
    clock, events = Clock(), Events()
    tracker = _tracker(clock, events)
    phase = tracker.phase("applying", total=40)
    clock.now += 4
    phase.advance(12)
    view = events.views[-1]
    assert (view.name, view.done, view.total, view.elapsed, view.event) == ("applying", 12, 40, 4.0, ADVANCED)
    assert view.rate == 3.0 and view.eta == pytest.approx(28 / 3)
    assert view.line() == "applying: 12/40, 3.0/s, 4 s elapsed, about 9 s left"
    clock.now += 1
    phase.end()
    assert events.views[-1].event == ENDED and events.views[-1].line() == "applying: 12/40 in 5.0 s"
    assert tracker.records() == [{"name": "applying", "started_at": "2026-01-01T00:00:01Z",
                                  "finished_at": "2026-01-01T00:00:02Z", "done": 12, "total": 40, "seconds": 5.0}]


def test_a_total_found_on_the_way_and_no_rate_before_the_first_unit():
    clock = Clock()
    phase = _tracker(clock).phase("reading")
    view = phase.view(STARTED)
    assert view.total is None and view.rate is None and view.eta is None
    assert view.line() == "reading: 0, 0 s elapsed"
    phase.add_total(3)
    phase.add_total(5)
    phase.total = phase.total + 1  # type: ignore[operator]
    assert phase.total == 9


def test_phases_never_overlap_and_each_has_its_own_time():
    """The report's phase times: opening a phase ends the open one, each keeps its own duration."""
    clock = Clock()
    tracker = _tracker(clock)
    for name, seconds in (("reading", 3.0), ("planning", 0.5), ("applying", 7.0)):
        tracker.phase(name, total=1)
        clock.now += seconds
    records = tracker.take()
    assert [(r["name"], r["seconds"]) for r in records] == [("reading", 3.0), ("planning", 0.5), ("applying", 7.0)]
    stamps = [s for r in records for s in (r["started_at"], r["finished_at"])]
    assert stamps == sorted(stamps) and all(r["finished_at"] for r in records)
    assert tracker.take() == []  # the next operation of the same run starts afresh
    tracker.phase("compensating")
    assert [r["name"] for r in tracker.take()] == ["compensating"]


def test_an_ended_phase_is_not_advanced_or_ended_again():
    clock, events = Clock(), Events()
    tracker = _tracker(clock, events)
    with tracker.phase("polling", total=2) as phase:
        phase.advance()
    phase.advance()
    phase.end()
    assert [v.event for v in events.views] == [STARTED, ADVANCED, ENDED] and phase.done == 1


def test_advances_from_many_threads_all_count():
    tracker = _tracker(Clock())
    phase = tracker.phase("reading")
    workers = [threading.Thread(target=lambda: [phase.advance() for _ in range(500)]) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert phase.done == 2000


def test_the_old_message_progress_still_works_and_plain_callables_get_a_no_op_phase():
    notes: list[str] = []
    tracker = _tracker(Clock(), note=notes.append)
    tracker("Read users")
    assert notes == ["Read users"] and tracker.records() == []
    with open_phase(notes.append, "applying", 3) as phase:  # a service given a plain function
        phase.advance()
        phase.add_total(1)
    assert open_phase(tracker, "applying", 3) is tracker.phases[0]


def _terminal_renderer(no_color: bool) -> tuple[Renderer, io.StringIO]:
    render = Renderer(no_color=no_color)
    stream = io.StringIO()
    plain = {"no_color": True, "color_system": None} if no_color else {}
    render.err = Console(file=stream, force_terminal=True, highlight=False, soft_wrap=True, **plain)
    return render, stream


def test_no_color_at_a_terminal_draws_plain_lines_every_few_seconds_and_no_escape_code():
    clock = Clock()
    render, stream = _terminal_renderer(no_color=True)
    tracker = _tracker(clock, render)
    phase = tracker.phase("applying", total=10)
    for _ in range(10):
        clock.now += PLAIN_PROGRESS_EVERY / 2
        phase.advance()
    phase.end()
    render.end_progress()
    shown = stream.getvalue()
    assert "\x1b" not in shown
    lines = shown.splitlines()
    assert lines[0] == "  applying ..." and lines[-1] == "  applying: 10/10 in 25.0 s"
    assert lines[1:-1] == [f"  applying: {n}/10, 0.4/s, {n * 2.5:.0f} s elapsed, about {(10 - n) * 2.5:.0f} s left"
                           for n in (2, 4, 6, 8, 10)]


def test_at_a_terminal_the_live_bar_shows_the_phase_and_done_of_total():
    clock = Clock()
    render, stream = _terminal_renderer(no_color=False)
    tracker = _tracker(clock, render)
    phase = tracker.phase("compensating", total=6)
    phase.advance(6)
    phase.end()
    render.end_progress()
    shown = stream.getvalue()
    assert "compensating" in shown and "6/6" in shown


@pytest.mark.parametrize("quiet, output, terminal", [(True, "text", True), (False, "json", True),
                                                     (False, "text", False)])
def test_nothing_is_drawn_with_quiet_json_or_without_a_terminal(quiet, output, terminal):
    render = Renderer(output=output, quiet=quiet)
    stream = io.StringIO()
    render.err = Console(file=stream, force_terminal=terminal, highlight=False)
    tracker = _tracker(Clock(), render, note=render.progress)
    tracker("a note")
    with tracker.phase("reading", total=2) as phase:
        phase.advance(2)
    render.end_progress()
    assert stream.getvalue() == ""


def test_the_closing_summary_has_one_line_per_phase(capsys):
    Renderer().phase_lines([{"name": "reading", "done": 8, "total": 8, "seconds": 0.146},
                            {"name": "polling", "done": 2, "total": None, "seconds": 3.0}])
    assert capsys.readouterr().out.splitlines() == ["Phases:", "  reading: 8/8 in 0.1 s", "  polling: 2 in 3.0 s"]

"""When the engine polls its outstanding asynchronous requests, on an injected clock: a round only
once one could have ended, one per interval at most, and never put off beyond `longest`."""

from __future__ import annotations

from awsideman.core.poll_schedule import PollSchedule

STEP = 0.01  # the simulated engine loop looks at the schedule this often


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(durations: list[float], *, outstanding: int, interval: float = 0.5,
             longest: float | None = None) -> tuple[int, list[float]]:
    """Requests of `durations`, at most `outstanding` at once, each started as soon as a slot is
    free; returns the poll rounds and, per request, how long after its end the engine noticed it."""
    clock = Clock()
    schedule = PollSchedule(interval, clock, longest=longest)
    todo = list(enumerate(durations))
    ends: dict[str, float] = {}
    late: list[float] = []
    rounds = 0
    while todo or ends:
        while todo and len(ends) < outstanding:
            number, seconds = todo.pop(0)
            ends[str(number)] = clock.now + seconds
            schedule.start(str(number))
        if schedule.due():
            schedule.polled()
            rounds += 1
            for request_id, end in list(ends.items()):
                if end <= clock.now:
                    del ends[request_id]
                    schedule.settle(request_id)
                    late.append(clock.now - end)
        clock.now = round(clock.now + STEP, 6)
    return rounds, late


def test_one_request_at_a_time_is_polled_once_it_could_have_ended_not_every_interval():
    rounds, late = simulate([1.0] * 10, outstanding=1)
    # A fixed 0.5 s interval asks twice per 1 s request (20 rounds); the first teaches the duration.
    assert rounds == 11
    assert max(late) <= STEP * 2


def test_with_many_outstanding_there_is_at_most_one_round_per_interval_and_each_settles_some():
    rounds, late = simulate([1.0] * 150, outstanding=15)
    # 150 requests of 1 s through 15 slots: 10 s of work, so at most 1 + 10 / 0.5 rounds of 0.5 s.
    assert rounds <= 22
    assert max(late) <= 0.5 + STEP * 2


def test_a_request_far_slower_than_those_before_it_is_still_asked_about_every_longest():
    rounds, late = simulate([1.0, 1.0, 10.0], outstanding=1, longest=2.0)
    # The third lasts 10 s: asked at 1 s (learned), then after half its age, at most 2 s apart: it is
    # noticed <= 2 s late, in 8 rounds (a fixed 0.5 s interval: 20).
    assert late[-1] <= 2.0 + STEP * 2
    assert rounds - 3 == 8


def test_nothing_outstanding_means_no_round_is_due():
    clock = Clock()
    schedule = PollSchedule(0.5, clock)
    assert schedule.due_at() is None and not schedule.due()
    schedule.start("r1")
    schedule.polled()
    schedule.settle("r1")
    clock.now = 100.0
    assert schedule.due_at() is None and not schedule.due()


def test_an_overdue_request_does_not_hold_up_noticing_the_others():
    # One request takes 20 s, fourteen at a time take 1 s beside it: each of those is still noticed
    # within one interval of its end, whatever the slow one's backing off.
    rounds, late = simulate([1.0] * 15 + [20.0] + [1.0] * 150, outstanding=15, longest=4.0)
    assert sorted(late)[-2] <= 0.5 + STEP * 2
    assert max(late) <= 4.0 + STEP * 2

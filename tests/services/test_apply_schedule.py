"""The apply engine's scheduling decisions, one launch round (a tick) at a time: no AWS, no
threads, no wall clock. The pool only records what the engine starts; a change "ends" when the
test settles its future."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from typing import Any

from awsideman.core.cancel import StopSignal
from awsideman.core.changes import Change
from awsideman.core.ordering import order
from awsideman.services.apply import ApplyEngine, _Run, _Running
from awsideman.services.change_calls import Outcome


class RecordingPool:
    """Starts nothing: keeps each submitted change with its future."""

    def __init__(self) -> None:
        self.started: list[tuple[Change, Future[Any]]] = []

    def submit(self, _fn: Any, change: Change) -> Future[Any]:
        future: Future[Any] = Future()
        self.started.append((change, future))
        return future


class Phase:
    def advance(self) -> None:
        pass


def plan(users: int = 20, groups: int = 3, permission_sets: int = 3, assignment_deletes: int = 20) -> list[Change]:
    changes = [Change("user", "create", (f"u{n:02}",), after={"UserName": f"u{n:02}"}) for n in range(users)]
    changes += [Change("group", "create", (f"g{n}",), after={"DisplayName": f"g{n}"}) for n in range(groups)]
    changes += [Change("membership", "create", (f"g{n % groups}", f"u{n:02}"), after={}) for n in range(users)]
    changes += [Change("permission_set", "create", (f"ps{n}",), after={"Name": f"ps{n}"})
                for n in range(permission_sets)]
    changes += [Change("assignment", "delete", (f"{n:012}", "Old", "USER", "gone"), before={})
                for n in range(assignment_deletes)]
    return order(changes)


def tick(changes: list[Change], **engine: Any) -> tuple[_Run, RecordingPool]:
    run = _Run(ApplyEngine(None, None, None, "op-test", stop=StopSignal(), **engine), changes, Phase())
    pool = RecordingPool()
    run.launch(pool)  # type: ignore[arg-type]
    return run, pool


def test_with_identitystore_and_sso_admin_work_both_ready_both_buckets_are_used_in_the_same_tick():
    _, pool = tick(plan(), concurrency=4, max_outstanding=15)
    started = Counter(change.resource for change, _ in pool.started)
    # Users and groups (identitystore, a bucket per API), permission sets (sso-admin) and
    # assignment deletes (asynchronous requests) all start in the first round; memberships wait
    # for their users and groups.
    assert started == {"user": 4, "group": 3, "permission_set": 3, "assignment": 4}


def test_work_for_an_idle_bucket_never_waits_behind_a_full_one():
    # Two outstanding requests at most: the async lane is full after two, the others still start.
    _, pool = tick(plan(), concurrency=8, max_outstanding=2)
    started = Counter(change.resource for change, _ in pool.started)
    assert started == {"user": 8, "group": 3, "permission_set": 3, "assignment": 2}


def test_a_membership_starts_in_the_tick_after_its_user_and_group_are_applied_not_after_all_users():
    run, pool = tick(plan(), concurrency=4, max_outstanding=15)
    for change, future in pool.started:
        if change.resource in ("user", "group") and change.key[0] in ("u00", "g0"):
            future.set_result((_Running(change, 1), Outcome("made")))
            run.settle(future)
    pool.started.clear()
    run.launch(pool)  # type: ignore[arg-type]
    started = [change for change, _ in pool.started]
    assert Change("membership", "create", ("g0", "u00"), after={}) in started
    # One user slot was freed (u01-u03 are still running, 16 users queued): the membership did
    # not wait behind them.
    assert sum(change.resource == "user" for change in started) == 1


def rollback_ticks(applied: list[Change], concurrency: int = 2) -> dict[str, int]:
    """Run the rollback of `applied` tick by tick, every started change ending by the next tick;
    returns the tick at which each change started."""
    from awsideman.core.ordering import rollback_order

    changes = rollback_order(applied)
    run = _Run(ApplyEngine(None, None, None, "op-test", stop=StopSignal(), concurrency=concurrency), changes,
               Phase())
    started: dict[str, int] = {}
    pool = RecordingPool()
    for number in range(10_000):
        run.launch(pool)  # type: ignore[arg-type]
        for change, future in pool.started:
            started.setdefault(change.address, number)
            future.set_result((_Running(change, 1), Outcome("gone")))
            run.settle(future)
        pool.started.clear()
        if len(started) == len(changes):
            return started
    raise AssertionError("the rollback never finished")


def test_a_rollback_deletes_users_while_other_users_memberships_still_go():
    users, groups = 30, 5
    applied = [Change("user", "create", (f"u{n:02}",), after={"UserName": f"u{n:02}"}) for n in range(users)]
    applied += [Change("group", "create", (f"g{n}",), after={"DisplayName": f"g{n}"}) for n in range(groups)]
    # Each user in two groups; the restore applied them group by group, as its plan orders them.
    applied += sorted((Change("membership", "create", (f"g{g}", f"u{n:02}"), after={})
                       for n in range(users) for g in (n % groups, (n + 1) % groups)), key=lambda c: c.key)
    started = rollback_ticks(applied)
    memberships = [tick for address, tick in started.items() if address.startswith("membership")]
    user_deletes = sorted(tick for address, tick in started.items() if address.startswith("user"))
    # 60 membership deletes at 2 a tick take 30 ticks; users go from the first ticks on, one per
    # tick as their memberships are gone (in restore order: the first at tick 7, 9 by tick 15).
    assert max(memberships) == 29
    assert user_deletes[0] <= 2
    assert sum(tick <= 15 for tick in user_deletes) >= 14
    assert user_deletes[-1] == max(memberships) + 1

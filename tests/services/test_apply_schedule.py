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

"""Rollback policies in the service, against the in-process emulator (real boto3): a time budget
measured on an injected counter clock (one tick per look, never the wall clock) stops the
compensation part-way with the rest journaled open, which a manual rollback finishes; and
`when: on_partial` undoes a restore that finished partial."""

from __future__ import annotations

import dataclasses
import itertools

from awsideman.config import load_settings
from awsideman.core.rollback_policy import RollbackPolicy
from awsideman.services.account import operation_account
from awsideman.services.backup import BackupRequest, BackupService
from awsideman.services.context import Context
from awsideman.services.restore import RestoreRequest, RestoreService
from awsideman.services.rollback import RollbackService
from tests.drift import differences, drift, records
from tests.helpers import make_context

# The failure surfaces only once its request ends (1 s): the other lanes apply several changes of
# their kind meanwhile, so the rollback has more than one round of reverts to make.
FAIL_ASSIGNMENT = {"operation": "CreateAccountAssignment", "async_fail_after": 0, "async_seconds": 1,
                   "failure_reason": "quota"}


class Ticks:
    """A clock that moves one second each time it is read: a budget under one second is spent at the second look."""

    def __init__(self) -> None:
        self.counter = itertools.count()
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return float(next(self.counter))


def _drifted(sandbox, seed):
    sandbox.seed("small", seed=seed)
    backup = BackupService(make_context()).create(BackupRequest())
    drift(sandbox.client)
    return backup.backup_id, records(BackupService(make_context()))


def test_a_time_budget_on_an_injected_clock_stops_part_way_and_rollback_finishes(sandbox):
    backup_id, before = _drifted(sandbox, 251)
    sandbox.set_faults({"rules": [FAIL_ASSIGNMENT]})
    clock = Ticks()
    # One change per resource kind at a time: the first round of reverts cannot hold them all.
    context = Context(dataclasses.replace(load_settings(), concurrency=1), clock=clock)
    result = RestoreService(context).run(RestoreRequest(backup_id, prune=True,
                                                        rollback=RollbackPolicy(time_budget=0.5)))
    sandbox.set_faults({})
    kinds = [address.split(":", 1)[0] for address in result.applied]
    assert max(kinds.count(k) for k in set(kinds)) >= 2, "one change per kind: a single round reverts them all"
    assert result.status == "rollback_failed" and result.rollback_out_of_budget, (result.errors, result.leftover)
    assert clock.reads >= 3  # the budget was asked on the injected clock, not on time.monotonic
    assert result.compensated, "the first revert started within the budget"
    left = {item["resource"] for item in result.leftover}
    assert left and not left & set(result.compensated)
    assert set(result.compensated) | left >= set(result.applied)
    assert all("rollback.time_budget: 0.5 s" in item["why"] for item in result.leftover)
    account = operation_account(make_context().journal, result.operation_id)
    assert {i["address"] for i in account.leftover} == left
    assert {i["policy"] for i in account.leftover} == {"rollback.time_budget"}
    assert account.next_command == f"awsideman rollback {result.operation_id}"

    finished = RollbackService(make_context()).run(result.operation_id)
    assert finished.status == "succeeded" and sorted(finished.compensated) == sorted(left)
    assert not differences(records(BackupService(make_context())), before)


def test_on_partial_rolls_back_a_restore_that_finished_partial(sandbox):
    backup_id, before = _drifted(sandbox, 252)
    result = RestoreService(make_context()).run(RestoreRequest(backup_id, conflict="skip",
                                                               rollback=RollbackPolicy(when="on_partial")))
    assert result.skipped and result.applied, "the drift gives both skipped and applied changes"
    assert result.status == "rolled_back" and sorted(result.compensated) == sorted(result.applied)
    assert not differences(records(BackupService(make_context())), before)
    # The default leaves a partial restore as it is.
    again = RestoreService(make_context()).run(RestoreRequest(backup_id, conflict="skip"))
    assert again.status == "partial" and not again.compensated

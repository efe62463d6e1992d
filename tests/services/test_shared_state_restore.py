"""A restore whose shared state backend fails mid-way (DynamoDB refuses every write from the 8th
on): no new change starts, no rollback is attempted without a journal, the error says what is
known and what to run; once the table answers again, `rollback` gives back the pre-restore state."""

from __future__ import annotations

import pytest

from awsideman.core.exceptions import StateBackendError, UnjournaledChangeError
from awsideman.services.backup import BackupRequest, BackupService
from awsideman.services.restore import RestoreRequest, RestoreService, mutating_calls
from awsideman.services.rollback import RollbackService
from tests.drift import differences, drift, records
from tests.helpers import make_context, wait_for_leases_to_expire
from tests.journal.conftest import BUCKET, TABLE, shared_table

SHARED = {"state": f"dynamodb://{TABLE}", "state_s3": f"s3://{BUCKET}/state", "state_lease_seconds": 1.0}


def test_losing_the_state_backend_mid_restore_stops_at_once_and_rollback_recovers_later(sandbox):
    shared_table(sandbox)
    sandbox.seed("tiny", seed=74)
    backup = BackupService(make_context(**SHARED)).create(BackupRequest())
    drift(sandbox.client)
    before = records(BackupService(make_context()))
    sandbox.set_faults({"rules": [{"operation": "dynamodb:TransactWriteItems", "fail_after": 8,
                                   "error": "AccessDeniedException"}]})
    sandbox.reset_counters()
    context = make_context(**SHARED, concurrency=1)
    with pytest.raises(StateBackendError) as lost:
        RestoreService(context).run(RestoreRequest(backup.backup_id, prune=True))
    context.close()  # the process ends: its failure could not be recorded, so its lease runs out
    message = lost.value.message
    assert f"dynamodb://{TABLE}" in message and "AccessDeniedException" in message
    assert "No further change was started" in message and "Nothing was rolled back" in message
    calls = sandbox.counters()
    assert mutating_calls({k: v for k, v in calls.items() if not k.startswith(("dynamodb:", "s3:"))}) > 0
    operation = lost.value.operation_id  # type: ignore[attr-defined]

    sandbox.set_faults({})
    journal = make_context(**SHARED).journal
    planned = len(RestoreService(make_context()).run(RestoreRequest(backup.backup_id, prune=True,
                                                                    dry_run=True)).changes)
    intents = journal.changes(operation)
    assert 0 < len(intents) < planned  # it stopped early; what it did is journaled
    wait_for_leases_to_expire(sandbox.client, TABLE)  # the stopped restore's lease (1 s) runs out
    # The rollback's own lease need not be short: a 1 s lease can lapse on a loaded machine
    # between two renewals, and it is now checked before every send and after every answer.
    rollback_context = make_context(**dict(SHARED, state_lease_seconds=30))
    try:
        result = RollbackService(rollback_context).run(operation, confirm=lambda _inverses: True)
    finally:
        rollback_context.close()
    assert result.status == "succeeded", (result.errors, result.leftover)
    diffs = differences(records(BackupService(make_context())), before)
    assert not diffs, "\n".join(diffs)


def test_a_change_answered_after_the_lease_ran_out_is_named_and_nothing_else_starts(sandbox):
    """The process freezes after the last check before a send (simulated: its own clock jumps
    past the lease while botocore sends): the request still goes out, Identity Center makes the
    change, and no journal write can record it any more, so the error names it."""
    shared_table(sandbox)
    sandbox.seed("tiny", seed=75)
    backup = BackupService(make_context(**SHARED)).create(BackupRequest())
    drift(sandbox.client)
    context = make_context(**dict(SHARED, state_lease_seconds=30), concurrency=1)
    journal, frozen = context.journal, []

    def freeze_once_past_the_last_check(event_name: str, **_: object) -> None:
        if not frozen and mutating_calls({event_name.replace("before-send.", "").replace(".", ":"): 1}):
            frozen.append(event_name.rsplit(".", 1)[-1])
            journal._local = lambda: float("inf")  # woke up long after the lease ran out

    for service in ("sso-admin", "identitystore"):
        context.gateway.client(service).meta.events.register("before-send", freeze_once_past_the_last_check)
    sandbox.reset_counters()
    with pytest.raises(UnjournaledChangeError) as late:
        try:
            # Users only, one worker: every change is one call, and no other is in flight.
            RestoreService(context).run(RestoreRequest(backup.backup_id, prune=True, resources=["users"]))
        finally:
            context.close()  # its heartbeat must not outlive the emulator
    assert frozen and "was answered after this runner's lease on the shared state ran out" in late.value.message
    assert late.value.exit_code == 6
    identity_center = {k: v for k, v in sandbox.counters().items() if not k.startswith(("dynamodb:", "s3:"))}
    assert mutating_calls(identity_center) == 1  # the frozen one went out; nothing after it
    assert f":{frozen[0]}" in next(k for k in identity_center if mutating_calls({k: 1}))

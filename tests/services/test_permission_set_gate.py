"""The permission set gate: which changes of one permission set may run together, and that other
permission sets are never held up. Then the engine with it, against the in-process emulator:
provisionings of two permission sets run side by side, those of one permission set one at a
time, and the service never refuses a write (the emulator's clock decides when each ends)."""

from __future__ import annotations

import json
import threading
import time

from awsideman.core.changes import Change
from awsideman.services.backup import BackupRequest, BackupService
from awsideman.services.permission_set_gate import PermissionSetGate
from awsideman.services.restore import RestoreRequest, RestoreService
from tests.drift import Target, differences, records
from tests.helpers import make_context


def _update(ps: str) -> Change:
    return Change("permission_set", "update", (ps,), before={}, after={})


def _provision(ps: str, account: str) -> Change:
    return Change("provision", "provision", (ps, account))


def _assign(ps: str, account: str, user: str = "ada") -> Change:
    return Change("assignment", "create", (account, ps, "USER", user), after={})


def test_an_update_or_provisioning_runs_alone_on_its_permission_set_and_assignments_share_it():
    gate = PermissionSetGate()
    assert gate.admit(_assign("X", "1")) and gate.admit(_assign("X", "2"))  # assignments run together
    assert not gate.admit(_update("X")) and not gate.admit(_provision("X", "3"))  # not beside them
    assert gate.admit(_update("Y")) and gate.admit(_membership())  # other work is not held up
    assert not gate.admit(_assign("X", "4")), "a waiting update must not be overtaken by new assignments"
    assert gate.leave(_assign("X", "1")) == "X" and not gate.admit(_update("X"))
    gate.leave(_assign("X", "2"))
    assert gate.admit(_provision("X", "3"))
    assert not gate.admit(_provision("X", "4")) and not gate.admit(_assign("X", "4"))  # one provisioning at a time
    gate.leave(_provision("X", "3"))
    assert gate.admit(_provision("X", "4"))
    gate.leave(_provision("X", "4"))
    assert gate.admit(_assign("X", "4")) and gate.busy() == {"X", "Y"}


def _membership() -> Change:
    return Change("membership", "create", ("ops", "ada"), after={})


def _wait_for(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_the_engine_provisions_two_permission_sets_side_by_side_and_each_one_account_at_a_time(sandbox):
    seeded = sandbox.seed("tiny", seed=62)
    accounts: dict[str, set[str]] = {}
    for _ptype, _name, ps, account in seeded.assignments:
        accounts.setdefault(ps, set()).add(account)
    assert len(accounts) == 2 and all(len(found) == 2 for found in accounts.values())  # the case
    backup = BackupService(make_context()).create(BackupRequest())
    expected = records(BackupService(make_context()))
    target = Target(sandbox.client)
    for arn in target.permission_sets().values():
        target.sso.put_inline_policy_to_permission_set(InstanceArn=target.arn, PermissionSetArn=arn, InlinePolicy=(
            json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})))
    sandbox.set_faults({"async_seconds": 3600, "quirks": {"provisioning_conflicts": True}})
    sandbox.reset_counters()

    def provisionings() -> int:
        return sandbox.counters().get("sso-admin:ProvisionPermissionSet", 0)

    done: dict[str, object] = {}
    worker = threading.Thread(target=lambda: done.update(result=RestoreService(make_context()).run(
        RestoreRequest(backup.backup_id))), daemon=True)
    worker.start()
    def polls() -> int:
        return sandbox.counters().get("sso-admin:ListPermissionSetProvisioningStatus", 0)

    _wait_for(lambda: provisionings() == 2, "one provisioning of each permission set")
    seen = polls()
    _wait_for(lambda: polls() >= seen + 2, "two poll rounds")  # nothing more may start meanwhile
    assert provisionings() == 2
    sandbox.advance(3600)
    _wait_for(lambda: provisionings() == 4, "the second account of each permission set")
    sandbox.advance(3600)
    worker.join(timeout=60)
    result = done["result"]
    assert result.status == "succeeded", result.errors
    assert not [k for k in sandbox.fault_counters() if k.endswith(":ps_conflict")]
    sandbox.set_faults({})
    assert not differences(records(BackupService(make_context())), expected)

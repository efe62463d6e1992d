"""End to end through the executable, with two behaviours of the real service switched on in
the emulator (issue 23):

- `provisioning_conflicts`: a permission set with an assignment or provisioning request in
  progress refuses every write to it, and a second provisioning, with ConflictException. A
  restore that updates a permission set with live assignments serialises the work of each
  permission set, so the service never has to refuse it; a conflict from outside the run (an
  assignment someone else started) is waited out by retrying, and the restore still succeeds.
- `deny_accounts`: an SCP denies CreateAccountAssignment in one account. The restore fails
  those changes, names the account (id and name) and rolls back: exit 4, `rolled_back`.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.drift import Target, differences
from tests.helpers import awsideman_command, backup_records, cli_json, live_records, run_cli

pytestmark = pytest.mark.e2e
CONFLICTS = {"provisioning_conflicts": True}
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]})


def _spread(seeded):
    """(permission set assigned in two accounts or more, its accounts, another permission set)."""
    accounts: dict[str, set[str]] = {}
    for _ptype, _name, ps, account in seeded.assignments:
        accounts.setdefault(ps, set()).add(account)
    wide = next(ps for ps, found in sorted(accounts.items()) if len(found) >= 2)
    return wide, sorted(accounts[wide]), next(ps for ps in sorted(seeded.permission_sets) if ps != wide)


def _drift_attributes(t: Target, arn: str) -> None:
    ref = {"InstanceArn": t.arn, "PermissionSetArn": arn}
    t.sso.update_permission_set(**ref, SessionDuration="PT7H")
    t.sso.put_inline_policy_to_permission_set(**ref, InlinePolicy=POLICY)


def _conflicts(served) -> dict[str, int]:
    return {k: n for k, n in served.fault_counters().items() if k.endswith(":ps_conflict")}


def test_a_restore_of_permission_sets_with_live_assignments_is_never_refused_for_a_conflict(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    seeded = served.seed("tiny", seed=62)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    expected = backup_records(env, backup_id)
    wide, (first, second, *_), other = _spread(seeded)
    t = Target(served.client)
    arns = t.permission_sets()
    for name in (wide, other):  # both need an update and a provisioning in each of their accounts
        _drift_attributes(t, arns[name])
    live = t.assignments(arns[wide])
    t.sso.delete_account_assignment(  # re-created by the restore, in `first`
        InstanceArn=t.arn, TargetType="AWS_ACCOUNT", **{k: v for k, v in next(
            a for a in live if a["AccountId"] == first).items() if k != "AccountId"}, TargetId=first)
    extra = next(u["UserId"] for u in t.users() if u["UserId"] not in {a["PrincipalId"] for a in live})
    t.sso.create_account_assignment(  # deleted by the restore (--prune), in `second`
        InstanceArn=t.arn, TargetId=second, TargetType="AWS_ACCOUNT", PermissionSetArn=arns[wide],
        PrincipalType="USER", PrincipalId=extra)
    served.set_faults({"async_seconds": 0.3, "quirks": CONFLICTS})
    served.reset_counters()

    proc = run_cli(env, "-o", "json", "restore", backup_id, "--prune", "--yes")
    result = cli_json(proc)
    assert proc.returncode == 0, result["errors"]
    assert result["status"] == "succeeded"
    calls = served.counters()
    assert calls["sso-admin:ProvisionPermissionSet"] >= 4 and calls["sso-admin:DeleteAccountAssignment"] >= 1
    assert _conflicts(served) == {}, "the restore sent a write the service refused: the work was not serialised"
    served.set_faults({})
    diffs = differences(live_records(env), expected)
    assert not diffs, "\n".join(diffs)


def test_a_conflict_from_outside_the_run_is_retried_until_the_permission_set_is_free(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    seeded = served.seed("tiny", seed=62)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    expected = backup_records(env, backup_id)
    wide, (first, *_), _other = _spread(seeded)
    t = Target(served.client)
    arn = t.permission_sets()[wide]
    _drift_attributes(t, arn)
    # Someone else's assignment of the same permission set stays IN_PROGRESS until the test
    # moves the emulator's clock: every write the restore sends to that permission set until
    # then is refused. (The restore itself creates no assignment, so only this one waits.)
    served.set_faults({"async_seconds": 0.2, "quirks": CONFLICTS,
                       "rules": [{"operation": "CreateAccountAssignment", "async_seconds": 3600}]})
    outsider = next(u["UserId"] for u in t.users()
                    if u["UserId"] not in {a["PrincipalId"] for a in t.assignments(arn)})
    t.sso.create_account_assignment(InstanceArn=t.arn, TargetId=first, TargetType="AWS_ACCOUNT",
                                    PermissionSetArn=arn, PrincipalType="USER", PrincipalId=outsider)
    served.reset_counters()

    restore = subprocess.Popen([*awsideman_command(), "-o", "json", "restore", backup_id, "--yes"], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _conflicts(served) and restore.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        refused = _conflicts(served)
        served.advance(3600)  # the outsider's request ends: the permission set is free
        out, err = restore.communicate(timeout=120)
    finally:
        if restore.poll() is None:
            restore.kill()
    assert refused, f"the emulator never refused a write: the test proves nothing\n{err}"
    result = json.loads(out)
    assert restore.returncode == 0, result["errors"]
    assert result["status"] == "succeeded"
    served.set_faults({})
    t.sso.delete_account_assignment(InstanceArn=t.arn, TargetId=first, TargetType="AWS_ACCOUNT",
                                    PermissionSetArn=arn, PrincipalType="USER", PrincipalId=outsider)
    diffs = differences(live_records(env), expected)
    assert not diffs, "\n".join(diffs)


def test_an_account_denied_by_an_scp_fails_its_assignments_by_name_and_the_restore_rolls_back(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    seeded = served.seed("tiny", seed=62)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    wide, (allowed, denied, *_), _other = _spread(seeded)
    t = Target(served.client)
    arn = t.permission_sets()[wide]
    _drift_attributes(t, arn)
    for account in (allowed, denied):  # one assignment to re-create in each account
        a = next(a for a in t.assignments(arn) if a["AccountId"] == account)
        t.sso.delete_account_assignment(InstanceArn=t.arn, TargetId=account, TargetType="AWS_ACCOUNT",
                                        PermissionSetArn=arn, PrincipalType=a["PrincipalType"],
                                        PrincipalId=a["PrincipalId"])
    drifted = live_records(env)
    served.set_faults({"async_seconds": 0.2, "quirks": {**CONFLICTS, "deny_accounts": [{"accounts": [denied]}]}})
    served.reset_counters()

    proc = run_cli(env, "-o", "json", "restore", backup_id, "--yes")
    result = cli_json(proc)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert result["status"] == "rolled_back" and not result["leftover"]
    assert served.fault_counters().get("sso-admin:CreateAccountAssignment:account_denied", 0) >= 1
    assert _conflicts(served) == {}  # nor does the rollback run into a busy permission set

    report = cli_json(run_cli(env, "-o", "json", "report", "show", result["operation_id"]))
    assert report["status"] == "rolled_back"
    group = next(g for g in report["failures"] if g["category"] == "authorization")
    named = [m for m in group["messages"] if denied in m]
    assert named and all(f"seeded-{denied}" in m for m in named), group["messages"]
    assert not any(allowed in m for m in group["messages"])
    steps = " ".join(group["remediation"])
    assert "service control polic" in steps.lower() and "provisioning role" in steps.lower(), steps
    served.set_faults({})
    diffs = differences(live_records(env), drifted)
    assert not diffs, "\n".join(diffs)  # the rollback put the drifted state back

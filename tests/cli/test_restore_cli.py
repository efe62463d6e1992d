"""`awsideman restore` end to end: the installed executable against the served emulator with
asynchronous requests that take time, the 15-request cap, and lost responses and connection
resets injected on the writes."""

from __future__ import annotations

import pytest

from tests.drift import differences, drift
from tests.helpers import backup_records, cli_json, live_records, run_cli

WRITES = ("CreateUser", "CreateGroup", "CreateGroupMembership", "CreatePermissionSet", "CreateAccountAssignment",
          "DeleteUser", "DeleteGroup", "DeleteGroupMembership", "DeleteAccountAssignment", "UpdateUser",
          "PutInlinePolicyToPermissionSet", "AttachManagedPolicyToPermissionSet", "ProvisionPermissionSet")


@pytest.mark.e2e
def test_restore_is_exact_under_async_delays_the_cap_lost_responses_and_resets(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("small", seed=61)
    backup = cli_json(run_cli(env, "-o", "json", "backup", "create"))
    expected = backup_records(env, backup["backup_id"])
    drift(served.client)
    served.set_faults({"seed": 3, "async_seconds": 0.2, "rules": [
        {"operation": f"identitystore:{op}" if op[0] in "CDU" and "Permission" not in op and "Account" not in op
         else op, "lost_response": 0.15, "reset": 0.1} for op in WRITES]})
    served.reset_counters()
    proc = run_cli(env, "-o", "json", "restore", backup["backup_id"], "--prune", "--yes", timeout=300)
    result = cli_json(proc)
    assert proc.returncode == 0, result["errors"]
    assert result["status"] == "succeeded" and result["operation_id"].startswith("op-")
    faults = served.fault_counters()
    assert sum(faults.values()) > 0, "no fault was injected: the test proves nothing"
    served.set_faults({})
    diffs = differences(live_records(env), expected)
    assert not diffs, "\n".join(diffs)  # exact, attribute by attribute, no duplicate

    served.reset_counters()
    again = run_cli(env, "-o", "json", "restore", backup["backup_id"], "--prune", "--yes")
    assert again.returncode == 0 and cli_json(again)["changes"] == []
    assert cli_json(again)["mutating_calls"] == 0


@pytest.mark.e2e
def test_dry_run_prints_the_plan_and_restore_refuses_without_yes(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=62)
    backup = cli_json(run_cli(env, "-o", "json", "backup", "create"))
    drift(served.client)
    served.reset_counters()
    text = run_cli(env, "--no-color", "restore", backup["backup_id"], "--dry-run", "--prune")
    assert text.returncode == 0, text.stderr
    assert "Changes by resource kind and action" in text.stdout and "Dry run" in text.stdout
    refused = run_cli(env, "restore", backup["backup_id"])
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert not [op for op in served.counters() if op.split(":")[1].startswith(("Create", "Delete", "Update"))]
    bad = run_cli(env, "restore", "bk-../../etc", "--yes")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.e2e
def test_a_backup_of_one_instance_restored_into_another_empty_instance_equals_it(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=63)
    backup = cli_json(run_cli(env, "-o", "json", "backup", "create"))
    expected = backup_records(env, backup["backup_id"])
    source = backup_source = cli_json(run_cli(env, "-o", "json", "backup", "show", backup["backup_id"]))["source"]
    served.server.reset()  # the emulator forgets everything: a new, empty instance
    sso = served.client("sso-admin")
    if not sso.list_instances()["Instances"]:
        sso.create_instance(Name="migrated")
    target = sso.list_instances()["Instances"][0]["InstanceArn"]
    served.reset_counters()
    refused = run_cli(env, "-o", "json", "restore", backup["backup_id"], "--yes")
    assert refused.returncode == 2 and "pass --target-instance" in cli_json(refused)["errors"][0]["message"]
    assert not [k for k in served.counters() if k.split(":")[1].startswith(("Create", "Put", "Attach"))]
    dry = cli_json(run_cli(env, "-o", "json", "restore", backup["backup_id"], "--dry-run"))
    assert any(f"pass --target-instance {target}" in note for note in dry["notes"])  # a dry run only says so
    wrong = run_cli(env, "-o", "json", "restore", backup["backup_id"], "--yes", "--target-instance",
                    "arn:aws:sso:::instance/ssoins-0000000000000000")
    assert wrong.returncode == 2 and "is not the instance this profile" in cli_json(wrong)["errors"][0]["message"]
    result = cli_json(run_cli(env, "-o", "json", "restore", backup["backup_id"], "--yes", "--target-instance", target,
                              timeout=300))
    assert result["status"] == "succeeded", result["errors"]
    assert result["source"]["instance_arn"] == source["instance_arn"] == backup_source["instance_arn"]
    assert result["target"]["instance_arn"] != source["instance_arn"]
    diffs = differences(live_records(env), expected)
    assert not diffs, "\n".join(diffs)

"""Restore against the in-process emulator through real boto3 clients (no mocks)."""

from __future__ import annotations

import pytest

from awsideman.core.attributes import snapshot_records
from awsideman.services.archive import BackupArchive
from awsideman.services.backup import BackupRequest, BackupService
from awsideman.services.restore import RestoreRequest, RestoreService, mutating_calls
from tests.drift import drift, records
from tests.helpers import make_context


@pytest.fixture
def backed_up(sandbox):
    sandbox.seed("small", seed=51)
    service = BackupService(make_context())
    backup = service.create(BackupRequest())
    _, snapshot = BackupArchive(service.context).load(backup.backup_id, None)
    return backup.backup_id, snapshot_records(snapshot)


def test_restore_with_prune_gives_back_the_backed_up_state_and_twice_changes_nothing(sandbox, backed_up):
    backup_id, expected = backed_up
    drift(sandbox.client)
    result = RestoreService(make_context()).run(RestoreRequest(backup_id, prune=True))
    assert result.status == "succeeded", result.errors
    assert set(result.plan) >= {"user", "group", "membership", "permission_set", "assignment"}
    assert records(BackupService(make_context())) == expected
    sandbox.reset_counters()
    again = RestoreService(make_context()).run(RestoreRequest(backup_id, prune=True))
    assert again.status == "succeeded" and again.changes == [] and again.operation_id  # an operation, empty
    assert mutating_calls(sandbox.counters()) == 0


def test_without_prune_extras_stay(sandbox, backed_up):
    backup_id, expected = backed_up
    drift(sandbox.client)
    result = RestoreService(make_context()).run(RestoreRequest(backup_id))
    assert result.status == "succeeded", result.errors
    now = records(BackupService(make_context()))
    assert ("extra.user",) in now["user"] and ("Extra Group",) in now["group"]
    for kind, items in expected.items():
        for key, record in items.items():
            assert now[kind].get(key) == record, (kind, key)


def test_dry_run_and_conflict_fail_make_no_mutating_call(sandbox, backed_up):
    backup_id, _ = backed_up
    drift(sandbox.client)
    sandbox.reset_counters()
    planned = RestoreService(make_context()).run(RestoreRequest(backup_id, dry_run=True, prune=True))
    assert planned.status == "planned" and planned.changes and planned.operation_id is None
    refused = RestoreService(make_context()).run(RestoreRequest(backup_id, conflict="fail"))
    assert refused.status == "failed" and refused.conflicts and refused.applied == []
    assert mutating_calls(sandbox.counters()) == 0


def test_conflict_skip_leaves_differing_resources_and_reports_partial(sandbox, backed_up):
    backup_id, expected = backed_up
    drift(sandbox.client)
    result = RestoreService(make_context()).run(RestoreRequest(backup_id, conflict="skip"))
    assert result.status == "partial" and result.skipped
    now = records(BackupService(make_context()))
    skipped = {item["address"] for item in result.skipped}
    assert any(address.startswith("user:") for address in skipped)
    for item in result.skipped:
        resource, name = item["address"].split(":", 1)
        assert now[resource][(name,)] != expected[resource][(name,)]


def test_restore_into_an_emptied_instance_resolves_new_ids_by_natural_keys(sandbox, backed_up):
    backup_id, expected = backed_up
    emptied = RestoreService(make_context())
    # An empty backup of the same instance, restored with --prune, empties it (new ids later).
    blank = BackupService(make_context()).create(BackupRequest())
    assert blank.backup_id
    from tests.drift import Target

    t = Target(sandbox.client)
    for name, arn in t.permission_sets().items():
        for assignment in t.assignments(arn):
            t.sso.delete_account_assignment(InstanceArn=t.arn, TargetId=assignment["AccountId"],
                                            TargetType="AWS_ACCOUNT", PermissionSetArn=arn,
                                            PrincipalType=assignment["PrincipalType"],
                                            PrincipalId=assignment["PrincipalId"])
        t.sso.delete_permission_set(InstanceArn=t.arn, PermissionSetArn=arn)
        assert name
    for user in t.users():
        t.ids.delete_user(IdentityStoreId=t.store, UserId=user["UserId"])
    for group in t.groups():
        t.ids.delete_group(IdentityStoreId=t.store, GroupId=group["GroupId"])
    result = emptied.run(RestoreRequest(backup_id))
    assert result.status == "succeeded", result.errors
    assert records(BackupService(make_context())) == expected


def test_random_drifts_are_restored_exactly(sandbox):
    """Hypothesis over random drifts of a seeded instance, against the emulator (few examples:
    each one seeds, backs up, drifts, restores and backs up again)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.drift import differences

    sandbox.seed("tiny", seed=57)
    backup = BackupService(make_context()).create(BackupRequest())
    _, snapshot = BackupArchive(make_context()).load(backup.backup_id, None)
    expected = snapshot_records(snapshot)

    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(min_value=0, max_value=10_000))
    def restored(seed):
        drift(sandbox.client, seed=seed)
        result = RestoreService(make_context()).run(RestoreRequest(backup.backup_id, prune=True))
        assert result.status == "succeeded", result.errors
        diffs = differences(records(BackupService(make_context())), expected)
        assert not diffs, "\n".join(diffs)

    restored()

"""The apply engine's scheduling against the in-process emulator: an asynchronous change settled
at once (a lost answer found by lookup) frees its (permission set, account) pair for the next."""

from __future__ import annotations

from collections import Counter

from awsideman.services.backup import BackupRequest, BackupService
from awsideman.services.restore import RestoreRequest, RestoreService
from tests.drift import Target, differences, records
from tests.helpers import make_context


def test_assignments_sharing_a_pair_all_apply_when_answers_are_lost(sandbox):
    sandbox.seed("tiny", seed=75)
    backup = BackupService(make_context()).create(BackupRequest())
    expected = records(BackupService(make_context()))
    pairs = Counter((key[0], key[1]) for key in expected["assignment"])
    assert max(pairs.values()) >= 2  # the case: two assignments on one (account, permission set)
    target = Target(sandbox.client)
    for arn in target.permission_sets().values():
        for assignment in target.assignments(arn):
            target.sso.delete_account_assignment(
                InstanceArn=target.arn, TargetId=assignment["AccountId"], TargetType="AWS_ACCOUNT",
                PermissionSetArn=arn, PrincipalType=assignment["PrincipalType"], PrincipalId=assignment["PrincipalId"])
    sandbox.set_faults({"rules": [{"operation": "CreateAccountAssignment", "lost_response": 1}]})
    result = RestoreService(make_context()).run(RestoreRequest(backup.backup_id))
    sandbox.set_faults({})
    assert result.status == "succeeded", (result.errors, result.counts)
    assert not differences(records(BackupService(make_context())), expected)

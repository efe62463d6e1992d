"""read_live: the one read of the live instance that restore and diff share (issue 21 item 3)."""

from __future__ import annotations

import pytest

from awsideman.core.exceptions import AwsidemanError
from awsideman.services.backup import BackupRequest, BackupService
from awsideman.services.diff import DiffRequest, DiffService
from awsideman.services.live import read_live
from awsideman.services.restore import RestoreRequest, RestoreService
from tests.helpers import make_context


def test_read_live_reads_only_the_kinds_asked_for(sandbox):
    sandbox.seed("tiny", seed=71)
    sandbox.reset_counters()
    snapshot = read_live(make_context(), ["users"])
    assert snapshot.users and not snapshot.permission_sets
    assert not [op for op in sandbox.counters() if op.startswith("sso-admin:List") and "Instances" not in op]


def test_an_unreadable_instance_stops_diff_and_restore_before_any_change(sandbox):
    sandbox.seed("tiny", seed=72)
    backup_id = BackupService(make_context()).create(BackupRequest()).backup_id
    sandbox.set_faults({"rules": [{"operation": "ListPermissionSets", "fail_after": 0,
                                   "error": "AccessDeniedException"}]})
    with pytest.raises(AwsidemanError, match=r"^Cannot read the live instance \(.*AccessDenied.*\)$"):
        DiffService(make_context()).run(DiffRequest(backup_id, resources=["permission-sets"]))
    sandbox.reset_counters()
    with pytest.raises(AwsidemanError, match=r"^Cannot read the target instance \(.*\); nothing was changed$"):
        RestoreService(make_context()).run(RestoreRequest(backup_id, resources=["users"]))
    # Restore reads every kind whatever --resources says (cascades need the whole picture).
    assert sandbox.counters()["sso-admin:ListPermissionSets"] == 1
    assert not [op for op in sandbox.counters() if op.startswith(("identitystore:Create", "sso-admin:Create"))]

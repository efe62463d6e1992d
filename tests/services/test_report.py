"""`report show` data from the journal: a backup, a rolled-back restore, a restore left applied."""

from __future__ import annotations

import pytest

from awsideman.cli.report_markdown import to_markdown
from awsideman.services.account import operation_account as build_report
from awsideman.services.backup import BackupRequest, BackupService
from awsideman.services.restore import RestoreRequest, RestoreService
from tests.drift import drift
from tests.helpers import make_context
from tests.test_iam_policies import assert_covered

FAIL = {"operation": "CreateAccountAssignment", "async_fail_after": 0, "failure_reason": "IAM role quota reached"}


@pytest.fixture
def drifted(sandbox):
    sandbox.seed("tiny", seed=121)
    context = make_context()
    backup = BackupService(context).create(BackupRequest())
    assert_covered(context.gateway.calls_by_operation(), "backup-policy.json")
    report = build_report(context.journal, backup.operation_id).to_dict()
    assert report["status"] == "succeeded" and report["next_command"] is None and not report["failures"]
    assert report["timeline"][0]["event"] == "backup started" and report["counts"]["leftover"] == 0
    drift(sandbox.client)
    return backup


def test_a_rolled_back_restore_names_failure_category_remediation_and_next_command(sandbox, drifted):
    sandbox.set_faults({"rules": [FAIL]})
    context = make_context()
    result = RestoreService(context).run(RestoreRequest(drifted.backup_id, prune=True))
    assert result.status == "rolled_back"
    assert_covered(context.gateway.calls_by_operation(), "restore-policy.json")
    report = build_report(make_context().journal, "last").to_dict()
    assert report["operation_id"] == result.operation_id and report["status"] == "rolled_back"
    assert report["counts"]["leftover"] == 0 and report["counts"]["compensated"] == len(result.applied)
    group = report["failures"][0]
    assert group["remediation"] and group["severity"] in ("medium", "high", "critical")
    assert any("IAM role quota" in m for m in group["messages"])
    assert report["next_command"] == f"awsideman restore {drifted.backup_id} --dry-run"
    assert report["errors"][0]["category"] == group["category"]
    markdown = to_markdown(report)
    assert "### Next command" in markdown and group["category"] in markdown


def test_a_restore_kept_applied_names_resume_and_rollback(sandbox, drifted):
    sandbox.set_faults({"rules": [{"operation": "CreateAccountAssignment", "fail_after": 0,
                                   "error": "AccessDeniedException"}]})
    result = RestoreService(make_context()).run(RestoreRequest(drifted.backup_id, prune=True, auto_rollback=False))
    report = build_report(make_context().journal, result.operation_id).to_dict()
    assert {i["address"] for i in report["leftover"]} == set(result.applied)
    assert report["next_command"] == f"awsideman restore --resume {result.operation_id}"
    assert any(f"awsideman rollback {result.operation_id}" in step for step in report["recovery"])
    assert report["failures"][0]["category"] == "authorization"

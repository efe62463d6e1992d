"""A backup of an instance that holds nothing says so (usually the wrong region or instance)."""

from __future__ import annotations

from awsideman.services.backup import BackupRequest, BackupService
from tests.helpers import make_context


def test_an_empty_instance_is_warned_about(sandbox):
    result = BackupService(make_context()).create(BackupRequest())
    assert result.status == "succeeded"
    assert any("has no users, groups, permission sets" in w and "--region" in w for w in result.warnings)
    assert result.to_dict()["warnings"] == result.warnings  # in the JSON document too


def test_an_instance_with_users_is_not(sandbox):
    sandbox.seed("tiny", seed=5)
    result = BackupService(make_context()).create(BackupRequest(resources=["users"]))
    assert not any("has no" in w for w in result.warnings)

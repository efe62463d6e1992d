"""A bug inside a collection step is an internal error (exit 1), never a partial backup."""

from __future__ import annotations

import pytest

from awsideman.adapters.identity_center import IdentityCenterReader
from awsideman.cli.app import main
from awsideman.core.exceptions import InternalError
from awsideman.services.backup import BackupRequest, BackupService
from tests.helpers import make_context


def _broken(self, arn):
    raise KeyError("PermissionSetArn")


def test_a_key_error_in_a_step_is_an_internal_error_not_a_partial_backup(sandbox, monkeypatch):
    sandbox.seed("tiny", seed=41)
    monkeypatch.setattr(IdentityCenterReader, "permission_set", _broken)
    service = BackupService(make_context())
    with pytest.raises(InternalError, match="KeyError"):
        service.create(BackupRequest(allow_partial=True))
    assert service.context.journal.list_operations()[0].status == "failed"


def test_the_cli_exits_1_for_a_bug_and_names_it(sandbox, monkeypatch, capsys):
    sandbox.seed("tiny", seed=42)
    monkeypatch.setattr(IdentityCenterReader, "permission_set", _broken)
    with pytest.raises(SystemExit) as exited:
        main(["backup", "create", "--allow-partial"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "Internal error" in err and "Traceback" not in err

"""Text others stored (a manifest description) and secrets pasted into it, as the commands print them."""

from __future__ import annotations

import json

import pytest

from awsideman.cli.app import build_command
from awsideman.services.backup import BackupRequest, BackupService
from tests.helpers import make_context

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DESCRIPTION = f"nightly\x1b[2J\x1b]0;owned\x07\u202e aws_secret_access_key={SECRET}"


@pytest.fixture
def backup_id(sandbox):
    sandbox.seed("tiny", seed=3)
    return BackupService(make_context()).create(BackupRequest(description=DESCRIPTION)).backup_id


def _run(capsys, *args: str) -> str:
    build_command().main(args=list(args), prog_name="awsideman", standalone_mode=False)
    out, err = capsys.readouterr()
    return out + err


@pytest.mark.parametrize("args", [("backup", "show", "{id}"), ("backup", "list"),
                                  ("-o", "json", "backup", "show", "{id}"), ("backup", "list", "-o", "json")])
def test_stored_escape_sequences_and_secrets_never_reach_the_terminal(capsys, backup_id, args):
    printed = _run(capsys, *(a.replace("{id}", backup_id) for a in args))
    assert backup_id in printed
    for raw in ("\x1b", "\x07", "\u202e", SECRET):
        assert raw not in printed
    if "json" in args:
        json.loads(printed)  # still one document


def test_the_manifest_on_disk_holds_no_secret(backup_id, sandbox):
    manifest = (make_context().settings.home / "backups" / backup_id / "manifest.json").read_text()
    assert SECRET not in manifest and "nightly" in manifest

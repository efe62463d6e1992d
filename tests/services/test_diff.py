"""DiffService in-process against the emulator: scope, partial backups, rendering."""

from __future__ import annotations

from awsideman.cli.diff import markdown
from awsideman.services.backup import BackupRequest, BackupService
from awsideman.services.diff import DiffRequest, DiffService
from tests.drift import drift
from tests.helpers import make_context


def test_a_scoped_live_diff_reads_only_that_kind_and_renders_markdown(sandbox):
    sandbox.seed("tiny", seed=65)
    backup_id = BackupService(make_context()).create(BackupRequest()).backup_id
    drift(sandbox.client)
    sandbox.reset_counters()
    result = DiffService(make_context()).run(DiffRequest(backup_id, resources=["permission-sets"]))
    assert {d.resource for d in result.differences} == {"permission_set"}
    calls = sandbox.counters()
    assert calls and not [op for op in calls if op.startswith("identitystore:")]
    assert result.api_calls == sum(calls.values())
    text = markdown(result)
    assert text.startswith(f"# Diff: backup {backup_id}") and "## Security-relevant" in text


def test_an_unchanged_instance_diffs_empty(sandbox):
    sandbox.seed("tiny", seed=66)
    backup_id = BackupService(make_context()).create(BackupRequest()).backup_id
    result = DiffService(make_context()).run(DiffRequest(backup_id))
    assert result.equal and result.to_dict()["counts"] == {}
    assert "No differences." in markdown(result)

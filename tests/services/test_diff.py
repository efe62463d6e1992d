"""DiffService in-process against the emulator: equal when nothing changed, scope, rendering."""

from __future__ import annotations

from awsideman.cli.diff import markdown
from awsideman.services.backup import BackupRequest, BackupService
from awsideman.services.diff import DiffRequest, DiffService
from tests.drift import drift
from tests.helpers import make_context


def test_equal_until_drift_then_a_scoped_diff_reads_only_that_kind(sandbox):
    sandbox.seed("tiny", seed=65)
    backup_id = BackupService(make_context()).create(BackupRequest()).backup_id
    unchanged = DiffService(make_context()).run(DiffRequest(backup_id))
    assert unchanged.equal and unchanged.to_dict()["counts"] == {}
    assert "No differences." in markdown(unchanged)

    drift(sandbox.client)
    sandbox.reset_counters()
    result = DiffService(make_context()).run(DiffRequest(backup_id, resources=["permission-sets"]))
    assert {d.resource for d in result.differences} == {"permission_set"}
    calls = sandbox.counters()
    assert calls and not [op for op in calls if op.startswith("identitystore:")]
    assert result.api_calls == sum(calls.values())
    text = markdown(result)
    assert text.startswith(f"# Diff: backup {backup_id}") and "## Security-relevant" in text

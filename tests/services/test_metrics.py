"""The metrics file: one file for every operation kind, atomically replaced, last success kept."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from awsideman.services.metrics import merge, read_samples, write_metrics

BACKUP, RESTORE = (("operation", "backup"),), (("operation", "restore"),)


def _parsed(path):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(path.read_text()) for s in family.samples}


def test_a_run_replaces_its_kind_keeps_the_others_and_the_last_success(tmp_path):
    path = tmp_path / "awsideman.prom"
    write_metrics(path, [("last_run_success", BACKUP, 1.0), ("last_success_timestamp_seconds", BACKUP, 100.0),
                         ("last_run_success", RESTORE, 1.0), ("last_success_timestamp_seconds", RESTORE, 90.0)])
    # a failed restore whose journal no longer knows the earlier success
    write_metrics(path, [("last_run_success", RESTORE, 0.0), ("last_run_timestamp_seconds", RESTORE, 200.0)])
    found = _parsed(path)
    assert found[("awsideman_last_run_success", RESTORE)] == 0.0
    assert found[("awsideman_last_success_timestamp_seconds", RESTORE)] == 90.0
    assert found[("awsideman_last_success_timestamp_seconds", BACKUP)] == 100.0
    assert not list(tmp_path.glob("*.tmp*")) and len(read_samples(path)) == 5
    assert merge([("last_success_timestamp_seconds", RESTORE, 90.0)],
                 [("last_success_timestamp_seconds", RESTORE, 80.0)]) == [
                     ("last_success_timestamp_seconds", RESTORE, 90.0)]


def test_an_unreadable_previous_file_is_replaced(tmp_path):
    path = tmp_path / "awsideman.prom"
    path.write_text("not { prometheus\n")
    write_metrics(path, [("last_run_success", BACKUP, 1.0)])
    assert _parsed(path) == {("awsideman_last_run_success", BACKUP): 1.0}

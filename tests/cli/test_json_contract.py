"""The machine contract, end to end: for every command, `-o json` (or AWSIDEMAN_OUTPUT=json)
writes exactly one JSON document to stdout and no ANSI code anywhere, on success and on failure.

The executable runs the backup, the restore and the delete; the other commands go through the
same entry point in this process (`run_in_process`), each start of the executable costing ~1 s."""

from __future__ import annotations

import json

import pytest

from tests.drift import drift
from tests.helpers import run_cli, run_in_process


def _one_document(proc, *args):
    assert "\x1b" not in proc.stdout + proc.stderr, args
    try:
        return json.loads(proc.stdout)  # the whole of stdout: exactly one document
    except ValueError as exc:
        raise AssertionError(f"{args}: stdout is not one JSON document ({exc}): {proc.stdout[:300]!r}") from None


@pytest.mark.e2e
def test_every_command_writes_one_json_document_and_no_ansi_on_success_and_failure(served_sandbox, monkeypatch,
                                                                                 capsys):
    served, env = served_sandbox, dict(served_sandbox.env, FORCE_COLOR="1", TERM="xterm-256color")
    served.seed("tiny", seed=91)
    backup = _one_document(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    drift(served.client)
    restored = _one_document(run_cli(dict(env, AWSIDEMAN_OUTPUT="json"), "restore", backup, "--yes"))["operation_id"]
    unknown_op, unknown_bk = "op-20200101T000000Z-000000", "bk-20200101T000000Z-000000"
    runs = [
        (("backup", "list"), 0), (("backup", "show", backup), 0), (("backup", "verify", backup), 0),
        (("backup", "prune", "--keep-last", "5", "--dry-run"), 0),
        (("restore", backup, "--dry-run"), 0), (("rollback", restored, "--dry-run"), 0),
        (("report", "list"), 0), (("report", "show", "last"), 0), (("diff", backup), None),
        (("analyze-error", "--code", "ThrottlingException"), 0),
        (("access", backup), 0), (("access", backup, "--summary"), 0), (("access", "diff", backup), 0),
        (("access", backup, "--user", "nobody.at.all"), 2), (("access", "diff", unknown_bk), None),
        # failures: unknown ids, a bad flag value, a refused change
        (("backup", "show", unknown_bk), None), (("backup", "verify", "../../etc"), 2),
        (("restore", unknown_bk, "--yes"), None), (("rollback", unknown_op, "--yes"), None),
        (("report", "show", unknown_op), None), (("restore", backup, "--conflict", "maybe"), 2),
        (("backup", "delete", backup), 2),  # no terminal and no --yes
    ]
    for index, (args, expected) in enumerate(runs):
        # every other command asks for JSON through the environment instead of the flag
        proc = (run_in_process(monkeypatch, capsys, dict(env, AWSIDEMAN_OUTPUT="json"), *args) if index % 2
                else run_in_process(monkeypatch, capsys, env, "-o", "json", *args))
        if expected is not None:
            assert proc.returncode == expected, (args, proc.returncode, proc.stdout, proc.stderr)
        document = _one_document(proc, *args)
        if proc.returncode not in (0, 3):
            assert "error" in json.dumps(document).lower(), (args, document)
    deleted = run_cli(env, "-o", "json", "backup", "delete", backup, "--yes")
    assert deleted.returncode == 0 and _one_document(deleted)

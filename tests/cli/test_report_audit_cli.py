"""`awsideman report audit` end to end through the installed executable against the served sandbox.

A restore that fails (an assignment request ends FAILED) and is rolled back, automatically or by
`rollback OP` run by another caller over the shared DynamoDB journal: the audit lists each change
once as applied and once as compensated, exactly as the journal has them, with the caller, host
and AWS request ids; the CSV parses with the csv module and says what the JSON says; nothing of
the changes' payload (previous attribute values) is in either.
"""

from __future__ import annotations

import csv
import io
import json
import shlex
import socket
from pathlib import Path
from typing import Any

import pytest

from awsideman.core import schemas
from awsideman.journal import ChangeState, Journal
from tests.drift import drift
from tests.helpers import cli_json, exported, run_cli, run_in_process

pytestmark = pytest.mark.e2e
FAIL = {"operation": "CreateAccountAssignment", "async_fail_after": 0, "failure_reason": "IAM role quota reached"}


def _failed_restore(served, env: dict[str, str], *flags: str) -> str:
    served.seed("tiny", seed=123)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    drift(served.client)
    served.set_faults({"rules": [FAIL]})
    restore = run_cli(env, "-o", "json", "restore", backup_id, "--prune", "--yes", *flags)
    served.set_faults({})
    assert restore.returncode == (5 if flags else 4), restore.stdout + restore.stderr
    return str(cli_json(restore)["operation_id"])


def _journaled(env: dict[str, str], *operation_ids: str) -> dict[str, set[tuple[str, int]]]:
    """(operation, seq) of the journal's forward changes that took effect and of the inverses that did."""
    found: dict[str, set[tuple[str, int]]] = {"applied": set(), "compensated": set()}
    with Journal.open(Path(env["AWSIDEMAN_HOME"]) / "state.db") as journal:
        for op_id in operation_ids:
            kind = journal.get_operation(op_id).kind
            for record in journal.changes(op_id):
                inverse = kind == "rollback" or record.kind.startswith("compensate:")
                if record.outcome == ChangeState.APPLIED.value:
                    found["compensated" if inverse else "applied"].add((op_id, record.seq))
    return found


def _payload_values(env: dict[str, str], operation_id: str) -> set[str]:
    """Attribute values the changes carry (before, after, inverse) that are no names: emails, titles."""
    values: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and ("@" in value or value.startswith("Drifted")):
            values.add(value)

    with Journal.open(Path(env["AWSIDEMAN_HOME"]) / "state.db") as journal:
        for record in journal.changes(operation_id):
            walk([record.forward.get("before"), record.forward.get("after"), record.inverse])
    return values


def _by_event(document: dict[str, Any]) -> dict[str, set[tuple[str, int]]]:
    found: dict[str, set[tuple[str, int]]] = {}
    for entry in document["entries"]:
        found.setdefault(entry["event"], set()).add((entry["operation_id"], entry["seq"]))
    return found


def test_the_audit_of_a_restore_and_its_automatic_rollback_matches_the_journal_once_per_action(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    op = _failed_restore(served, env)
    audit = run_cli(env, "report", "audit")
    assert audit.returncode == 0, audit.stderr
    document = json.loads(audit.stdout)  # JSON is the default format: one document
    assert schemas.problems("audit", document) == []
    entries = document["entries"]
    assert document["count"] == len(entries) and document["since"] is None and document["operation_id"] is None

    journaled = _journaled(env, op)
    events = [e["event"] for e in entries]
    assert events.count("applied") == len(journaled["applied"]) > 0
    assert events.count("compensated") == len(journaled["compensated"]) > 0
    by_event = _by_event(document)
    assert by_event["applied"] == journaled["applied"] and by_event["compensated"] == journaled["compensated"]
    assert {e["resource"] for e in entries if e["event"] == "failed"}  # the assignment the service refused
    # Each applied change is compensated exactly once (the automatic rollback reverted all of it).
    applied = sorted(e["resource"] for e in entries if e["event"] == "applied")
    compensated = sorted(e["resource"] for e in entries if e["event"] == "compensated")
    assert applied == compensated
    assert all(e["operation_id"] == op and e["operation_kind"] == "restore" for e in entries)
    assert all(e["reverts"] == op for e in entries if e["event"] == "compensated")
    assert all(e["reverts"] is None for e in entries if e["event"] == "applied")
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)

    caller = served.client("sts").get_caller_identity()
    assert {(e["caller_arn"], e["caller_account"], e["host"]) for e in entries} == {
        (caller["Arn"], caller["Account"], socket.gethostname())}
    # Every write that took effect names its AWS request id; an assignment, its async request too.
    made = [e for e in entries if e["event"] in ("applied", "compensated")]
    sent = [e for e in made if e["requests"]]
    assert sent and all(r["request_id"] and ":" in r["api"] for e in sent for r in e["requests"])
    assert any(r["api"] == "identitystore:CreateUser" for e in made for r in e["requests"])
    assert all(e["async_request_id"] for e in made if e["resource_kind"] == "assignment" and e["requests"])
    updates = [e for e in made if e["action"] == "update"]
    assert updates and all(e["attributes"] for e in updates)
    assert any("DisplayName" in e["attributes"] for e in updates if e["resource_kind"] == "user")

    secrets = _payload_values(env, op)
    assert secrets  # the journal holds previous values (emails, the drifted title)...
    as_csv = run_cli(env, "report", "audit", "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    for text in (audit.stdout, as_csv.stdout):  # ...and the audit none of them
        assert not [value for value in secrets if value in text]

    rows = list(csv.DictReader(io.StringIO(as_csv.stdout, newline="")))
    assert len(rows) == len(entries)
    assert [(r["event"], r["operation_id"], int(r["seq"]), r["resource"]) for r in rows] == [
        (e["event"], e["operation_id"], e["seq"], e["resource"]) for e in entries]
    first = next(e for e in entries if e["requests"])
    row = rows[entries.index(first)]
    assert row["request_ids"].split() == [r["request_id"] for r in first["requests"]]
    assert row["apis"].split() == [r["api"] for r in first["requests"]]
    assert row["caller_arn"] == caller["Arn"]


def test_a_restore_and_a_later_rollback_audit_their_asynchronous_requests_and_filter(served_sandbox, monkeypatch,
                                                                                       capsys):
    served, env = served_sandbox, served_sandbox.env
    served.seed("tiny", seed=77)
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    drift(served.client)
    restored = run_cli(env, "-o", "json", "restore", backup_id, "--prune", "--yes")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    op = cli_json(restored)["operation_id"]
    rolled = run_in_process(monkeypatch, capsys, env, "-o", "json", "rollback", op, "--yes")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    rollback = cli_json(rolled)["operation_id"]

    every = cli_json(run_in_process(monkeypatch, capsys, env, "report", "audit"))
    assert schemas.problems("audit", every) == []
    assert _by_event(every) == {k: v for k, v in _journaled(env, op, rollback).items() if v}
    assignments = [e for e in every["entries"] if e["resource_kind"] == "assignment"]
    created = [e for e in assignments if e["event"] == "applied"]
    deleted = [e for e in assignments if e["event"] == "compensated"]
    assert created and sorted(e["resource"] for e in created) == sorted(e["resource"] for e in deleted)
    for entries, api in ((created, "sso-admin:CreateAccountAssignment"),
                         (deleted, "sso-admin:DeleteAccountAssignment")):
        assert all(e["async_request_id"] and [r["api"] for r in e["requests"]] == [api] for e in entries), entries
    assert {(e["operation_id"], e["reverts"]) for e in deleted} == {(rollback, op)}
    at = sorted(e["at"] for e in every["entries"])
    later = cli_json(run_in_process(monkeypatch, capsys, env, "report", "audit", "--since", at[-1]))
    assert 0 < later["count"] < every["count"] and all(e["at"] >= at[-1] for e in later["entries"])
    assert later["since"] == at[-1]
    day = cli_json(run_in_process(monkeypatch, capsys, env, "report", "audit", "--since", at[0][:10]))
    assert day["count"] == every["count"] and day["since"] == at[0][:10] + "T00:00:00.000Z"
    future = cli_json(run_in_process(monkeypatch, capsys, env, "-o", "json", "report", "audit", "--since",
                                     "2999-01-01T00:00:00Z"))
    assert future["count"] == 0 and future["entries"] == []
    mine = cli_json(run_in_process(monkeypatch, capsys, env, "report", "audit", "--operation", op))
    assert mine["count"] == every["count"] and mine["operation_id"] == op
    backup = cli_json(run_in_process(monkeypatch, capsys, env, "-o", "json", "report", "list"))["operations"][-1]
    assert backup["kind"] == "backup"
    none = cli_json(run_in_process(monkeypatch, capsys, env, "report", "audit", "--operation",
                                   backup["operation_id"]))
    assert none["count"] == 0  # a backup changes nothing

    for args, said in [(("--since", "yesterday"), "--since must be a date"),
                       (("--since", "2026-13-01"), "--since must be a date"),
                       (("--operation", "../op"), "Invalid operation id"),
                       (("--format", "xml"), "--format must be one of json, csv")]:
        refused = run_in_process(monkeypatch, capsys, env, "report", "audit", *args)
        assert refused.returncode == 2 and said in refused.stderr, (args, refused.stderr)
        assert refused.stdout == ""
    mixed = run_in_process(monkeypatch, capsys, env, "-o", "json", "report", "audit", "--format", "csv")
    assert mixed.returncode == 2 and "cannot be combined" in mixed.stdout


def test_a_rollback_by_another_caller_over_the_shared_journal_is_audited_as_its_compensations(served_sandbox):
    served = served_sandbox
    served.client("s3").create_bucket(Bucket="audit-state")
    env = dict(served.env, AWSIDEMAN_STATE="dynamodb://audit-state", AWSIDEMAN_STATE_S3="s3://audit-state/state")
    init = run_cli(env, "-o", "json", "state", "init")
    assert init.returncode == 0, init.stdout + init.stderr
    restore = _failed_restore(served, env, "--no-auto-rollback")
    made = run_cli(env, "sandbox", "principal", "create", "auditor-ops")
    assert made.returncode == 0, made.stderr
    other = dict(env, **{k: shlex.split(v)[0] for k, v in exported(made.stdout.splitlines()).items()})
    other.pop("AWS_SESSION_TOKEN", None)
    rolled = run_cli(other, "-o", "json", "rollback", restore, "--yes")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    rollback = cli_json(rolled)["operation_id"]

    document = cli_json(run_cli(other, "report", "audit", "--operation", restore))
    assert schemas.problems("audit", document) == []
    entries = document["entries"]
    applied = [e for e in entries if e["event"] == "applied"]
    compensated = [e for e in entries if e["event"] == "compensated"]
    assert applied and sorted(e["resource"] for e in applied) == sorted(e["resource"] for e in compensated)
    assert {(e["operation_id"], e["reverts"]) for e in compensated} == {(rollback, restore)}
    me = served.client("sts").get_caller_identity()["Arn"]
    assert {e["caller_arn"] for e in applied} == {me}
    assert {e["caller_arn"] for e in compensated} == {"arn:aws:iam::123456789012:user/auditor-ops"}
    assert all(e["requests"] for e in compensated if e["resource_kind"] in ("user", "group"))

    only_rollback = cli_json(run_cli(other, "report", "audit", "--operation", rollback))
    assert [(e["operation_id"], e["seq"]) for e in only_rollback["entries"]] == [
        (e["operation_id"], e["seq"]) for e in compensated]

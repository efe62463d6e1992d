"""Shared test helpers: compare a snapshot with what the seeder set, field by field."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from awsideman.config import load_settings
from awsideman.core.model import Snapshot
from awsideman.services.context import Context


def make_context(**overrides: Any) -> Context:
    """A service context from the (sandbox) environment, with settings overridden."""
    settings = dataclasses.replace(load_settings(), **overrides)
    return Context(settings)


def assert_matches_seed(snapshot: Snapshot, seeded: Any) -> None:
    """Every attribute the seeder set is in the snapshot, and nothing else is."""
    users = {u.user_name: u for u in snapshot.users}
    assert sorted(users) == sorted(seeded.users)
    for name, sent in seeded.users.items():
        stored = users[name].attributes
        for key, value in sent.items():
            if key == "UserName":
                continue
            assert stored.get(key) == value, f"user {name}: {key}: {stored.get(key)!r} != {value!r}"
    groups = {g.display_name: g for g in snapshot.groups}
    assert sorted(groups) == sorted(seeded.groups)
    for name, sent in seeded.groups.items():
        assert groups[name].description == sent.get("Description"), name
    assert sorted(m.key for m in snapshot.memberships) == sorted(seeded.memberships)
    sets = {p.name: p for p in snapshot.permission_sets}
    assert sorted(sets) == sorted(seeded.permission_sets)
    for name, sent in seeded.permission_sets.items():
        stored = sets[name]
        assert stored.description == sent.get("Description"), name
        assert stored.session_duration == sent.get("SessionDuration"), name
        assert stored.relay_state == sent.get("RelayState"), name
        expected_inline = sent.get("InlinePolicy") or None
        got_inline = json.loads(stored.inline_policy) if stored.inline_policy else None
        assert got_inline == (json.loads(expected_inline) if expected_inline else None), name
        assert stored.managed_policies == sorted(sent.get("ManagedPolicyArns") or []), name
        expected_cmp = sorted(sent.get("CustomerManagedPolicyReferences") or [],
                              key=lambda p: (p["Path"], p["Name"]))
        assert stored.customer_managed_policies == expected_cmp, name
        assert stored.permissions_boundary == sent.get("PermissionsBoundary"), name
        assert stored.tags == {t["Key"]: t["Value"] for t in sent.get("Tags") or []}, name
    got = sorted((a.principal_type, a.principal_name, a.permission_set_name, a.account_id)
                 for a in snapshot.assignments)
    assert got == sorted(seeded.assignments)


def awsideman_command() -> list[str]:
    """The installed `awsideman` executable (what users run), else `python -m awsideman`."""
    import shutil
    import sys

    found = shutil.which("awsideman")
    return [found] if found else [sys.executable, "-m", "awsideman"]


def paced_config(home: Any) -> str:
    """`--config` for the one run a test kills: the product's default rates, so it lasts a while
    (every other run in a test is unpaced, see tests/conftest.py)."""
    from pathlib import Path

    path = Path(home) / "paced.yaml"
    path.write_text("concurrency: 8\n")
    return str(path)


def run_cli(env: dict[str, str], *args: str, timeout: float = 120, input: str | None = None) -> Any:
    """Run the real executable; returns the CompletedProcess (text mode)."""
    return _run([*awsideman_command(), *args], env, timeout=timeout, input=input)


def run_cli_killed_at(point: str, env: dict[str, str], *args: str, timeout: float = 120) -> Any:
    """Run awsideman ARGS that SIGKILLs itself when it reaches ``point`` (the sandbox's kill
    points, awsideman/sandbox/crashpoints.py: the product only announces its points)."""
    import sys

    return _run([sys.executable, "-m", "awsideman.sandbox.crashpoints", *args],
                dict(env, AWSIDEMAN_CRASH_AT=point), timeout=timeout)


def _run(command: list[str], env: dict[str, str], *, timeout: float, input: str | None = None) -> Any:
    import subprocess

    return subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=timeout, input=input, stdin=None if input is not None else subprocess.DEVNULL)


def cli_json(proc: Any) -> Any:
    """The one JSON document a `-o json` run printed (fails naming stderr when there is none)."""
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def backup_records(env: dict[str, str], backup_id: str) -> Any:
    """The planner records of a backup already taken (what the instance held when it was taken)."""
    import gzip
    from pathlib import Path

    from awsideman.core.attributes import snapshot_records

    raw = gzip.decompress((Path(env["AWSIDEMAN_HOME"]) / "backups" / backup_id / "snapshot.json.gz").read_bytes())
    return snapshot_records(Snapshot.from_dict(json.loads(raw)))


def live_records(env: dict[str, str]) -> Any:
    """The instance's state as planner records, read by a real `backup create` (what users see)."""
    return backup_records(env, cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"])


def run_in_process(monkeypatch: Any, capsys: Any, env: dict[str, str], *args: str) -> Any:
    """`awsideman *args` through the same entry point as the executable (`cli.entry.main`), in this
    process with `env` as its environment: for tests that check many outputs or exit codes, where
    each start of the executable would cost ~1 s. Returns a CompletedProcess like `run_cli`."""
    import os
    import signal
    import subprocess

    import boto3

    from awsideman.cli.entry import main

    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    capsys.readouterr()
    with monkeypatch.context() as patched:
        for key in set(os.environ) - set(env):
            patched.delenv(key)
        for key, value in env.items():
            patched.setenv(key, value)
        patched.setattr(boto3, "DEFAULT_SESSION", None)
        try:
            main(list(args))
            code: Any = 0
        except SystemExit as exited:
            code = 0 if exited.code is None else exited.code
        finally:
            for signum, handler in handlers.items():  # main() routes signals to its stop flag
                signal.signal(signum, handler)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["awsideman", *args], code if isinstance(code, int) else 1, out, err)


def read_until_summary(process: Any, timeout: float = 30.0) -> list[str]:
    """stdout lines of a `sandbox up` process (text mode) up to its `# awsideman sandbox at ...` summary."""
    import queue
    import threading
    import time

    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # a thread, since select() cannot see lines already buffered by readline()
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if line.startswith("# awsideman sandbox at "):
            return seen
    process.kill()
    raise AssertionError(f"sandbox up printed no summary: {seen} / {process.stderr.read()}")


def exported(lines: list[str]) -> dict[str, str]:
    """The variables of the `export K=V` lines `sandbox up` prints."""
    return dict(line[len("export "):].split("=", 1) for line in lines if line.startswith("export "))


CHANGE_COUNTS = ("applied", "compensated", "failed", "leftover")


def assert_views_agree(run: Any, operation_id: str, *, closing: dict[str, Any] | None = None,
                       metrics: Any = None) -> dict[str, Any]:
    """Every view of one operation says the same status, counts and error categories.

    ``run(*args)`` runs awsideman (``run_cli`` or ``run_in_process`` bound to an environment) and
    returns the CompletedProcess. Compared: ``report show`` in its three formats, ``report list -o
    json`` (a list, or an object with ``operations``), ``analyze-error --operation -o json``, the
    command's own ``-o json`` result (``closing``) and, when given, the metrics file (only valid
    while this operation is the newest run of its kind that wrote it). Returns the JSON report.
    """
    report = cli_json(run("-o", "json", "report", "show", operation_id))
    status, counts, kind = report["status"], report["counts"], report["kind"]
    categories = sorted(e["category"] for e in report["errors"])
    assert report["operation_id"] == operation_id and report["summary"]["status"] == status
    assert sorted(g["category"] for g in report["failures"]) == categories
    changes = (f"{counts['applied']} applied, {counts['compensated']} compensated, {counts['failed']} failed, "
               f"{counts['leftover']} left over")

    markdown = run("report", "show", operation_id, "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert f"## awsideman {kind} {operation_id}: {status}\n" in markdown.stdout
    assert f"| changes | {changes} |" in markdown.stdout
    text = run("report", "show", operation_id, "--format", "text")
    assert text.returncode == 0, text.stderr
    assert f"{kind.capitalize()} {operation_id}: {status}" in text.stdout and changes in " ".join(text.stdout.split())
    for category in categories:
        assert category in markdown.stdout and category in text.stdout, category

    listed = cli_json(run("-o", "json", "report", "list", "--limit", "50"))
    rows = listed["operations"] if isinstance(listed, dict) else listed
    row = next(r for r in rows if r["operation_id"] == operation_id)
    assert row["status"] == status, (row, status)

    analysed = cli_json(run("-o", "json", "analyze-error", "--operation", operation_id))
    assert sorted(e["category"] for e in analysed["errors"]) == categories, analysed
    for error in analysed["errors"]:
        assert "OP_ID" not in " ".join(error["remediation"]), error

    if closing is not None:
        assert closing["operation_id"] == operation_id and closing["status"] == status, (closing["status"], status)
        if kind != "backup":
            assert {k: closing["counts"][k] for k in CHANGE_COUNTS} == counts, (closing["counts"], counts)
            assert sorted(e["category"] for e in closing["errors"]) == categories, closing["errors"]
        if report["summary"]["duration_seconds"] is not None:
            assert closing["duration_seconds"] == report["summary"]["duration_seconds"]

    if metrics is not None:
        from pathlib import Path

        from prometheus_client.parser import text_string_to_metric_families

        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(Path(metrics).read_text()) for s in family.samples}
        mine = (("operation", kind),)
        assert samples[("awsideman_last_run_status", (*mine, ("status", status)))] == 1
        assert samples[("awsideman_last_run_success", mine)] == (1 if status == "succeeded" else 0)
        if kind != "backup":
            for state, number in counts.items():
                assert samples[("awsideman_last_run_changes", (*mine, ("state", state)))] == number, state
        for group in report["failures"]:
            key = ("awsideman_last_run_errors", (("category", group["category"]), *mine))
            assert samples[key] == group["count"], group["category"]
        assert samples[("awsideman_last_run_duration_seconds", mine)] == pytest_approx(
            report["summary"]["duration_seconds"] or 0.0)
    return report


def pytest_approx(value: float) -> Any:
    import pytest

    return pytest.approx(value, abs=1e-6)


def wait_for_leases_to_expire(client: Any, table: str, timeout: float = 30.0) -> None:
    """Return once every lease recorded in the shared state table has run out.

    The journal's rule (``DynamoBase._alive``): a lease is alive while ``lease_until`` (epoch
    seconds) is later than the reader's clock. Nothing renews the leases of a killed or stopped
    runner, so this waits exactly as long as its last renewal requires, never a guessed duration.
    """
    dynamodb = client("dynamodb")
    deadline = time.monotonic() + timeout
    while True:
        pages = dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="lease_until")
        ends = [float(item["lease_until"]["N"]) for page in pages for item in page["Items"] if "lease_until" in item]
        remaining = max(ends, default=0.0) - time.time()
        if remaining < 0:
            return
        assert time.monotonic() < deadline, f"a lease in {table} is still live after {timeout} s"
        time.sleep(min(remaining + 0.01, 0.1))

"""`awsideman diff` end to end: the installed executable against the served emulator."""

from __future__ import annotations

import pytest

from awsideman.core.attributes import comparable
from tests.drift import drift
from tests.helpers import backup_records, cli_json, run_cli


def _backup(env) -> tuple[str, dict]:
    backup_id = cli_json(run_cli(env, "-o", "json", "backup", "create"))["backup_id"]
    return backup_id, backup_records(env, backup_id)


def _expected(before: dict, after: dict) -> set[tuple]:
    """(resource, key, action, changed attribute names) between two record sets, computed here."""
    found = set()
    for resource in before:
        old, new = before[resource], after[resource]
        for key in set(old) | set(new):
            if key not in old or key not in new:
                found.add((resource, key, "added" if key not in old else "removed", frozenset()))
                continue
            a, b = comparable(resource, old[key]), comparable(resource, new[key])
            if resource == "user":
                a, b = a["attributes"], b["attributes"]
            names = frozenset(n for n in set(a) | set(b) if a.get(n) != b.get(n))
            if names:
                found.add((resource, key, "changed", names))
    return found


def _found(document: dict) -> set[tuple]:
    return {(d["resource"], tuple(d["key"]), d["action"], frozenset(d["attributes"]))
            for d in document["differences"]}


@pytest.mark.e2e
def test_diff_names_every_drifted_resource_and_attribute_and_nothing_else(served_sandbox):
    served, env = served_sandbox, served_sandbox.env
    served.seed("small", seed=64)
    first, before = _backup(env)
    done = drift(served.client)
    second, after = _backup(env)
    expected = _expected(before, after)
    assert len(expected) >= len(done)

    live = run_cli(env, "-o", "json", "diff", first, "--exit-code")
    assert live.returncode == 3, live.stderr
    document = cli_json(live)
    assert _found(document) == expected and not document["equal"]
    changed_user = next(line.split()[-1] for line in done if line.startswith("changed user"))
    assert ("user", (changed_user,), "changed", frozenset({"DisplayName", "Title"})) in expected
    assert document["differences"][0]["security"]  # AdministratorAccess attached: listed first
    flagged = {d["address"] for d in document["differences"] if d["security"]}
    assert any(a.startswith("permission_set:") for a in flagged)

    served.reset_counters()
    offline = run_cli(env, "-o", "json", "diff", first, second)
    assert offline.returncode == 0, offline.stderr
    assert _found(cli_json(offline)) == expected
    assert served.counters() == {}  # backup to backup: not a single API call

    third, _ = _backup(env)
    served.reset_counters()
    same = run_cli(env, "diff", second, third, "--exit-code")
    assert same.returncode == 0, same.stderr
    assert "No differences." in same.stdout and served.counters() == {}

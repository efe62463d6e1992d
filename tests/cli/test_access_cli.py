"""`awsideman access` end to end: the installed executable against the served emulator, on a
small instance whose answers are known (built here through boto3, not drawn at random).

alice is in Admins and Ops, bob in Ops, carol in no group; Admins and Ops are both assigned
Admin (AdministratorAccess) in PROD; Ops and carol (directly) ReadOnly in DEV.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import time
from typing import Any

import pytest

from awsideman.core import schemas
from tests.helpers import cli_json, run_cli, run_in_process

pytestmark = pytest.mark.e2e
PROD, DEV = "111111111111", "222222222222"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_POLICY = json.dumps({"Version": "2012-10-17",
                          "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]})
KNOWN_PATHS = {  # (user, via, group, account, permission set)
    ("alice", "group", "Admins", PROD, "Admin"), ("alice", "group", "Ops", PROD, "Admin"),
    ("bob", "group", "Ops", PROD, "Admin"), ("alice", "group", "Ops", DEV, "ReadOnly"),
    ("bob", "group", "Ops", DEV, "ReadOnly"), ("carol", "direct", None, DEV, "ReadOnly")}


class Office:
    """The known instance, with the ids a test needs to change it."""

    def __init__(self, served: Any) -> None:
        self.sso, self.ids = served.client("sso-admin"), served.client("identitystore")
        org = served.client("organizations")
        instances = self.sso.list_instances()["Instances"]
        if not instances:
            self.sso.create_instance(Name="awsideman-sandbox")
            instances = self.sso.list_instances()["Instances"]
        self.arn, self.store = instances[0]["InstanceArn"], instances[0]["IdentityStoreId"]
        with contextlib.suppress(org.exceptions.AlreadyInOrganizationException):
            org.create_organization(FeatureSet="ALL")
        for account, name in ((PROD, "production"), (DEV, "development")):
            org.create_account(Email=f"{name}@example.com", AccountName=name,
                               Tags=[{"Key": "awsideman:account-id", "Value": account}])
        self.users = {name: self.ids.create_user(IdentityStoreId=self.store, UserName=name, DisplayName=name.title(),
                                                 Name={"GivenName": name, "FamilyName": "X"})["UserId"]
                      for name in ("alice", "bob", "carol")}
        self.groups = {name: self.ids.create_group(IdentityStoreId=self.store, DisplayName=name)["GroupId"]
                       for name in ("Admins", "Ops")}
        self.memberships = {(g, u): self.ids.create_group_membership(
            IdentityStoreId=self.store, GroupId=self.groups[g], MemberId={"UserId": self.users[u]})["MembershipId"]
            for g, u in (("Admins", "alice"), ("Ops", "alice"), ("Ops", "bob"))}
        self.sets = {}
        for name, duration in (("Admin", "PT1H"), ("ReadOnly", "PT8H")):
            self.sets[name] = self.sso.create_permission_set(InstanceArn=self.arn, Name=name, SessionDuration=duration)[
                "PermissionSet"]["PermissionSetArn"]
        self.sso.attach_managed_policy_to_permission_set(InstanceArn=self.arn, PermissionSetArn=self.sets["Admin"],
                                                         ManagedPolicyArn=ADMIN_ARN)
        self.sso.put_inline_policy_to_permission_set(InstanceArn=self.arn, PermissionSetArn=self.sets["ReadOnly"],
                                                     InlinePolicy=READ_POLICY)
        for account, ps, kind, name in ((PROD, "Admin", "GROUP", "Admins"), (PROD, "Admin", "GROUP", "Ops"),
                                        (DEV, "ReadOnly", "GROUP", "Ops"), (DEV, "ReadOnly", "USER", "carol")):
            self.sso.create_account_assignment(
                InstanceArn=self.arn, TargetId=account, TargetType="AWS_ACCOUNT", PermissionSetArn=self.sets[ps],
                PrincipalType=kind, PrincipalId=(self.users if kind == "USER" else self.groups)[name])

    def remove_membership(self, group: str, user: str) -> None:
        self.ids.delete_group_membership(IdentityStoreId=self.store, MembershipId=self.memberships[(group, user)])


def _paths(rows: list[dict[str, Any]]) -> set[tuple]:
    return {(r["user_name"], r["via"], r["group_name"], r["account_id"], r["permission_set_name"]) for r in rows}


def _backup(env: dict[str, str]) -> str:
    proc = run_cli(env, "-o", "json", "backup", "create")
    assert proc.returncode == 0, proc.stderr
    return str(cli_json(proc)["backup_id"])


@pytest.fixture
def office(served_sandbox: Any) -> tuple[Any, Office, str]:
    """The known instance, backed up: (served sandbox, the instance, the backup id)."""
    built = Office(served_sandbox)
    return served_sandbox, built, _backup(served_sandbox.env)


def test_access_from_a_backup_has_one_row_per_path_validates_and_makes_no_api_call(office):
    served, _, backup_id = office
    served.reset_counters()
    started = time.time()
    proc = run_cli(served.env, "-o", "json", "access", backup_id)
    assert proc.returncode == 0, proc.stderr
    assert served.counters() == {} and served.calls_since(started).total == 0  # not a single API call
    document = cli_json(proc)
    assert schemas.problems("access", document) == []
    assert _paths(document["rows"]) == KNOWN_PATHS and document["count"] == len(KNOWN_PATHS)
    alice_prod = [r for r in document["rows"] if r["user_name"] == "alice" and r["account_id"] == PROD]
    assert sorted(r["group_name"] for r in alice_prod) == ["Admins", "Ops"]  # once per path
    admin = alice_prod[0]
    assert (admin["session_duration"], admin["managed_policies"], admin["inline_policy"],
            admin["permissions_boundary"], admin["account_name"]) == ("PT1H", ["AdministratorAccess"], False,
                                                                      False, None)
    assert document["source"]["backup_id"] == backup_id and document["orphan_assignments"]["visible"]


def test_csv_parses_jsonl_parses_and_markdown_is_a_table(office, monkeypatch, capsys):
    served, _, backup_id = office
    env = served.env
    proc = run_in_process(monkeypatch, capsys, env, "access", backup_id, "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert {(r["user_name"], r["via"], r["group_name"] or None, r["account_id"], r["permission_set_name"])
            for r in rows} == KNOWN_PATHS
    assert {r["inline_policy"] for r in rows if r["permission_set_name"] == "ReadOnly"} == {"yes"}

    lines = run_in_process(monkeypatch, capsys, env, "access", backup_id, "--format", "jsonl").stdout.splitlines()
    assert _paths([json.loads(line) for line in lines]) == KNOWN_PATHS
    assert all(schemas.problems("access", {"source": {"kind": "live", "instance_arn": None, "identity_store_id": None},
                                           "filters": {"user": None, "group": None, "account": None,
                                                       "permission_set": None},
                                           "orphan_assignments": {"visible": True, "count": 0}, "notes": [],
                                           "rows": [json.loads(line)], "count": 1}) == [] for line in lines)

    markdown = run_in_process(monkeypatch, capsys, env, "access", backup_id, "--format", "markdown",
                              "--user", "alice").stdout.splitlines()
    table = [line for line in markdown if line.startswith("|")]
    assert table[0].startswith("| user | via | account | permission set |") and set(table[1]) <= set("|-")
    assert len(table) == 2 + 3 and all(line.count("|") == table[0].count("|") for line in table)
    assert any("group Admins" in line and PROD in line for line in table)

    text = run_in_process(monkeypatch, capsys, env, "access", backup_id, "--user", "bob")
    assert text.returncode == 0 and "2 access path(s) for 1 user(s)" in text.stdout


def test_filters_and_unknown_names_exit_2_with_the_known_ones(office, monkeypatch, capsys):
    served, _, backup_id = office
    env = served.env

    def rows(*args: str) -> set[tuple]:
        proc = run_in_process(monkeypatch, capsys, env, "-o", "json", "access", backup_id, *args)
        assert proc.returncode == 0, proc.stderr
        return _paths(json.loads(proc.stdout)["rows"])

    assert rows("--user", "alice", "--account", PROD) == {p for p in KNOWN_PATHS if p[0] == "alice" and p[3] == PROD}
    assert rows("--group", "Ops", "--permission-set", "ReadOnly") == {
        p for p in KNOWN_PATHS if p[2] == "Ops" and p[4] == "ReadOnly"}
    for args, words in ((("--user", "alicia"), "No user 'alicia'"), (("--group", "Nobody"), "No group 'Nobody'"),
                        (("--permission-set", "Root"), "No permission set 'Root'"),
                        (("--account", "333333333333"), "No assignment"),
                        (("--account", "production"), "backups do not record them")):
        proc = run_in_process(monkeypatch, capsys, env, "access", backup_id, *args)
        assert proc.returncode == 2 and words in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert "alice" in run_in_process(monkeypatch, capsys, env, "access", backup_id, "--user", "alicia").stderr
    for args in ((), (backup_id, "--live"), (backup_id, "--format", "xml"),
                 (backup_id, "--summary", "--max-users", "-1"), (backup_id, "--max-users", "5")):
        proc = run_in_process(monkeypatch, capsys, env, "access", *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (args, proc.stderr)


def test_live_reads_the_instance_and_names_the_accounts(office):
    served, _, _ = office
    proc = run_cli(served.env, "-o", "json", "access", "--live", "--account", "production")
    assert proc.returncode == 0, proc.stderr
    document = cli_json(proc)
    assert schemas.problems("access", document) == [] and document["source"]["kind"] == "live"
    assert _paths(document["rows"]) == {p for p in KNOWN_PATHS if p[3] == PROD}
    assert {r["account_name"] for r in document["rows"]} == {"production"}


def test_orphan_assignments_are_shown_as_such(office):
    served, built, _ = office
    served.set_faults({"quirks": {"orphan_assignments": True}})
    built.ids.delete_user(IdentityStoreId=built.store, UserId=built.users["carol"])
    proc = run_cli(served.env, "-o", "json", "backup", "create", "--assignment-strategy", "permission-set")
    assert proc.returncode == 0, proc.stderr
    backup_id = cli_json(proc)["backup_id"]
    document = cli_json(run_cli(served.env, "-o", "json", "access", backup_id))
    orphans = [r for r in document["rows"] if r["orphan"]]
    assert [(r["user_name"], r["principal_id"], r["account_id"], r["permission_set_name"]) for r in orphans] == [
        (None, built.users["carol"], DEV, "ReadOnly")]
    assert document["orphan_assignments"] == {"visible": True, "count": 1}
    text = run_cli(served.env, "access", backup_id)
    assert f"(deleted user {built.users['carol']})" in text.stdout


def test_summary_counts_users_and_flags_administrators_and_crowded_accounts(office, monkeypatch, capsys):
    served, _, backup_id = office
    proc = run_in_process(monkeypatch, capsys, served.env, "-o", "json", "access", backup_id, "--summary",
                          "--max-users", "2")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert schemas.problems("access", document) == []
    summary = document["summary"]
    assert {(t["account_id"], t["permission_set_name"]): t["users"]
            for t in summary["by_account_and_permission_set"]} == {(PROD, "Admin"): 2, (DEV, "ReadOnly"): 3}
    assert [(a["user_name"], a["account_id"]) for a in summary["flags"]["administrators"]] == [
        ("alice", PROD), ("bob", PROD)]
    assert summary["flags"]["crowded_accounts"] == [{"account_id": DEV, "account_name": None, "users": 3}]
    table = run_in_process(monkeypatch, capsys, served.env, "access", backup_id, "--summary", "--format", "csv")
    assert list(csv.DictReader(io.StringIO(table.stdout)))[0]["administrator_access"] in ("yes", "no")
    text = run_in_process(monkeypatch, capsys, served.env, "access", backup_id, "--summary")
    assert "administrator access" in text.stdout and "AdministratorAccess" in text.stdout


def test_access_diff_names_lost_access_with_its_reason_and_exits_3(office, monkeypatch, capsys):
    served, built, first = office
    env = served.env
    built.remove_membership("Ops", "bob")

    live = run_cli(env, "-o", "json", "access", "diff", first, "--exit-code")
    assert live.returncode == 3, live.stderr
    document = cli_json(live)
    assert schemas.problems("access-diff", document) == []
    lost = [(c["user_name"], c["account_id"], c["permission_set_name"], c["change"], c["reasons"])
            for c in document["changes"]]
    assert lost == [(user, account, ps, "lost", [{"kind": "membership_removed", "text": "bob removed from group Ops"}])
                    for user, account, ps in (("bob", PROD, "Admin"), ("bob", DEV, "ReadOnly"))]
    assert document["counts"] == {"gained": 0, "lost": 2, "changed": 0, "rerouted": 0, "users": 1}
    assert {c["account_name"] for c in document["changes"]} == {"production", "development"}  # the live side names them

    second = _backup(env)
    served.reset_counters()
    started = time.time()
    offline = run_cli(env, "access", "diff", first, second, "--exit-code")
    assert offline.returncode == 3, offline.stderr
    assert served.counters() == {} and served.calls_since(started).total == 0  # backup to backup: no API call
    assert "- lost Admin in 111111111111" in offline.stdout and "bob removed from group Ops" in offline.stdout

    same = run_in_process(monkeypatch, capsys, env, "access", "diff", second, "--exit-code", "--quiet")
    assert (same.returncode, same.stdout) == (0, ""), same.stderr
    rows = list(csv.DictReader(io.StringIO(
        run_in_process(monkeypatch, capsys, env, "access", "diff", first, second, "--format", "csv").stdout)))
    assert [(r["user_name"], r["change"], r["reasons"]) for r in rows] == [
        ("bob", "lost", "bob removed from group Ops")] * 2
    markdown = run_in_process(monkeypatch, capsys, env, "access", "diff", first, second, "--format", "markdown").stdout
    assert "| user | change | account |" in markdown and "| bob | lost |" in markdown
    back = run_in_process(monkeypatch, capsys, env, "-o", "json", "access", "diff", second, first)
    assert [c["change"] for c in json.loads(back.stdout)["changes"]] == ["gained", "gained"]


def test_access_diff_says_a_permission_set_policy_change(office, monkeypatch, capsys):
    served, built, first = office
    built.sso.put_inline_policy_to_permission_set(InstanceArn=built.arn, PermissionSetArn=built.sets["Admin"],
                                                  InlinePolicy=READ_POLICY)
    proc = run_in_process(monkeypatch, capsys, served.env, "-o", "json", "access", "diff", first)
    assert proc.returncode == 0, proc.stderr  # no --exit-code: 0 whatever changed
    changes = json.loads(proc.stdout)["changes"]
    assert {(c["user_name"], c["change"]) for c in changes} == {("alice", "changed"), ("bob", "changed")}
    assert changes[0]["reasons"] == [{"kind": "permission_set_changed",
                                      "text": "permission set Admin changed: inline policy added"}]
    bad = run_in_process(monkeypatch, capsys, served.env, "access", "diff", "bk-nope")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr

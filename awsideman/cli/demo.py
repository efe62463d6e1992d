"""`awsideman demo`: the whole story on the embedded sandbox, each step a real command.

A seeded emulator is served on 127.0.0.1 (as `sandbox up` does); every awsideman step is the
real command, run in this process with the environment a person would export, and printed
first so it can be repeated by hand. The instance is broken through the emulator's AWS API,
shown as the equivalent `aws` CLI commands.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, renderer
from awsideman.core.exceptions import AwsidemanError
from awsideman.render import Renderer

FAULT = {"operation": "CreateAccountAssignment", "async_fail_after": 0,
         "failure_reason": "The account's IAM role quota is reached (a failure injected by the demo)."}


def demo(
    ctx: typer.Context,
    home: Annotated[str | None, typer.Option(
        "--home", help="AWSIDEMAN_HOME for the demo (default: a new temporary folder).", show_default=False)] = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Back up, break, restore with a failure and automatic rollback, restore again: no AWS account."""
    from awsideman.sandbox.server import SandboxServer

    render = renderer(ctx, output, quiet, no_color)
    folder = Path(home).expanduser() if home else Path(tempfile.mkdtemp(prefix="awsideman-demo-"))
    story = Story(render, folder)
    with SandboxServer(port=0) as server, _environment(server.env(), folder):
        story.run(server)
    if render.json:
        render.document({"status": "succeeded" if story.ok else "failed", "home": str(folder), "steps": story.steps})
    if not story.ok:
        raise typer.Exit(1)


@contextlib.contextmanager
def _environment(sandbox: dict[str, str], home: Path) -> Iterator[None]:
    """The environment `sandbox up` tells a person to export, for the duration of the demo."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(sandbox, AWSIDEMAN_HOME=str(home))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Story:
    """The demo's steps: say what and why, show the command, run it, check its exit code."""

    def __init__(self, render: Renderer, home: Path) -> None:
        self.render = render
        self.home = home
        self.steps: list[dict[str, Any]] = []
        self.ok = True

    def say(self, text: str) -> None:
        if not self.render.json:
            self.render.line("")
            self.render.line(text, style="bold cyan")

    def show(self, command: str) -> None:
        if not self.render.json:
            self.render.line(f"$ {command}", style="bold")

    def awsideman(self, why: str, args: list[str], expect: int) -> Any:
        """Run one real awsideman command in this process and check its exit code."""
        from awsideman.cli.app import main

        self.say(why)
        self.show("awsideman " + shlex.join(args))
        captured = io.StringIO()
        json_mode = self.render.json
        with contextlib.redirect_stdout(captured) if json_mode else contextlib.nullcontext():
            try:
                main(["-o", "json", *args] if json_mode else args)
                code = 0
            except SystemExit as done:
                code = int(done.code or 0)
        document = json.loads(captured.getvalue()) if json_mode and captured.getvalue().strip() else None
        self.steps.append({"step": why, "command": "awsideman " + shlex.join(args), "exit_code": code,
                           "expected_exit_code": expect, "result": document})
        if code != expect:
            self.ok = False
            raise AwsidemanError(f"demo step failed: `awsideman {' '.join(args)}` exited {code}, expected {expect}")
        return document

    def run(self, server: Any) -> None:
        try:
            self._run(server)
        except AwsidemanError as exc:
            self.ok = False
            self.render.error(exc.message)

    def _run(self, server: Any) -> None:
        from awsideman.cli.sandbox import _seed

        self.say("1. A local IAM Identity Center emulator starts, seeded with a tiny organisation "
                 "(no AWS account is used).")
        self.show("awsideman sandbox up --port 4566 --seed tiny   # in another shell; run the export lines it prints")
        counts = _seed(server, "tiny", 0)
        if not self.render.json:
            self.render.line(f"  endpoint {server.endpoint_url}: " + ", ".join(f"{n} {k}" for k, n in counts.items())
                             + f"; AWSIDEMAN_HOME={self.home}")
        self.steps.append({"step": "seed", "endpoint_url": server.endpoint_url, "counts": counts})
        backup = self.awsideman("2. Take a backup of the whole instance: users, groups, memberships, permission "
                                "sets with their policies, and account assignments.",
                                ["backup", "create", "--description", "before the incident"], expect=0)
        backup_id = (backup or {}).get("backup_id") or _newest_backup(self.home)
        self.say("3. Something goes wrong: a group is deleted, a permission set's inline policy is replaced, "
                 "and account assignments are removed.")
        for command in _break(server.endpoint_url):
            self.show(command)
        self.say("4. The next restore will meet a permanent failure: the emulator is told to fail every new "
                 "account assignment, as AWS does when an account's IAM role quota is full.")
        faults = self.home / "demo-faults.yaml"
        faults.write_text(json.dumps({"rules": [FAULT]}, indent=2) + "\n", encoding="utf-8")
        self.show(f"awsideman sandbox faults {faults} --endpoint {server.endpoint_url}")
        server.set_faults({"rules": [FAULT]})
        self.awsideman("5. Restore the backup. It fails for good, so awsideman undoes everything it had "
                       "applied, in reverse order, and exits 4 (rolled back).",
                       ["restore", backup_id, "--yes"], expect=4)
        self.awsideman("6. The report says what failed, its category, what to do about it, and the next command.",
                       ["report", "show", "last"], expect=0)
        self.say("7. The cause is fixed (the injected failure is removed).")
        self.show(f"awsideman sandbox reset --endpoint {server.endpoint_url} --clear-faults   "
                  "# in the demo only the fault rules are cleared, the data stays broken")
        server.set_faults(None)
        self.awsideman("8. Restore again: this time every change applies and the instance is whole.",
                       ["restore", backup_id, "--yes"], expect=0)
        self.awsideman("9. The report of the clean restore: what changed, and nothing left to do.",
                       ["report", "show", "last"], expect=0)
        self.awsideman("10. Proof: a dry run finds nothing left to change.",
                       ["restore", backup_id, "--dry-run"], expect=0)
        self.say(f"Done. Everything above ran against the emulator; the journal, logs and backup are in {self.home}.")


def _newest_backup(home: Path) -> str:
    found = sorted(p.name for p in (home / "backups").glob("bk-*"))
    if not found:
        raise AwsidemanError("demo step failed: the backup is not in the store")
    return found[-1]


def _break(endpoint: str) -> list[str]:
    """Break the seeded instance through its AWS API; return the equivalent `aws` commands."""
    from awsideman.sandbox.server import sandbox_session

    session = sandbox_session()
    sso = session.client("sso-admin", endpoint_url=endpoint)
    ids = session.client("identitystore", endpoint_url=endpoint)
    instance = sso.list_instances()["Instances"][0]
    arn, store = instance["InstanceArn"], instance["IdentityStoreId"]
    shown = []
    group = sorted(ids.list_groups(IdentityStoreId=store)["Groups"], key=lambda g: g["DisplayName"])[0]
    ids.delete_group(IdentityStoreId=store, GroupId=group["GroupId"])
    shown.append(f"aws identitystore delete-group --identity-store-id {store} --group-id {group['GroupId']}"
                 f"   # {group['DisplayName']}")
    sets = sorted(sso.list_permission_sets(InstanceArn=arn)["PermissionSets"])
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    sso.put_inline_policy_to_permission_set(InstanceArn=arn, PermissionSetArn=sets[0], InlinePolicy=policy)
    shown.append(f"aws sso-admin put-inline-policy-to-permission-set --instance-arn {arn} "
                 f"--permission-set-arn {sets[0]} --inline-policy '{policy}'")
    for permission_set in sets[1:2]:
        for account in sso.list_accounts_for_provisioned_permission_set(
                InstanceArn=arn, PermissionSetArn=permission_set)["AccountIds"]:
            for item in sso.list_account_assignments(InstanceArn=arn, AccountId=account,
                                                     PermissionSetArn=permission_set)["AccountAssignments"]:
                sso.delete_account_assignment(InstanceArn=arn, TargetId=account, TargetType="AWS_ACCOUNT",
                                              PermissionSetArn=permission_set, PrincipalType=item["PrincipalType"],
                                              PrincipalId=item["PrincipalId"])
                shown.append(f"aws sso-admin delete-account-assignment --instance-arn {arn} --target-id {account} "
                             f"--target-type AWS_ACCOUNT --permission-set-arn {permission_set} "
                             f"--principal-type {item['PrincipalType']} --principal-id {item['PrincipalId']}")
    return shown

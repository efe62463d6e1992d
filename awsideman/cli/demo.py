"""`awsideman demo`: the whole story on the embedded sandbox, each step a real command.

A seeded emulator is served on 127.0.0.1 (as `sandbox up --seed tiny` does). Every later step,
breaking the instance and injecting the failure included, is an awsideman command: its words are
printed and then run as they are, by this interpreter in a child process, with the environment a
person would export (the sandbox's endpoint and dummy credentials, the demo's AWSIDEMAN_HOME), so
what is shown cannot drift from what ran. Typed by hand in order against `sandbox up` with the
demo's AWSIDEMAN_HOME (for its backup), they do the same.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, renderer
from awsideman.core.exceptions import AwsidemanError
from awsideman.render import Renderer

FAULT = {"operation": "CreateAccountAssignment", "async_fail_after": 0,
         "failure_reason": "The account's IAM role quota is reached (a failure injected by the demo)."}
FAULT_FILE = "demo-faults.json"
SEED_SIZE = "tiny"
# What step 1 tells a person to run; the demo's own emulator is seeded alike (seed value 0).
SANDBOX_UP = ["sandbox", "up", "--port", "4566", "--seed", SEED_SIZE]


def demo(
    ctx: typer.Context,
    home: Annotated[str | None, typer.Option(
        "--home", help="AWSIDEMAN_HOME for the demo (default: a new temporary folder).", show_default=False)] = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Back up, break, restore with a failure and automatic rollback, restore again: no AWS account."""
    from awsideman.sandbox.api import SandboxServer

    render = renderer(ctx, output, quiet, no_color)
    folder = Path(home).expanduser() if home else Path(tempfile.mkdtemp(prefix="awsideman-demo-"))
    with SandboxServer(port=0) as server:
        story = Story(render, folder, _environment(server.env(), folder))
        story.run(server)
    if render.json:
        render.document({"status": "succeeded" if story.ok else "failed", "home": str(folder), "steps": story.steps})
    if not story.ok:
        raise typer.Exit(1)


def _environment(sandbox: dict[str, str], home: Path) -> dict[str, str]:
    """The environment of a shell where a person exported what `sandbox up` prints and the
    demo's AWSIDEMAN_HOME: none of the caller's own AWS settings reach the emulator."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return dict(env, **sandbox, AWSIDEMAN_HOME=str(home))


class Story:
    """The demo's steps: say what and why, show the command, run it, check its exit code."""

    def __init__(self, render: Renderer, home: Path, env: dict[str, str]) -> None:
        self.render = render
        self.home = home
        self.env = env
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
        """Show one real awsideman command, run those very words, check its exit code."""
        command = "awsideman " + shlex.join(args)
        self.say(why)
        self.show(command)
        json_mode = self.render.json
        code, printed = _run_awsideman(["-o", "json", *args] if json_mode else args, self.env, capture=json_mode)
        document = json.loads(printed) if json_mode and printed.strip() else None
        self.steps.append({"step": why, "command": command, "exit_code": code,
                           "expected_exit_code": expect, "result": document})
        if code != expect:
            self.ok = False
            raise AwsidemanError(f"demo step failed: `{command}` exited {code}, expected {expect}")
        return document

    def run(self, server: Any) -> None:
        try:
            self._run(server)
        except AwsidemanError as exc:
            self.ok = False
            self.render.error(exc.message)

    def _run(self, server: Any) -> None:
        self._start(server)
        backup = self.awsideman("2. Take a backup of the whole instance: users, groups, memberships, permission "
                                "sets with their policies, and account assignments.",
                                ["backup", "create", "--description", "before the incident"], expect=0)
        backup_id = (backup or {}).get("backup_id") or _newest_backup(self.home)
        self.awsideman("3. Something goes wrong: a group is deleted, a permission set's inline policy is replaced, "
                       "and account assignments are removed (each change is shown with its aws command).",
                       ["sandbox", "incident"], expect=0)
        self.awsideman("4. The next restore will meet a permanent failure: the emulator is told to fail every new "
                       "account assignment, as AWS does when an account's IAM role quota is full.",
                       ["sandbox", "faults", str(self._fault_file())], expect=0)
        self.awsideman("5. Restore the backup. It fails for good, so awsideman undoes everything it had "
                       "applied, in reverse order, and exits 4 (rolled back).",
                       ["restore", backup_id, "--yes"], expect=4)
        self.awsideman("6. The report says what failed, its category, what to do about it, and the next command.",
                       ["report", "show", "last"], expect=0)
        self.awsideman("7. The cause is fixed: the injected failure is removed. Only the fault rules go; the "
                       "instance is still as the incident left it.",
                       ["sandbox", "faults", "--clear"], expect=0)
        self.awsideman("8. Restore again: this time every change applies and the instance is whole.",
                       ["restore", backup_id, "--yes"], expect=0)
        self.awsideman("9. The report of the clean restore: what changed, and nothing left to do.",
                       ["report", "show", "last"], expect=0)
        self.awsideman("10. Proof: a dry run finds nothing left to change.",
                       ["restore", backup_id, "--dry-run"], expect=0)
        self.say(f"Done. Everything above ran against the demo's own emulator, which stops now; the journal, "
                 f"logs and backup stay in {self.home}.")
        self.say("To start over by hand, stop `sandbox up` (Ctrl-C) and start it again. `awsideman sandbox reset` "
                 "empties it instead (no seed data, and a new instance that earlier operations cannot resume or "
                 "roll back), so it comes last if at all.")

    def _start(self, server: Any) -> None:
        """Step 1: what `sandbox up` does, seeded alike, and the environment to repeat the rest by hand."""
        from awsideman.sandbox.api import seed_server

        why = ("1. A local IAM Identity Center emulator starts, seeded with a tiny organisation "
               "(no AWS account is used).")
        command = "awsideman " + shlex.join(SANDBOX_UP)
        export = f"export AWSIDEMAN_HOME={shlex.quote(str(self.home))}"
        self.say(why)
        self.show(f"{command}   # to repeat by hand: run it in another shell, and here the export lines it prints")
        self.show(f"{export}   # the demo's folder: the backup and fault file below are there")
        counts = seed_server(server, SEED_SIZE, 0)
        if not self.render.json:
            self.render.line(f"  endpoint {server.endpoint_url}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        self.steps.append({"step": why, "command": command, "setup": True,
                           "environment": {"AWSIDEMAN_HOME": str(self.home)},
                           "endpoint_url": server.endpoint_url, "counts": counts})

    def _fault_file(self) -> Path:
        """The rule file `sandbox faults` reads, kept in the demo's folder for the by-hand run."""
        from awsideman.core.files import make_private_dirs

        make_private_dirs(self.home)
        path = self.home / FAULT_FILE
        path.write_text(json.dumps({"rules": [FAULT]}, indent=2) + "\n", encoding="utf-8")
        return path


def _run_awsideman(args: list[str], env: dict[str, str], *, capture: bool) -> tuple[int, str]:
    """Exit code and (with ``capture``) stdout of ``awsideman ARGS`` run by this interpreter, so
    the demo runs the code it is part of, whatever `awsideman` is first on the PATH."""
    with subprocess.Popen([sys.executable, "-m", "awsideman", *args], env=env,
                          stdout=subprocess.PIPE if capture else None, text=True) as child:
        try:
            printed, _ = child.communicate()
        except BaseException:
            child.wait()  # Ctrl-C reached the child too: let it stop cleanly (never kill -9 a restore)
            raise
    return child.returncode, printed or ""


def _newest_backup(home: Path) -> str:
    found = sorted(p.name for p in (home / "backups").glob("bk-*"))
    if not found:
        raise AwsidemanError("demo step failed: the backup is not in the store")
    return found[-1]

"""`awsideman sandbox`: run the local emulator and steer a running one (reset, faults, incident, counters)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from awsideman.cli import sandbox_principal
from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, renderer
from awsideman.core.exceptions import AwsidemanError, UsageError

app = typer.Typer(help="Local Identity Center emulator for rehearsals and tests.",
                  no_args_is_help=True, rich_markup_mode=None)
app.add_typer(sandbox_principal.app, name="principal")

DEFAULT_PORT = 4566
EndpointOpt = Annotated[str, typer.Option("--endpoint", envvar="AWS_ENDPOINT_URL",
                                          help="URL of a running sandbox (default: $AWS_ENDPOINT_URL).")]
SeedValueOpt = Annotated[int, typer.Option("--seed-value", help="Random seed of the seed data.")]
FaultsOpt = Annotated[str | None, typer.Option("--faults", help="Fault rule file (YAML or JSON).", show_default=False)]


@app.command()
def up(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")] = DEFAULT_PORT,
    seed: Annotated[str | None, typer.Option("--seed", help="Seed data of this size (tiny, small, large, huge).",
                                             show_default=False)] = None,
    seed_value: SeedValueOpt = 0,
    faults: FaultsOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every request on stderr.")] = False,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Run the emulator in the foreground until Ctrl-C or SIGTERM; print how to use it."""
    from awsideman.sandbox.api import SandboxServer, seed_server

    render = renderer(ctx, output, quiet, no_color)
    rules = _checked_options(seed, faults)
    server = SandboxServer(port=port, verbose=verbose)
    try:
        server.start()
    except OSError as exc:
        raise UsageError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                         "choose another port or --port 0 for any free one") from None
    try:
        counts = seed_server(server, seed, seed_value) if seed else {}
        server.set_faults(rules)
        _announce(render, server, seed, counts, faults)
        _wait_for_stop()
    finally:
        server.stop()
    render.status("Sandbox stopped.")


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    command: Annotated[list[str], typer.Argument(help="The command to run against the sandbox (after --).")],
    seed: Annotated[str, typer.Option("--seed", help="Seed data of this size (tiny, small, large, huge).")] = "small",
    seed_value: SeedValueOpt = 0,
    faults: FaultsOpt = None,
    home: Annotated[str | None, typer.Option(
        "--home", help="AWSIDEMAN_HOME for the command (default: $AWSIDEMAN_HOME/sandbox-home).",
        show_default=False)] = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Start a seeded emulator, run COMMAND with its environment, stop; exit with COMMAND's code.

    Example: awsideman sandbox run --seed small -- awsideman backup create
    """
    import os
    import subprocess
    from pathlib import Path

    from awsideman.config import default_home
    from awsideman.core.files import make_private_dirs
    from awsideman.sandbox.api import SandboxServer, seed_server

    render = renderer(ctx, output, quiet, no_color)
    rules = _checked_options(seed, faults)
    folder = Path(home).expanduser() if home else default_home() / "sandbox-home"
    make_private_dirs(folder)
    with SandboxServer(port=0) as server:
        counts = seed_server(server, seed, seed_value)
        server.set_faults(rules)
        render.status(f"Sandbox at {server.endpoint_url} seeded {seed} "
                        f"({', '.join(f'{n} {k}' for k, n in counts.items())}); AWSIDEMAN_HOME={folder}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(server.env(), AWSIDEMAN_HOME=str(folder))
        try:
            code = subprocess.call(command, env=env)
        except OSError as exc:
            raise UsageError(f"cannot run {command[0]!r}: {exc.strerror}") from None
    raise typer.Exit(code)


def _checked_options(seed: str | None, faults: str | None) -> Any:
    """The fault rules to start with; a bad size or rule file is a usage error (exit 2)."""
    from awsideman.sandbox.api import SIZES, FaultRules, FaultRulesError

    if seed is not None and seed not in SIZES:
        raise UsageError(f"--seed: unknown size {seed!r}; choose one of {', '.join(SIZES)}")
    try:
        return FaultRules.from_file(faults) if faults else FaultRules()
    except FaultRulesError as exc:
        raise UsageError(f"--faults: {exc}") from None


def _announce(render: Any, server: Any, size: str | None, counts: dict[str, int], faults: str | None) -> None:
    env = server.env()
    if render.json:
        render.document({"endpoint_url": server.endpoint_url, "env": env, "seed": size,
                         "counts": counts, "faults": faults})
        return
    for key, value in env.items():
        render.raw(f"export {key}={value}")
    render.raw("unset AWS_PROFILE AWS_DEFAULT_PROFILE")
    seeded = f"seeded {size} ({', '.join(f'{n} {k}' for k, n in counts.items())})" if size else "empty"
    rules = f", faults from {faults}" if faults else ""
    render.raw(f"# awsideman sandbox at {server.endpoint_url}: {seeded}{rules}. Ctrl-C or SIGTERM stops it.")


def _wait_for_stop() -> None:
    """Block until SIGINT or SIGTERM; both mean a clean stop (exit 0)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@app.command()
def reset(
    ctx: typer.Context,
    endpoint: EndpointOpt,
    clear_faults: Annotated[bool, typer.Option("--clear-faults", help="Also remove the fault rules.")] = False,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Empty a running sandbox: all data, the instance itself (the next call makes a new, empty one)
    and the call counters. To remove only the fault rules, keeping the data: sandbox faults --clear."""
    render = renderer(ctx, output, quiet, no_color)
    _client(endpoint, lambda c: c.reset(faults=clear_faults))
    if render.json:
        render.document({"endpoint_url": endpoint, "status": "reset", "faults_cleared": clear_faults})
    else:
        render.line(f"Sandbox at {endpoint} reset{' (fault rules cleared)' if clear_faults else ''}.")


@app.command("faults")
def set_faults(
    ctx: typer.Context,
    endpoint: EndpointOpt,
    file: Annotated[str | None, typer.Argument(metavar="FILE", help="Fault rule file (YAML or JSON).",
                                               show_default=False)] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every fault rule; the data stays as it is.")] = False,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Replace the fault rules of a running sandbox (takes effect on the next call), or --clear them."""
    from awsideman.sandbox.api import FaultRules, FaultRulesError

    render = renderer(ctx, output, quiet, no_color)
    if (file is None) == (not clear):
        raise UsageError("Name a fault rule file, or --clear to remove the rules (not both)")
    try:
        rules = FaultRules() if clear else FaultRules.from_file(str(file))
    except FaultRulesError as exc:
        raise UsageError(str(exc)) from None
    applied = _client(endpoint, lambda c: c.set_faults(rules))
    if render.json:
        render.document({"endpoint_url": endpoint, "faults": applied})
    elif clear:
        render.line(f"Fault rules cleared at {endpoint}; its data is unchanged.")
    else:
        limit = rules.async_max_outstanding
        cap = f"at most {limit} outstanding" if limit else "no outstanding limit"
        render.line(f"Fault rules from {file} active at {endpoint} ({len(rules.rules)} rules, "
                    f"quotas {'on' if rules.quotas else 'off'}, seed {rules.seed}, async requests "
                    f"{rules.async_seconds:g} s, {cap}).")


@app.command()
def incident(
    ctx: typer.Context,
    endpoint: EndpointOpt,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Break a running sandbox as an incident would: delete its first group, replace the inline policy
    of its first permission set that has one, remove every account assignment of another (by name)."""
    from awsideman.sandbox.api import NothingToBreakError, break_instance

    render = renderer(ctx, output, quiet, no_color)
    _client(endpoint, lambda c: c.faults())  # a sandbox answers there: never break anything else
    try:
        damage = break_instance(endpoint)
    except NothingToBreakError as exc:
        raise AwsidemanError(f"Nothing to break at {endpoint}: {exc}",
                             remediation=["Start a seeded one: awsideman sandbox up --seed tiny"]) from None
    if render.json:
        render.document({"endpoint_url": endpoint, "changes": [d.to_dict() for d in damage]})
        return
    render.line(f"Incident at {endpoint}: {len(damage)} change(s), each with the aws command that makes it:")
    for item in damage:
        render.line(f"  {item.what}")
        render.line(f"    {item.aws_command}")


@app.command()
def counters(
    ctx: typer.Context,
    endpoint: EndpointOpt,
    since: Annotated[float | None, typer.Option(
        "--since", help="Only calls that started at or after this instant (epoch seconds).",
        show_default=False)] = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Show the calls a running sandbox has seen, and the faults it injected, per operation."""
    render = renderer(ctx, output, quiet, no_color)
    if since is not None:
        _calls_since(render, endpoint, since)
        return
    calls, injected = _client(endpoint, lambda c: (c.counters(), c.fault_counters()))
    if render.json:
        render.document({"endpoint_url": endpoint, "calls": calls, "faults": injected})
        return
    rows = []
    for key in sorted(calls):
        kinds = {k.rsplit(":", 1)[1]: n for k, n in injected.items() if k.rsplit(":", 1)[0] == key}
        rows.append((key, calls[key], ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "-"))
    render.table(f"Calls at {endpoint}", ("operation", "calls", "faults injected"), rows)


def _calls_since(render: Any, endpoint: str, since: float) -> None:
    found = _client(endpoint, lambda c: c.calls_since(since))
    if render.json:
        render.document({"endpoint_url": endpoint, **found.to_dict()})
        return
    rows = [(key, n) for key, n in sorted(found.calls.items())]
    render.table(f"Calls started at or after {since} at {endpoint}", ("operation", "calls"), rows)
    if not found.complete:
        render.line("Incomplete: the sandbox's call log dropped older entries that may be after --since.")


def _client(endpoint: str, action: Any) -> Any:
    from awsideman.sandbox.api import FaultRulesError, SandboxClient, SandboxUnavailableError

    try:
        return action(SandboxClient(endpoint))
    except FaultRulesError as exc:
        raise UsageError(str(exc)) from None
    except SandboxUnavailableError as exc:
        raise AwsidemanError(str(exc), remediation=["Start one with `awsideman sandbox up --port 0`, "
                                                     "then pass its URL with --endpoint."]) from None

"""`awsideman doctor`: credentials, region, instance, permissions, store, state and clock, checked."""

from __future__ import annotations

from typing import Annotated

import typer

from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, renderer
from awsideman.core.cancel import process_stop
from awsideman.core.command_scopes import FOR

STYLE = {"pass": "green", "fail": "bold red", "skipped": "yellow"}


def doctor(
    ctx: typer.Context,
    for_: Annotated[str, typer.Option("--for", help=f"The command(s) to check for: {', '.join(FOR)}.")] = "all",
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Check that this setup can run its commands (exit 0 only when nothing blocks); changes nothing."""
    from awsideman.services.context import Context
    from awsideman.services.doctor import diagnose

    render = renderer(ctx, output, quiet, no_color)
    context = Context(ctx.find_root().obj.settings(), progress=render.progress, display=render, stop=process_stop())
    ctx.call_on_close(context.close)
    report = diagnose(context, for_=for_)
    if render.json:
        render.document(report.to_dict())
    else:
        render.table("awsideman doctor", ["check", "status", "detail", "fix"],
                     [[c.name, c.status, c.detail, " ".join(c.fix)] for c in report.checks])
        render.line("Nothing blocks." if report.ok else "Something blocks: see the fix of each failed check.",
                    style="bold green" if report.ok else "bold red")
    if not report.ok:
        raise typer.Exit(1)

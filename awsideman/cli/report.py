"""`awsideman report list`: the operations in the journal."""

from __future__ import annotations

from typing import Annotated

import typer

from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, renderer
from awsideman.core.exceptions import UsageError
from awsideman.journal import Journal

app = typer.Typer(help="What operations ran and how they ended.", no_args_is_help=True)

_FIELDS = ("operation_id", "kind", "status", "started_at", "finished_at", "backup_id")


@app.command("list")
def list_operations(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="How many operations, newest first.")] = 20,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Operations newest first; a killed one shows as interrupted."""
    render = renderer(ctx, output, quiet, no_color)
    if limit < 1:
        raise UsageError(f"--limit must be at least 1, not {limit}")
    settings = ctx.find_root().obj.settings()
    with Journal.open(settings.journal_path) as journal:
        rows = [{k: op.to_dict()[k] for k in _FIELDS} for op in journal.list_operations(limit=limit)]
    if render.json:
        render.document(rows)
        return
    if not rows:
        render.line(f"No operations recorded in {settings.journal_path}")
        return
    render.table("Operations", ["operation", "kind", "status", "started", "finished", "backup"],
                 [[r[k] or "" for k in _FIELDS] for r in rows])

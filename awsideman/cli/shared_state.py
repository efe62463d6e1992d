"""`awsideman state init|migrate`: the shared state table (thin: services.state_admin does the work)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, renderer

app = typer.Typer(help="The shared state backend (state: dynamodb://TABLE): create it, copy a local journal in.",
                  no_args_is_help=True, rich_markup_mode=None)


@app.command("init")
def init(ctx: typer.Context, output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False) -> None:
    """Create the state table (on-demand capacity), or check that an existing one is awsideman's."""
    from awsideman.services.state_admin import init_state

    render = renderer(ctx, output, quiet, no_color)
    result = init_state(ctx.find_root().obj.settings())
    if render.json:
        render.document(result.to_dict())
        return
    verb = "Created" if result.created else "Checked"
    render.line(f"{verb} the state table {result.table}; large values go to {result.s3}.", style="bold green")
    for note in result.notes:
        render.line(note)


@app.command("migrate")
def migrate(
    ctx: typer.Context,
    source: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--from", help="The local journal to copy (a state.db or the folder holding it); default: this home's.",
        show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be copied; write nothing.")] = False,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Copy a local journal's operations into the shared table (those already there are skipped)."""
    from awsideman.services.state_admin import migrate_state

    render = renderer(ctx, output, quiet, no_color)
    result = migrate_state(ctx.find_root().obj.settings(), source=source, dry_run=dry_run)
    if render.json:
        render.document(result.to_dict())
        return
    verb = "Would copy" if dry_run else "Copied"
    render.line(f"{verb} {len(result.copied)} operation(s) from {result.source} to dynamodb://{result.table}"
                f"{'' if dry_run else f' ({result.items} items)'}; {len(result.skipped)} already there.",
                style="bold green")
    for op_id in result.copied:
        render.line(f"  {op_id}")

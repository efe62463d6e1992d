"""`awsideman rollback OP_ID`: revert a restore from its journal (thin: the service does the work)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from awsideman.cli.options import (
    LockTimeoutOpt,
    NoColorOpt,
    OutputOpt,
    PreflightOpt,
    QuietOpt,
    YesOpt,
    errors_and_leftover,
    live_change,
    live_change_outcome,
    preflight_lines,
    renderer,
)
from awsideman.render import Renderer

if TYPE_CHECKING:
    from awsideman.services.rollback import RollbackResult


def rollback(
    ctx: typer.Context,
    operation_id: Annotated[str, typer.Argument(help="The restore's operation id (op-YYYYMMDDTHHMMSSZ-xxxxxx).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be reverted; change nothing.")] = False,
    lock_timeout: LockTimeoutOpt = 0.0,
    yes: YesOpt = False,
    preflight: PreflightOpt = "auto",
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Revert what a restore applied (also after it was killed), in reverse order."""
    from awsideman.services.rollback import RollbackService

    render = renderer(ctx, output, quiet, no_color)

    def show(inverses: list[Any]) -> None:
        render.line(f"Changes to revert ({len(inverses)}):", style="bold")
        for change in inverses:
            render.line(f"  {change.action} {change.address}")

    with live_change(ctx, render, yes=yes, dry_run=dry_run, lock_timeout=lock_timeout, refusal="Refusing to roll back",
                     hint=f"See what it would do: awsideman rollback {operation_id} --dry-run", show=show,
                     question=lambda inverses: f"Revert these {len(inverses)} change(s)?") as (context, confirm):
        result = RollbackService(context).run(operation_id, dry_run=dry_run, lock_timeout=lock_timeout,
                                              confirm=confirm, preflight=preflight)
    live_change_outcome(render, context, result, lambda: _text(render, result))
    if result.status not in ("succeeded", "planned"):
        raise typer.Exit(5)


def _text(render: Renderer, result: RollbackResult) -> None:
    if result.dry_run:
        render.line(f"Rollback of {result.restore_operation_id} would revert {len(result.planned)} change(s):",
                    style="bold")
        for item in result.planned:
            render.line(f"  {item['action']} {item['address']}")
        preflight_lines(render, result.preflight)
        return
    if not result.planned:  # nothing was to be reverted
        render.line(next((n for n in result.notes if n.startswith("Nothing to roll back")),
                         f"Nothing to roll back: {result.restore_operation_id} has no change in effect."),
                    style="bold green")
        return
    style = "bold green" if result.status == "succeeded" else "bold red"
    headline = "Rolled back" if result.status == "succeeded" else "Rollback did NOT complete"
    render.line(f"{headline}: {result.restore_operation_id}", style=style)
    render.fields(None, {"operation": result.operation_id or "(none)", "compensated": result.counts["compensated"],
                         "failed": result.counts["failed"], "left over": result.counts["leftover"],
                         "api calls": result.api_calls,
                         "seconds": result.duration_seconds})
    errors_and_leftover(render, result.errors, result.leftover)
    for note in result.notes:
        render.warn(note)

"""`awsideman access diff A [B]`: access gained and lost between two backups, or since a backup."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from awsideman.cli.access_output import FormatOpt, access_context, format_renderer, md, source_text
from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, StoreOpt
from awsideman.core.access_diff import AccessChange
from awsideman.render import Renderer

if TYPE_CHECKING:
    from awsideman.services.access import AccessDiffResult


DIFFERENT = 3  # --exit-code: as `awsideman diff --exit-code`
CSV_COLUMNS = ("user_name", "change", "account_id", "account_name", "permission_set_name", "paths_before",
               "paths_after", "reasons")
SIGN = {"gained": "+", "lost": "-", "changed": "~", "rerouted": "="}


def access_diff(
    ctx: typer.Context,
    first: Annotated[str, typer.Argument(help="The backup to compare from.")],
    second: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        help="A second backup to compare with (default: the live instance).")] = None,
    store: StoreOpt = None,
    exit_code: Annotated[bool, typer.Option(
        "--exit-code", help="Exit 0 when no access changed and 3 when any did (for cron alerts); with "
        "--quiet print nothing.")] = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Access gained and lost per user between two points, with the reason (membership,
    assignment, user, group or permission set added or removed, permission set policy changed)."""
    render, chosen = format_renderer(ctx, fmt, output, quiet, no_color)
    from awsideman.services.access import AccessService

    result = AccessService(access_context(ctx, render)).diff(first, second, store)
    if exit_code and render.quiet and chosen == "table":
        pass  # `access diff A --exit-code --quiet || alert`: the exit code is the answer
    elif chosen == "json":
        render.document(result.to_dict())
    elif chosen == "jsonl":
        render.json_lines(change.to_dict() for change in result.changes)
    elif chosen == "csv":
        render.csv(CSV_COLUMNS, (_cells(change) for change in result.changes))
    elif chosen == "markdown":
        _markdown(render, result)
    else:
        _text(render, result)
    if chosen != "json":
        for note in result.notes:
            render.warn(note)
    if exit_code and not result.equal:
        raise typer.Exit(DIFFERENT)


def _cells(change: AccessChange) -> list[Any]:
    return [change.user_name, change.change, change.account_id, change.account_name, change.permission_set_name,
            ";".join(change.paths_before), ";".join(change.paths_after), "; ".join(r.text for r in change.reasons)]


def _target(change: AccessChange) -> str:
    account = f"{change.account_id} ({change.account_name})" if change.account_name else change.account_id
    return f"{change.permission_set_name} in {account}"


def _headline(result: AccessDiffResult) -> str:
    return f"Access diff: {source_text(result.before.source)} -> {source_text(result.after.source)}"


def _totals(result: AccessDiffResult) -> str:
    counts = result.to_dict()["counts"]
    return (f"{len(result.changes)} change(s) for {counts['users']} user(s): gained {counts['gained']}, "
            f"lost {counts['lost']}, changed {counts['changed']}, rerouted {counts['rerouted']}")


def _text(render: Renderer, result: AccessDiffResult) -> None:
    render.line(_headline(result), style="bold")
    if result.equal:
        render.line("No access changed.", style="bold green")
        return
    user = None
    for change in result.changes:
        if change.user_name != user:
            user = change.user_name
            render.line(user, style="bold")
        render.line(f"  {SIGN[change.change]} {change.change} {_target(change)}",
                    style="red" if change.change in ("gained", "changed") else None)
        for reason in change.reasons:
            render.line(f"      {reason.text}")
    render.line(_totals(result))


def _markdown(render: Renderer, result: AccessDiffResult) -> None:
    render.stream([f"# {md(_headline(result))}", "", "No access changed." if result.equal else md(_totals(result))])
    if not result.equal:
        render.stream([""])
        render.markdown_table(MARKDOWN_COLUMNS, (_markdown_cells(change) for change in result.changes))
    render.stream(line for note in result.notes for line in ("", f"> {md(note)}"))


MARKDOWN_COLUMNS = ("user", "change", "account", "permission set", "paths before", "paths after", "reasons")


def _markdown_cells(change: AccessChange) -> list[Any]:
    account = f"{change.account_id} ({change.account_name})" if change.account_name else change.account_id
    return [change.user_name, change.change, account, change.permission_set_name, ", ".join(change.paths_before),
            ", ".join(change.paths_after), "; ".join(r.text for r in change.reasons)]

"""`awsideman access show [BACKUP_ID | --live]` and `awsideman access diff A [B]`: who could reach what.

`access` is a group whose default command is `show`: a first word that names no other command
of the group (a backup id, `--live`) is taken as the start of `show`'s arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from awsideman.cli.access_diff import access_diff
from awsideman.cli.access_output import FormatOpt, access_context, format_renderer, md, title
from awsideman.cli.access_summary import render_summary
from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, StoreOpt
from awsideman.core.access import COLUMNS, DEFAULT_MAX_USERS, AccessRow, summarise
from awsideman.core.exceptions import UsageError
from awsideman.render import Renderer


class _DefaultShow(TyperGroup):
    """A group that runs `show` unless its first word names another command (or asks for help)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["show", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_DefaultShow, help="Effective access (who can reach which account with which permission "
                  "set, and how) from a backup or the live instance: `access BACKUP_ID` (or `--live`) runs "
                  "`access show`; `access diff A [B]` says what changed.",
                  no_args_is_help=False, add_completion=False, rich_markup_mode=None)


@app.command("show")
def show(
    ctx: typer.Context,
    backup_id: Annotated[Optional[str], typer.Argument(help="The backup to read (or --live).")] = None,  # noqa: UP045
    live: Annotated[bool, typer.Option("--live", help="Read the live instance instead of a backup.")] = False,
    store: StoreOpt = None,
    user: Annotated[Optional[str], typer.Option("--user", help="Only this user (user name).")] = None,  # noqa: UP045
    group: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--group", help="Only access granted via this group (display name).")] = None,
    account: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--account", help="Only this account (12-digit id, or its name when names are known).")] = None,
    permission_set: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--permission-set", help="Only this permission set (name).")] = None,
    summary: Annotated[bool, typer.Option(
        "--summary", help="Counts per account and permission set, and flags (administrators, crowded "
        "accounts) instead of the rows.")] = False,
    max_users: Annotated[Optional[int], typer.Option(  # noqa: UP045
        "--max-users", help=f"With --summary: flag accounts more than N users can reach (default "
        f"{DEFAULT_MAX_USERS}).")] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """One row per effective access: user, how (direct or via which group), account, permission set
    and its policies. From a backup no AWS call is made."""
    render, chosen = format_renderer(ctx, fmt, output, quiet, no_color)
    if live == (backup_id is not None):
        raise UsageError("Give a BACKUP_ID or --live (not both)" if live else "Give a BACKUP_ID or --live",
                         remediation=["awsideman backup list", "awsideman access show BACKUP_ID",
                                      "awsideman access show --live"])
    if max_users is not None and (max_users < 0 or not summary):
        raise UsageError(f"--max-users must be >= 0, not {max_users}" if summary else
                         "--max-users is a threshold of --summary: give --summary too")
    from awsideman.services.access import AccessQuery, AccessService, resolve_filter

    query = AccessQuery(user=user, group=group, account=account, permission_set=permission_set)
    point = AccessService(access_context(ctx, render)).point(backup_id, store)
    rows = point.index.rows(resolve_filter(point, query))
    head = {"source": point.source, "filters": query.to_dict(), "orphan_assignments": point.orphan_report(),
            "notes": point.notes}
    if summary:
        render_summary(render, chosen, head, summarise(rows, DEFAULT_MAX_USERS if max_users is None else max_users))
    else:
        _rows(render, chosen, head, rows)
    if chosen in ("table", "csv", "markdown", "jsonl"):
        for note in point.notes:
            render.warn(note)


def _counted(rows: Iterator[AccessRow], seen: list[int]) -> Iterator[AccessRow]:
    for row in rows:
        seen[0] += 1
        yield row


def _rows(render: Renderer, chosen: str, head: dict[str, Any], rows: Iterator[AccessRow]) -> None:
    if chosen == "csv":
        render.csv(COLUMNS, (row.cells() for row in rows))
    elif chosen == "jsonl":
        render.json_lines(row.to_dict() for row in rows)
    elif chosen == "json":
        seen = [0]
        render.document_stream(head, "rows", (row.to_dict() for row in _counted(rows, seen)),
                               lambda: {"count": seen[0]})
    elif chosen == "markdown":
        _markdown(render, head, rows)
    else:
        _table(render, head, rows)


TABLE_COLUMNS = ("user", "via", "account", "permission set", "session", "managed policies",
                 "customer managed", "inline", "boundary")
MARKDOWN_COLUMNS = TABLE_COLUMNS


def _human(row: AccessRow) -> list[str]:
    ps = row.permission_set
    who = f"(deleted {'user' if row.via == 'direct' else 'group'} {row.principal_id})" if row.orphan else row.user_name
    account = f"{row.account_id} ({row.account_name})" if row.account_name else row.account_id
    via = "direct" if row.via == "direct" else f"group {row.group_name}" if row.group_name else "group (deleted)"
    return [who or "", via, account, ps.name,
            ps.session_duration or "", ", ".join(ps.managed_policies), ", ".join(ps.customer_managed_policies),
            "yes" if ps.inline_policy else "no", "yes" if ps.permissions_boundary else "no"]


def _table(render: Renderer, head: dict[str, Any], rows: Iterator[AccessRow]) -> None:
    cells, users, orphans = [], set(), 0
    for row in rows:
        cells.append(_human(row))
        orphans += row.orphan
        if row.user_name is not None:
            users.add(row.user_name)
    if not cells:
        render.line(f"{title(head)}: no access.")
        return
    render.table(title(head), TABLE_COLUMNS, cells)
    render.line(f"{len(cells)} access path(s) for {len(users)} user(s)"
                + (f"; {orphans} orphan assignment(s) (principal deleted: grant no one access)" if orphans else ""))


def _markdown(render: Renderer, head: dict[str, Any], rows: Iterator[AccessRow]) -> None:
    render.stream([f"# {md(title(head))}", ""])
    render.markdown_table(MARKDOWN_COLUMNS, (_human(row) for row in rows))
    render.stream(line for note in head["notes"] for line in ("", f"> {md(note)}"))


app.command("diff")(access_diff)

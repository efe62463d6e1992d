"""`awsideman access [BACKUP_ID | --live]` and `awsideman access diff A [B]`: who could reach what.

`access` is a group whose default command is `show`: `awsideman access bk-...` runs
`awsideman access show bk-...`, and `awsideman access diff ...` the diff.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, StoreOpt, renderer
from awsideman.core.access import COLUMNS, DEFAULT_MAX_USERS, AccessRow, AccessSummary, summarise
from awsideman.core.cancel import process_stop
from awsideman.core.exceptions import UsageError
from awsideman.render import Renderer
from awsideman.services.access import AccessQuery, AccessService, resolve_filter
from awsideman.services.context import Context

FORMATS = ("table", "json", "jsonl", "csv", "markdown")
FormatOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--format", help="table, json, jsonl (JSON lines), csv or markdown (default: table, or json with -o json).")]


class _DefaultShow(TyperGroup):
    """A group that runs `show` unless its first word names another command (or asks for help)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["show", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_DefaultShow, help="Effective access (who can reach which account with which permission "
                  "set, and how) from a backup or the live instance: `access BACKUP_ID` (or `--live`) runs "
                  "`access show`; `access diff A [B]` says what changed.",
                  no_args_is_help=False, add_completion=False)


def check_format(fmt: str | None) -> None:
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def format_renderer(ctx: typer.Context, fmt: str | None, output: str | None, quiet: bool,
                    no_color: bool) -> tuple[Renderer, str]:
    """The renderer and the format to write: --format wins over -o/--output (the more specific)."""
    check_format(fmt)
    render = renderer(ctx, output if fmt is None else ("json" if fmt in ("json", "jsonl") else "text"),
                      quiet, no_color)
    return render, fmt or ("json" if render.json else "table")


def access_context(ctx: typer.Context, render: Renderer) -> Context:
    context = Context(ctx.find_root().obj.settings(), progress=render.progress, display=render, stop=process_stop())
    ctx.call_on_close(context.close)
    return context


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
    max_users: Annotated[int, typer.Option(
        "--max-users", help="With --summary: flag accounts more than N users can reach.")] = DEFAULT_MAX_USERS,
    fmt: FormatOpt = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """One row per effective access: user, how (direct or via which group), account, permission set
    and its policies. From a backup no AWS call is made."""
    render, chosen = format_renderer(ctx, fmt, output, quiet, no_color)
    if live == (backup_id is not None):
        raise UsageError("Give a BACKUP_ID or --live (not both)" if live else "Give a BACKUP_ID or --live",
                         remediation=["awsideman backup list", "awsideman access BACKUP_ID",
                                      "awsideman access --live"])
    if max_users < 0:
        raise UsageError(f"--max-users must be >= 0, not {max_users}")
    query = AccessQuery(user=user, group=group, account=account, permission_set=permission_set)
    point = AccessService(access_context(ctx, render)).point(backup_id, store)
    rows = point.index.rows(resolve_filter(point, query))
    head = {"source": point.source, "filters": query.to_dict(), "orphan_assignments": point.orphan_report(),
            "notes": point.notes}
    if summary:
        _summary(render, chosen, head, summarise(rows, max_users))
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
        render.stream(_markdown_rows(head, rows))
    else:
        _table(render, head, rows)


TABLE_COLUMNS = ("user", "via", "account", "permission set", "session", "managed policies",
                 "customer managed", "inline", "boundary")
MARKDOWN_COLUMNS = TABLE_COLUMNS


def _human(row: AccessRow) -> list[str]:
    ps = row.permission_set
    who = f"(deleted {'user' if row.via == 'direct' else 'group'} {row.principal_id})" if row.orphan else row.user_name
    account = f"{row.account_id} ({row.account_name})" if row.account_name else row.account_id
    return [who or "", "direct" if row.via == "direct" else f"group {row.group_name or '?'}", account, ps.name,
            ps.session_duration or "", ", ".join(ps.managed_policies), ", ".join(ps.customer_managed_policies),
            "yes" if ps.inline_policy else "no", "yes" if ps.permissions_boundary else "no"]


def _title(head: dict[str, Any]) -> str:
    source = head["source"]
    where = (f"live instance {source.get('instance_arn')}" if source["kind"] == "live"
             else f"backup {source['backup_id']} ({source.get('created_at')})")
    filters = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in head["filters"].items() if v is not None)
    return f"Access in {where}" + (f"; {filters}" if filters else "")


def _table(render: Renderer, head: dict[str, Any], rows: Iterator[AccessRow]) -> None:
    cells, users, orphans = [], set(), 0
    for row in rows:
        cells.append(_human(row))
        orphans += row.orphan
        if row.user_name is not None:
            users.add(row.user_name)
    if not cells:
        render.line(f"{_title(head)}: no access.")
        return
    render.table(_title(head), TABLE_COLUMNS, cells)
    render.line(f"{len(cells)} access path(s) for {len(users)} user(s)"
                + (f"; {orphans} orphan assignment(s) (principal deleted: grant no one access)" if orphans else ""))


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("`", "'")


def _markdown_rows(head: dict[str, Any], rows: Iterator[AccessRow]) -> Iterator[str]:
    yield f"# {_md(_title(head))}"
    yield ""
    yield "| " + " | ".join(MARKDOWN_COLUMNS) + " |"
    yield "|" + "---|" * len(MARKDOWN_COLUMNS)
    for row in rows:
        yield "| " + " | ".join(_md(cell) for cell in _human(row)) + " |"
    for note in head["notes"]:
        yield ""
        yield f"> {_md(note)}"


def _summary(render: Renderer, chosen: str, head: dict[str, Any], summary: AccessSummary) -> None:
    data = summary.to_dict()
    if chosen == "json":
        render.document({**head, "summary": data})
    elif chosen == "jsonl":
        render.json_lines([{**head, "summary": data}])
    elif chosen == "csv":
        render.csv(SUMMARY_COLUMNS, _summary_cells(summary))
    elif chosen == "markdown":
        render.stream(_summary_markdown(head, data))
    else:
        _summary_text(render, head, data)


SUMMARY_COLUMNS = ("account_id", "account_name", "permission_set_name", "users", "account_users",
                   "account_over_max_users", "administrator_access")


def _summary_cells(summary: AccessSummary) -> Iterator[list[Any]]:
    """One csv row per (account, permission set): its users, its account's, and the two flags."""
    admin_targets = {(a, ps) for (_, a, ps) in summary.admins}
    for (account, ps), users in sorted(summary.by_target.items()):
        account_users = len(summary.by_account[account])
        yield [account, summary.account_names.get(account, ""), ps, len(users), account_users,
               "yes" if account_users > summary.max_users else "no",
               "yes" if (account, ps) in admin_targets else "no"]


def _account(entry: dict[str, Any]) -> str:
    return f"{entry['account_id']} ({entry['account_name']})" if entry.get("account_name") else entry["account_id"]


def _summary_text(render: Renderer, head: dict[str, Any], data: dict[str, Any]) -> None:
    render.fields(f"Summary: {_title(head)}", {"access paths": data["rows"], "users": data["users"],
                                               "orphan assignments": data["orphan_rows"]})
    render.table("Users by account and permission set", ["account", "permission set", "users"],
                 [[_account(t), t["permission_set_name"], t["users"]] for t in data["by_account_and_permission_set"]])
    render.table("Users by account", ["account", "users"], [[_account(a), a["users"]] for a in data["by_account"]])
    render.table("Users by permission set", ["permission set", "users"],
                 [[p["permission_set_name"], p["users"]] for p in data["by_permission_set"]])
    admins, crowded = data["flags"]["administrators"], data["flags"]["crowded_accounts"]
    if admins:
        render.table("Flag: administrator access", ["user", "account", "permission set", "why"],
                     [[a["user_name"], _account(a), a["permission_set_name"], a["reason"]] for a in admins])
    else:
        render.line("Flag: administrator access: nobody.")
    if crowded:
        render.table(f"Flag: accounts more than {data['max_users']} users can reach", ["account", "users"],
                     [[_account(a), a["users"]] for a in crowded])
    else:
        render.line(f"Flag: no account is reachable by more than {data['max_users']} users.")


def _summary_markdown(head: dict[str, Any], data: dict[str, Any]) -> Iterator[str]:
    yield f"# Summary: {_md(_title(head))}"
    yield ""
    yield f"{data['rows']} access path(s), {data['users']} user(s), {data['orphan_rows']} orphan assignment(s)."
    yield from _md_table("Users by account and permission set", ["account", "permission set", "users"],
                         [[_account(t), t["permission_set_name"], t["users"]]
                          for t in data["by_account_and_permission_set"]])
    yield from _md_table("Administrator access", ["user", "account", "permission set", "why"],
                         [[a["user_name"], _account(a), a["permission_set_name"], a["reason"]]
                          for a in data["flags"]["administrators"]])
    yield from _md_table(f"Accounts more than {data['max_users']} users can reach", ["account", "users"],
                         [[_account(a), a["users"]] for a in data["flags"]["crowded_accounts"]])
    for note in head["notes"]:
        yield ""
        yield f"> {_md(note)}"


def _md_table(title: str, columns: list[str], rows: list[list[Any]]) -> Iterator[str]:
    yield ""
    yield f"## {_md(title)}"
    yield ""
    if not rows:
        yield "None."
        return
    yield "| " + " | ".join(columns) + " |"
    yield "|" + "---|" * len(columns)
    for row in rows:
        yield "| " + " | ".join(_md(cell) for cell in row) + " |"


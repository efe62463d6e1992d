"""`awsideman access show --summary`: how many users reach each account with each permission set, and flags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from awsideman.cli.access_output import md, title
from awsideman.core.access import AccessSummary
from awsideman.render import Renderer


def render_summary(render: Renderer, chosen: str, head: dict[str, Any], summary: AccessSummary) -> None:
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
    render.fields(f"Summary: {title(head)}", {"access paths": data["rows"], "users": data["users"],
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
    yield f"# Summary: {md(title(head))}"
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
        yield f"> {md(note)}"


def _md_table(title: str, columns: list[str], rows: list[list[Any]]) -> Iterator[str]:
    yield ""
    yield f"## {md(title)}"
    yield ""
    if not rows:
        yield "None."
        return
    yield "| " + " | ".join(columns) + " |"
    yield "|" + "---|" * len(columns)
    for row in rows:
        yield "| " + " | ".join(md(cell) for cell in row) + " |"


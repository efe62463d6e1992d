"""`awsideman report list|show|audit`: what operations ran, how they ended, what to do next, and
the audit trail of every change made and compensated."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, renderer
from awsideman.cli.report_markdown import phase_row, to_markdown
from awsideman.core.exceptions import UsageError
from awsideman.render import Renderer

app = typer.Typer(help="What operations ran and how they ended.", no_args_is_help=True, rich_markup_mode=None)

_FIELDS = ("operation_id", "kind", "status", "started_at", "finished_at", "backup_id")
FORMATS = ("text", "json", "markdown")


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
    from awsideman.services.account import listed_statuses
    from awsideman.services.state_backend import open_journal, state_location

    journal = open_journal(settings)
    try:
        ops = journal.list_operations(limit=limit)
        statuses = listed_statuses(journal, ops)  # a later rollback's outcome, as `report show` says
        rows = [{**{k: op.to_dict()[k] for k in _FIELDS}, "status": statuses[op.id]} for op in ops]
    finally:
        journal.close()
    if render.json:
        render.document({"operations": rows, "count": len(rows)})  # the shape of every list command
        return
    if not rows:
        render.line(f"No operations recorded in {state_location(settings).describe(settings)}")
        return
    render.table("Operations", ["operation", "kind", "status", "started", "finished", "backup"],
                 [[r[k] or "" for k in _FIELDS] for r in rows])


@app.command("show")
def show(
    ctx: typer.Context,
    operation_id: Annotated[str, typer.Argument(help="Operation id (op-...), or `last` for the newest.")],
    format: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--format", help="text, json or markdown (ready to paste into a ticket).", show_default=False)] = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Summary, timeline, changes, failures by category, recovery options and the next command."""
    render = renderer(ctx, output, quiet, no_color)
    chosen = format or ("json" if render.json else "text")
    if chosen not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {chosen!r}")
    if render.json and chosen != "json":
        raise UsageError(f"-o json prints one JSON document; it cannot be combined with --format {chosen}")
    settings = ctx.find_root().obj.settings()
    from awsideman.services.account import operation_account
    from awsideman.services.state_backend import open_journal

    journal = open_journal(settings)
    try:
        report = operation_account(journal, operation_id).to_dict()
    finally:
        journal.close()
    if chosen == "json":
        render.document(report)
    elif chosen == "markdown":
        render.raw(to_markdown(report))
    else:
        text_report(render, report)


@app.command("audit")
def audit(
    ctx: typer.Context,
    since: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--since", metavar="DATE", show_default=False,
        help="Only entries at or after DATE: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z (UTC).")] = None,
    operation: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--operation", show_default=False,
        help="Only this operation's entries and those of what reverted it (a restore's rollbacks).")] = None,
    format: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--format", help="json (one document, the default) or csv (a header and one row per entry).",
        show_default=False)] = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """Every change made and every change compensated: when, by whom, on what, with the AWS request ids."""
    from awsideman.core.ids import validate_operation_id
    from awsideman.services.audit import CSV_COLUMNS, FORMATS, audit_trail, parse_since
    from awsideman.services.state_backend import open_journal

    render = renderer(ctx, output, quiet, no_color)
    chosen = format or "json"
    if chosen not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {chosen!r}")
    if render.json and chosen != "json":
        raise UsageError(f"-o json prints one JSON document; it cannot be combined with --format {chosen}")
    cutoff = parse_since(since) if since is not None else None
    if operation is not None:
        validate_operation_id(operation)  # before the journal is opened: a bad id is exit 2
    journal = open_journal(ctx.find_root().obj.settings())
    try:
        trail = audit_trail(journal, since=cutoff, operation_id=operation)
    finally:
        journal.close()
    if chosen == "csv":
        render.csv(CSV_COLUMNS, trail.csv_rows())
    else:
        render.document(trail.to_dict())


def _decision(decision: dict[str, Any] | None) -> str:
    """What a recovery policy did with a failed change, and which rule (or handler) said so."""
    return f"{decision.get('action')} by {decision.get('rule')}" if decision else "fail"


def text_report(render: Renderer, report: dict[str, Any]) -> None:
    """The report for people at a terminal."""
    s = report["summary"]
    style = "bold green" if report["status"] == "succeeded" else "bold red"
    render.line(f"{report['kind'].capitalize()} {report['operation_id']}: {report['status']}", style=style)
    counts = report["counts"]
    render.fields(None, {"backup": s.get("backup_id") or "-", "instance": s.get("instance_arn") or "-",
                         "started": s.get("started_at"), "finished": s.get("finished_at") or "-",
                         "seconds": s.get("duration_seconds") if s.get("duration_seconds") is not None else "-",
                         "changes": f"{counts['applied']} applied, {counts['compensated']} compensated, "
                                    f"{counts['failed']} failed, {counts['leftover']} left over"})
    for group in report["failures"]:
        render.line(f"Failure: {group['category']} ({group['severity']}, {group['count']}x): {group['code']}: "
                    f"{group['message']}", style="bold red")
        for step in group["remediation"]:
            render.line(f"  - {step}")
    for item in (s.get("recorded") or {}).get("not_touched") or []:  # as the restore's plan listed them
        render.line(f"Not touched: {item.get('what')}: {item.get('reason')}")
    if report["leftover"]:
        why = any(i.get("why") for i in report["leftover"])  # left by a rollback policy: say which
        render.table("Left over (still changed)", ["resource", "action", "what", *(["why"] if why else [])],
                     [[i.get("address") or i.get("resource"), i.get("action") or "", i.get("what") or "",
                       *([i.get("why") or ""] if why else [])] for i in report["leftover"]])
    if report["failed"]:
        render.table("Failed changes", ["resource", "action", "error", "decision"],
                     [[i.get("address"), i.get("action") or "", (i.get("error") or {}).get("code", ""),
                       _decision(i.get("decision"))] for i in report["failed"]])
    if report["phases"]:
        render.table("Phases", ["phase", "started", "seconds", "done"], [phase_row(p) for p in report["phases"]])
    for rollback in report["links"].get("rollbacks") or []:
        render.line(f"Rolled back by {rollback['operation_id']} ({rollback['status'] or 'unknown'})")
    if report["links"].get("restore"):
        render.line(f"Rollback of {report['links']['restore']}")
    render.table("Timeline", ["at", "event"], [[e["at"], e["event"]] for e in report["timeline"]])
    render.line("Recovery options:", style="bold")
    for step in report["recovery"]:
        render.line(f"  - {step}")
    if report["next_command"]:
        render.line(f"Next command: {report['next_command']}", style="bold")


"""`awsideman diff BACKUP_ID [BACKUP_ID]`: drift since a backup, or between two backups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from awsideman.cli.attribute_text import attribute_lines
from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, ResourcesOpt, StoreOpt, renderer
from awsideman.core.cancel import process_stop
from awsideman.core.exceptions import UsageError
from awsideman.render import Renderer

if TYPE_CHECKING:
    from awsideman.services.diff import DiffResult

FORMATS = ("text", "json", "markdown")
DIFFERENT = 3  # --exit-code: cron alerts on this, like `git diff --exit-code` on 1


def diff(
    ctx: typer.Context,
    first: Annotated[str, typer.Argument(help="The backup to compare from.")],
    second: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        help="A second backup to compare with (default: the live instance).")] = None,
    store: StoreOpt = None,
    resources: ResourcesOpt = None,
    exit_code: Annotated[bool, typer.Option(
        "--exit-code", help="Exit 0 when equal and 3 when anything differs (for cron alerts); "
        "with --quiet print nothing.")] = False,
    fmt: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--format", help="text, json or markdown (default: the --output setting).")] = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """What was added, removed or changed, by resource and attribute; security-relevant first."""
    from awsideman.services.backup import parse_resources
    from awsideman.services.context import Context
    from awsideman.services.diff import DiffRequest, DiffService

    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    # --format wins over -o/--output: it is the more specific of the two.
    render = renderer(ctx, output if fmt is None else ("json" if fmt == "json" else "text"), quiet, no_color)
    request = DiffRequest(first=first, second=second, store=store, resources=parse_resources(resources))
    context = Context(ctx.find_root().obj.settings(), progress=render.progress, display=render, stop=process_stop())
    ctx.call_on_close(context.close)
    result = DiffService(context).run(request)
    if exit_code and render.quiet and not render.json:
        pass  # `diff --exit-code --quiet || alert`: the exit code is the answer, as with `git diff --quiet`
    elif render.json:
        render.document(result.to_dict())
    elif fmt == "markdown":
        render.raw(markdown(result))
    else:
        _text(render, result)
    if exit_code and not result.equal:
        raise typer.Exit(DIFFERENT)


def _side(side: dict[str, Any]) -> str:
    if side["kind"] == "live":
        return f"live instance {side.get('instance_arn')}"
    return f"backup {side['backup_id']} ({side.get('created_at')})"


def _text(render: Renderer, result: DiffResult) -> None:
    render.fields("Diff", {"from": _side(result.source), "to": _side(result.target),
                           "resources": ",".join(result.resources)})
    if result.equal:
        render.line("No differences.", style="bold green")
    else:
        counts = result.to_dict()["counts"]
        render.table("Differences by resource kind", ["resource", "added", "removed", "changed"],
                     [[r, c.get("added", 0), c.get("removed", 0), c.get("changed", 0)] for r, c in counts.items()])
        sign = {"added": "+", "removed": "-", "changed": "~"}
        for item in result.differences:
            flag = f"  [security: {item.security}]" if item.security else ""
            render.line(f"{sign[item.action]} {item.address}{flag}", style="bold red" if item.security else None)
            for name, values in item.attributes.items():
                for line in attribute_lines(name, values):
                    render.line(f"      {line}")
    for line in orphan_lines(result.orphans):
        render.line(line)
    for note in result.notes:
        render.warn(note)


def orphan_lines(orphans: dict[str, Any]) -> list[str]:
    """Orphan assignments, apart from the differences (they grant nothing; restore never recreates them)."""
    if not orphans or not (orphans["from"]["count"] or orphans["to"]["count"]
                           or not orphans["from"]["visible"] or not orphans["to"]["visible"]):
        return []

    def side(name: str) -> str:
        return str(orphans[name]["count"]) if orphans[name]["visible"] else "not looked for (per-principal listing)"

    lines = [f"Orphan assignments (principal deleted; not drift, never recreated): from {side('from')}, "
             f"to {side('to')}"]
    for label, key in (("only in from", "only_in_from"), ("only in to", "only_in_to"), ("in both", "in_both")):
        lines += [f"  {label}: {o['principal_type'].lower()} {o['principal_id']} -> {o['permission_set_name']} "
                  f"in {o['account_id']}" for o in orphans[key]]
    return lines


def markdown(result: DiffResult) -> str:
    """The diff as a Markdown document (for tickets and chat)."""
    lines = [f"# Diff: {_side(result.source)} -> {_side(result.target)}", "",
             f"Resources: {', '.join(result.resources)}", ""]
    orphans = [f"- {line.strip()}" if line.startswith("  ") else f"{line}" for line in orphan_lines(result.orphans)]
    orphans = ["", *[_md(line) for line in orphans]] if orphans else []
    if result.equal:
        return "\n".join([*lines, "No differences.", *orphans, *_notes(result)])
    security = [d for d in result.differences if d.security]
    lines += ["| resource | added | removed | changed |", "|---|---|---|---|"]
    lines += [f"| {r} | {c.get('added', 0)} | {c.get('removed', 0)} | {c.get('changed', 0)} |"
              for r, c in result.to_dict()["counts"].items()]
    if security:
        lines += ["", "## Security-relevant", ""]
        lines += [f"- **{d.action}** `{d.address}`: {d.security}" for d in security]
    lines += ["", "## All differences", ""]
    for item in result.differences:
        lines.append(f"- **{item.action}** `{item.address}`")
        for name, values in item.attributes.items():
            heading, *rest = attribute_lines(name, values)
            lines.append(f"  - `{name}`{_md(heading[len(name):])}")
            lines += [f"    - `{_md(line.strip())}`" for line in rest]
    return "\n".join([*lines, *orphans, *_notes(result)])


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _notes(result: DiffResult) -> list[str]:
    return ["", *[f"> {note}" for note in result.notes]] if result.notes else []

"""`awsideman diff BACKUP_ID [BACKUP_ID]`: drift since a backup, or between two backups."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, renderer
from awsideman.core.cancel import process_stop
from awsideman.core.exceptions import UsageError
from awsideman.render import Renderer
from awsideman.services.backup import parse_resources
from awsideman.services.context import Context
from awsideman.services.diff import DiffRequest, DiffResult, DiffService

FORMATS = ("text", "json", "markdown")
DIFFERENT = 3  # --exit-code: cron alerts on this, like `git diff --exit-code` on 1


def diff(
    ctx: typer.Context,
    first: Annotated[str, typer.Argument(help="The backup to compare from.")],
    second: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        help="A second backup to compare with (default: the live instance).")] = None,
    store: Annotated[Optional[str], typer.Option("--store", help="Folder, file:///path or s3://bucket/prefix.")] = None,  # noqa: UP045
    resources: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--resources", help="Comma-separated: users,groups,permission-sets,assignments (default: all).")] = None,
    exit_code: Annotated[bool, typer.Option(
        "--exit-code", help="Exit 0 when equal and 3 when anything differs (for cron alerts).")] = False,
    fmt: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--format", help="text, json or markdown (default: the --output setting).")] = None,
    output: OutputOpt = None, quiet: QuietOpt = False, no_color: NoColorOpt = False,
) -> None:
    """What was added, removed or changed, by resource and attribute; security-relevant first."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    # --format wins over -o/--output: it is the more specific of the two.
    render = renderer(ctx, output if fmt is None else ("json" if fmt == "json" else "text"), quiet, no_color)
    request = DiffRequest(first=first, second=second, store=store, resources=parse_resources(resources))
    context = Context(ctx.find_root().obj.settings(), progress=render.progress, display=render, stop=process_stop())
    ctx.call_on_close(context.close)
    result = DiffService(context).run(request)
    if render.json:
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


def _value(value: Any) -> str:
    text = "(none)" if value is None else value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 100 else text[:97] + "..."


def _attribute_lines(values: dict[str, Any]) -> list[str]:
    if "added" in values or "removed" in values:
        return [f"+ {_value(v)}" for v in _items(values.get("added"))] + [
            f"- {_value(v)}" for v in _items(values.get("removed"))]
    return [f"{_value(values.get('before'))} -> {_value(values.get('after'))}"]


def _items(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [f"{k}={v}" for k, v in value.items()]
    return list(value or [])


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
                for line in _attribute_lines(values):
                    render.line(f"      {name}: {line}")
    for note in result.notes:
        render.warn(note)


def markdown(result: DiffResult) -> str:
    """The diff as a Markdown document (for tickets and chat)."""
    lines = [f"# Diff: {_side(result.source)} -> {_side(result.target)}", "",
             f"Resources: {', '.join(result.resources)}", ""]
    if result.equal:
        return "\n".join([*lines, "No differences.", *_notes(result)])
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
            lines += [f"  - `{name}`: {_md(line)}" for line in _attribute_lines(values)]
    return "\n".join([*lines, *_notes(result)])


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _notes(result: DiffResult) -> list[str]:
    return ["", *[f"> {note}" for note in result.notes]] if result.notes else []

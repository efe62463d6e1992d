"""What `access` and `access diff` share: the formats, the renderer they pick, how a point is named."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from awsideman.cli.options import renderer
from awsideman.core.cancel import process_stop
from awsideman.core.exceptions import UsageError
from awsideman.render import Renderer

if TYPE_CHECKING:
    from awsideman.services.context import Context


FORMATS = ("table", "json", "jsonl", "csv", "markdown")
FormatOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--format", help="table, json, jsonl (JSON lines), csv or markdown (default: table, or json with -o json).")]


def format_renderer(ctx: typer.Context, fmt: str | None, output: str | None, quiet: bool,
                    no_color: bool) -> tuple[Renderer, str]:
    """The renderer and the format to write: --format wins over -o/--output (the more specific)."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    render = renderer(ctx, output if fmt is None else ("json" if fmt in ("json", "jsonl") else "text"),
                      quiet, no_color)
    return render, fmt or ("json" if render.json else "table")


def access_context(ctx: typer.Context, render: Renderer) -> Context:
    """A services Context that reads (no journal operation: nothing is changed or written)."""
    from awsideman.services.context import Context

    context = Context(ctx.find_root().obj.settings(), progress=render.progress, display=render, stop=process_stop())
    ctx.call_on_close(context.close)
    return context


def source_text(source: dict[str, Any]) -> str:
    """A point in time as people read it: a backup and when it was taken, or the live instance."""
    if source.get("kind") == "live":
        return f"live instance {source.get('instance_arn')}"
    return f"backup {source.get('backup_id')} ({source.get('created_at')})"


def title(head: dict[str, Any]) -> str:
    """What the rows are: the point in time and the filters."""
    where = source_text(head["source"])
    filters = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in head["filters"].items() if v is not None)
    return f"Access in {where}" + (f"; {filters}" if filters else "")


def md(text: Any) -> str:
    """A Markdown table cell: pipes escaped, backticks made quotes."""
    return ("" if text is None else str(text)).replace("|", "\\|").replace("`", "'")

"""`awsideman analyze-error`: explain a pasted error, a log file, or an operation's recorded errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, renderer
from awsideman.core.exceptions import OperationNotFoundError, UsageError
from awsideman.core.files import read_limited
from awsideman.core.limits import describe
from awsideman.core.sanitize import sanitize_obj
from awsideman.render import Renderer


def analyze_error(
    ctx: typer.Context,
    text: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional at runtime
        typer.Argument(help="The error text (AWS CLI / boto3 line, exception line or JSON); '-' reads stdin.",
                       show_default=False),
    ] = None,
    code: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--code", help="Error code or exception name (e.g. ThrottlingException), alone or with TEXT.",
                     show_default=False),
    ] = None,
    file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--file", help="A log (awsideman's, aws-cli/boto3 --debug) or JSON error file: each "
                     "distinct error in it, with its line and count.",
                     show_default=False),
    ] = None,
    operation: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--operation", help="Operation id: the errors recorded in the journal for it.",
                     show_default=False),
    ] = None,
    output: OutputOpt = None,
    quiet: QuietOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Explain an error: category, severity, whether it is retried, and what to do about it."""
    render = renderer(ctx, output, quiet, no_color)
    sources = [name for name, given in (("TEXT", text is not None), ("--file", file is not None),
                                        ("--operation", operation is not None)) if given]
    if len(sources) > 1:
        raise UsageError(f"Give only one of {', '.join(sources)}.")
    if not sources and not code:
        raise UsageError(
            "Nothing to analyse: give the error TEXT, --code CODE, --file PATH or --operation OP_ID.",
            remediation=["e.g. awsideman analyze-error 'An error occurred (ThrottlingException) ...'"],
        )
    if code is not None and (file is not None or operation is not None):
        raise UsageError("--code goes with TEXT (or alone), not with --file or --operation.")
    from awsideman.services.error_analysis import error_analyzer

    settings = ctx.find_root().obj.settings()  # advice names the configured profile and region
    analyzer = error_analyzer(profile=settings.profile, region=settings.region)

    if operation is not None:
        _show_many(render, _journal_errors(ctx, operation), {"operation_id": operation})
        return
    limit = ctx.find_root().obj.settings().limits.bytes("text_mib")
    if file is not None:
        found = analyzer.analyze_file(_read_file(file, limit))
        _show_many(render, [error.to_dict() for error in found.errors], {"file": str(file)}, omitted=found.omitted)
    else:
        if text == "-":
            text = _bounded(read_limited(sys.stdin.buffer, limit), "standard input", limit)
        elif text is not None and len(text) > limit:
            raise _too_long("TEXT", limit)
        _show_one(render, analyzer.analyze_text(text or code or "", code=code).to_dict())


def _too_long(what: str, limit: int) -> UsageError:
    return UsageError(f"{what} is longer than the limit of {describe(limit)} (limits.text_mib); "
                      "pass only the part with the error.",
                      remediation=["Or raise limits.text_mib in the config."])


def _bounded(data: bytes | None, what: str, limit: int) -> str:
    """Read input as text, or the limit's error: files, pipes and devices (/dev/zero) alike."""
    if data is None:
        raise _too_long(what, limit)
    return data.decode("utf-8", errors="replace")


def _read_file(path: Path, limit: int) -> str:
    """The file as text; a directory, a binary file or one over the limit is refused (exit 2)."""
    if path.is_dir():
        raise UsageError(f"--file {path} is a directory, not a file.")
    try:
        with path.open("rb") as handle:
            data = read_limited(handle, limit)
    except FileNotFoundError:
        raise UsageError(f"--file {path}: no such file.") from None
    except IsADirectoryError:
        raise UsageError(f"--file {path} is a directory, not a file.") from None
    except PermissionError:
        raise UsageError(f"--file {path}: permission denied.") from None
    if data is None:
        raise UsageError(f"--file {path} is longer than the limit of {describe(limit)} (limits.text_mib).",
                         remediation=["Analyse its end: `tail -n 100000 FILE > end.log`, then "
                                      "`awsideman analyze-error --file end.log`.",
                                      "Or raise limits.text_mib in the config."])
    if b"\0" in data:
        raise UsageError(f"--file {path} is a binary file, not a log or JSON error file.",
                         remediation=["Give the text log: `$AWSIDEMAN_HOME/logs/OP_ID.log`, or an aws-cli/boto3 "
                                      "--debug log."])
    return data.decode("utf-8", errors="replace")


def _journal_errors(ctx: typer.Context, operation_id: str) -> list[dict[str, Any]]:
    # Imported here so the rest of the command works even if the journal cannot be loaded.
    from awsideman.core.ids import validate_operation_id
    from awsideman.services.state_backend import journal_exists, open_journal

    validate_operation_id(operation_id)
    settings = ctx.find_root().obj.settings()
    if not journal_exists(settings):
        # Opening would create an empty journal: a read-only command should not do that.
        raise OperationNotFoundError(f"No operation {operation_id}: there is no journal at "
                                     f"{settings.journal_path} yet.",
                                     remediation=["`awsideman report list` lists recorded operations."])
    from awsideman.services.account import operation_account

    journal = open_journal(settings)
    try:
        # The account's errors (raises OperationNotFoundError with a hint): the same as `report show`.
        return operation_account(journal, operation_id).errors
    finally:
        journal.close()


def _contract(error: dict[str, Any]) -> dict[str, Any]:
    keys = ("category", "severity", "code", "message", "recoverable", "remediation")
    data = {key: error.get(key) for key in keys}
    data["remediation"] = list(data["remediation"] or [])
    for extra in ("operation", "retry_after", "http_status", "step", "created_at", "count", "line",
                  "operation_id"):
        if error.get(extra) is not None:
            data[extra] = error[extra]
    return sanitize_obj(data)


def _show_one(render: Renderer, error: dict[str, Any]) -> None:
    error = _contract(error)
    if render.json:
        render.document(error)
    else:
        _print(render, error, "Error analysis")


def _show_many(render: Renderer, errors: list[dict[str, Any]], source: dict[str, str],
               omitted: int | None = None) -> None:
    errors = [_contract(e) for e in errors]
    if render.json:
        extra = {"omitted": omitted} if omitted is not None else {}
        render.document({**source, "count": len(errors), **extra, "errors": errors})
        return
    if not errors:
        render.line(f"No errors found in {next(iter(source.values()))}.")
        return
    for number, error in enumerate(errors, 1):
        if number > 1:
            render.line()
        _print(render, error, f"Error {number} of {len(errors)}{_where(error)}")
    if omitted:
        render.line()
        render.line(f"{omitted} more distinct error(s) not shown: only the first {len(errors)} are listed.")


def _where(error: dict[str, Any]) -> str:
    """Where a file's error was found: ``(line 57, 4 times, op-...)``."""
    parts = [f"line {error['line']}"] if "line" in error else []
    if "line" in error and error.get("count", 1) > 1:
        parts.append(f"{error['count']} times")
    if error.get("operation_id"):
        parts.append(str(error["operation_id"]))
    return f" ({', '.join(parts)})" if parts else ""


def _print(render: Renderer, error: dict[str, Any], title: str) -> None:
    recoverable = "yes (awsideman retries it automatically)" if error["recoverable"] else "no"
    render.fields(title, {
        "category": error["category"],
        "severity": error["severity"],
        "recoverable": recoverable,
        "code": error["code"],
        "message": error["message"],
    })
    if error["remediation"]:
        render.line("  what to do:")
        for step in error["remediation"]:
            render.line(f"    - {step}")

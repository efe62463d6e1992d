"""The reusable option bundle: output options accepted before and after the subcommand, the
options several commands share, and the frame of the commands that change live state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Optional

import typer

from awsideman.render import Renderer

OutputOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional at runtime on some versions
    typer.Option("--output", "-o", help="text or json (json: one document on stdout).", show_default=False),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress, only results and errors.")]
PreflightOpt = Annotated[str, typer.Option(
    "--preflight", help="auto: refuse when a write (or the write undoing it) is denied to the caller, go on "
    "with a note when that cannot be checked; require: refuse then too; off: do not check.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="Plain text.")]

StoreOpt = Annotated[Optional[str], typer.Option("--store", help="Folder, file:///path or s3://bucket/prefix.")]  # noqa: UP045
ResourcesOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--resources", help="Comma-separated: users,groups,permission-sets,assignments (default: all).")]
YesOpt = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]
LockTimeoutOpt = Annotated[float, typer.Option(
    "--lock-timeout", help="Wait up to SECONDS for another restore/rollback of the instance.")]


def renderer(ctx: typer.Context, output: str | None = None, quiet: bool = False,
             no_color: bool = False) -> Renderer:
    """Merge per-command output options over the global ones and return the renderer."""
    state = ctx.find_root().obj
    if output is not None:
        state.set_output(output)
    if quiet:
        state.quiet = True
    if no_color:
        state.no_color = True
    return state.renderer()


def guard_live_change(render: Renderer, *, yes: bool, dry_run: bool, lock_timeout: float, refusal: str,
                      hint: str) -> None:
    """Checks shared by commands that change live state (restore, rollback), before any read.

    With no terminal to confirm at and no ``--yes`` they refuse (exit 2) instead of hanging.
    """
    import sys

    from awsideman.core.exceptions import UsageError

    if lock_timeout < 0:
        raise UsageError(f"--lock-timeout must be >= 0 seconds, not {lock_timeout}")
    if not dry_run and not yes and not (sys.stdin.isatty() and not render.json):
        raise UsageError(f"{refusal} without --yes when there is no terminal to confirm at", remediation=[hint])


def service_context(ctx: typer.Context, render: Renderer) -> Any:
    """The services' Context for a command that runs operations: progress shown through
    ``render``, a log file per operation and the metrics file (``--metrics-file``) written when
    the command ends, however it ends."""
    from awsideman.core.cancel import process_stop
    from awsideman.services.context import Context
    from awsideman.services.run_record import RunRecorder

    state = ctx.find_root().obj
    settings = state.settings()
    recorder = RunRecorder(settings, metrics_file=state.metrics_file).start()
    context = Context(settings, progress=render.progress, display=render, stop=process_stop(), recorder=recorder)

    def close() -> None:
        render.end_progress()
        context.close()
        for warning in context.warnings:
            render.warn(warning)

    ctx.call_on_close(close)
    return context


def report_hint(operation_id: str | None) -> str | None:
    """The line every long-running command ends with: its operation and how to see its report."""
    return f"awsideman report show {operation_id}" if operation_id else None


def errors_and_leftover(render: Renderer, errors: list[dict[str, Any]], leftover: list[dict[str, Any]]) -> None:
    """What went wrong in a restore or rollback, and what it left changed (resource, what, why, what to do)."""
    for error in errors:
        render.error(f"{error.get('resource', '')}: {error.get('code')}: {error.get('message')}",
                     error.get("remediation") or [])
    for item in leftover:
        why = f" ({item['why']})" if item.get("why") else ""
        render.error(f"{item['resource']}: {item['what']}{why}", item["remediation"], title="Left over")


def confirmer(render: Renderer, *, yes: bool, show: Callable[[Any], None],
              question: Callable[[Any], str]) -> Callable[[Any], bool]:
    """The ``confirm(what)`` of a command that changes live state: what it will do is shown
    once, before the prompt or (with ``--yes``) before it is done, never after it."""

    def confirm(what: Any) -> bool:
        render.end_progress()  # the plan and the prompt are not drawn under a live progress bar
        if not render.json:
            show(what)
        return True if yes else render.ask(question(what))

    return confirm


@contextmanager
def nothing_changed(render: Renderer) -> Iterator[None]:
    """A declined prompt is not an error: say nothing changed and exit 0 (130 after a Ctrl-C)."""
    from awsideman.core.exceptions import Declined

    try:
        yield
    except Declined as declined:
        render.end_progress()
        render.line(declined.message, style="bold")
        raise typer.Exit(declined.exit_code) from None


def preflight_lines(render: Renderer, preflight: dict[str, Any] | None) -> None:
    """What a dry run's preflight found: its one line, then each denied action (a real run refuses)."""
    if not preflight:
        return
    render.line(str(preflight.get("note")))
    for denial in preflight.get("denied") or []:
        render.warn(f"denied: {denial['action']} on {denial['resource']} (needed by "
                    f"{' and '.join(denial['needed_for'])}: {', '.join(denial['changes'][:3])})")


@contextmanager
def live_change(ctx: typer.Context, render: Renderer, *, yes: bool, dry_run: bool, lock_timeout: float,
                refusal: str, hint: str, show: Callable[[Any], None],
                question: Callable[[Any], str]) -> Iterator[tuple[Any, Callable[[Any], bool]]]:
    """The frame of restore and rollback: the checks before any read, then the services'
    Context and the ``confirm(what)`` to run the service with; a declined prompt ends the
    command with nothing changed."""
    guard_live_change(render, yes=yes, dry_run=dry_run, lock_timeout=lock_timeout, refusal=refusal, hint=hint)
    context = service_context(ctx, render)
    confirm = confirmer(render, yes=yes, show=show, question=question)
    with nothing_changed(render):
        yield context, confirm


def live_change_outcome(render: Renderer, context: Any, result: Any, text: Callable[[], None]) -> None:
    """How restore and rollback end: the result as the operation's account records it (what
    ``report show`` says), then the JSON document, or the text, the phases and the report line."""
    from awsideman.services.account import closing_account

    closing_account(context.journal, result)
    if render.json:
        render.document(dict(result.to_dict(), report_command=report_hint(result.operation_id)))
        return
    text()
    render.phase_lines(context.phases.records())
    if result.operation_id:
        render.line(f"Operation {result.operation_id}; report: {report_hint(result.operation_id)}")

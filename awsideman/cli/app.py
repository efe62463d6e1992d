"""The root command: global options, sub-apps, and the one place exceptions become exit codes."""

from __future__ import annotations

import signal
import sys
import traceback
from typing import Annotated, Optional

import typer

from awsideman import __version__
from awsideman.cli.state import AppState
from awsideman.core.cancel import install_handlers, process_stop
from awsideman.core.errors import ErrorAnalyzer, error_exit_code
from awsideman.core.exceptions import UsageError
from awsideman.render import Renderer

app = typer.Typer(
    name="awsideman",
    help="Back up and restore an AWS IAM Identity Center instance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        Renderer().raw(f"awsideman {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[Optional[str], typer.Option("--profile", help="AWS credentials profile.")] = None,  # noqa: UP045
    region: Annotated[Optional[str], typer.Option("--region", help="Region of the instance.")] = None,  # noqa: UP045
    config: Annotated[Optional[str], typer.Option("--config", help="YAML config file.")] = None,  # noqa: UP045
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="text or json.")] = None,  # noqa: UP045
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress, only results and errors.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Stack traces and request logs on stderr.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Back up and restore an AWS IAM Identity Center instance."""
    state = AppState(profile=profile, region=region, config=config, quiet=quiet, debug=debug,
                     no_color=no_color)
    if output is not None:
        state.set_output(output)
    if debug:
        state.renderer().enable_debug_logging()
    ctx.obj = state


def _register() -> None:
    from awsideman.cli import analyze, backup, diff, report, restore, rollback, sandbox

    app.add_typer(backup.app, name="backup")
    app.add_typer(report.app, name="report")
    app.add_typer(sandbox.app, name="sandbox")
    app.command("analyze-error")(analyze.analyze_error)
    app.command("diff")(diff.diff)
    app.command("restore")(restore.restore)
    app.command("rollback")(rollback.rollback)


_register()


def _fallback_renderer(argv: list[str]) -> Renderer:
    """A renderer for errors raised before or outside a command's own renderer."""
    output = "json" if any(a in ("-o=json", "--output=json") for a in argv) else "text"
    for flag in ("-o", "--output"):
        if flag in argv and argv.index(flag) + 1 < len(argv):
            output = argv[argv.index(flag) + 1]
    return Renderer(output="json" if output == "json" else "text", debug="--debug" in argv,
                    no_color="--no-color" in argv)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: run the app and turn every failure into a message and exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    install_handlers(process_stop())
    try:
        # Without standalone mode click returns (not raises) the code of a typer.Exit.
        code = app(args=args, prog_name="awsideman", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt) as stop:
        _fallback_renderer(args).error(str(stop) or "interrupted", title="Aborted")
        sys.exit(128 + getattr(stop, "signum", signal.SIGINT))
    except SystemExit:
        raise
    except Exception as exc:  # the one place every failure becomes a message and an exit code
        if "NoArgsIsHelpError" in _mro_names(exc):  # `awsideman backup`: the group's help
            _fallback_renderer(args).help(exc.format_message())  # type: ignore[attr-defined]
            sys.exit(2)
        _report_failure(args, _as_usage_error(exc))


def _mro_names(exc: Exception) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _as_usage_error(exc: Exception) -> Exception:
    """Click's own usage errors (unknown flag, missing argument) as our UsageError (exit 2).

    Matched by class name: typer may vendor its own copy of click (typer._click).
    """
    names = _mro_names(exc)
    if "ClickException" not in names:
        return exc
    ctx = getattr(exc, "ctx", None)
    hints = []
    if "UsageError" in names and ctx is not None:
        hints = [ctx.get_usage(), f"Try '{ctx.command_path} --help'."]
    error = UsageError(exc.format_message(), remediation=hints)  # type: ignore[attr-defined]
    error.exit_code = 2 if "UsageError" in names else int(getattr(exc, "exit_code", 1))
    return error


def _report_failure(args: list[str], exc: Exception) -> None:
    render = _fallback_renderer(args)
    info = ErrorAnalyzer().analyze(exc)
    render.trace("".join(traceback.format_exception(exc)))
    code = error_exit_code(exc, info)
    operation_id = getattr(exc, "operation_id", None)
    next_command = getattr(exc, "next_command", None)
    remediation = [*info.remediation, *([f"Then resume: {next_command}"] if next_command else [])]
    if render.json:
        error = dict(info.to_dict(), remediation=remediation)
        render.document({"operation_id": operation_id, "status": "failed", "errors": [error]})
    else:
        render.error(info.message, remediation)
        if operation_id:
            render.error(operation_id, title="Operation")
    sys.exit(code)

"""The root command: global options, sub-apps, and the one place exceptions become exit codes."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from awsideman import __version__
from awsideman.cli.state import AppState
from awsideman.core.cancel import install_handlers, process_stop
from awsideman.core.exceptions import UsageError
from awsideman.render import Renderer

if TYPE_CHECKING:
    from awsideman.core.errors import ErrorAnalyzer

app = typer.Typer(
    name="awsideman",
    help="Back up and restore an AWS IAM Identity Center instance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: Rich's boxes would import Rich for every --help
    context_settings={"max_content_width": 120},  # click's own default is 80 columns at any terminal width
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
    metrics_file: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--metrics-file", help="Write Prometheus textfile metrics here when a backup, restore or rollback ends.",
        show_default=False)] = None,
    state_backend: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--state", help="Where the journal and locks live: local (default) or dynamodb://TABLE.",
        show_default=False)] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Back up and restore an AWS IAM Identity Center instance."""
    state = AppState(profile=profile, region=region, config=config, quiet=quiet, debug=debug,
                     no_color=no_color, metrics_file=metrics_file, state=state_backend)
    _LAST_STATE[:] = [state]
    if output is not None:
        state.set_output(output)
    if debug:
        state.renderer().enable_debug_logging()
    ctx.obj = state
    if ctx.invoked_subcommand != "sandbox":  # the sandbox runs commands with a home of its own
        state.settings()  # a bad config is refused at start, before any API call (exit 2)


def _register() -> None:
    from awsideman.cli import (
        access,
        analyze,
        backup,
        demo,
        diff,
        doctor,
        iam_policy,
        notify,
        report,
        restore,
        rollback,
        sandbox,
        shared_state,
    )

    app.add_typer(backup.app, name="backup")
    app.add_typer(shared_state.app, name="state")
    app.add_typer(report.app, name="report")
    app.add_typer(sandbox.app, name="sandbox")
    app.add_typer(notify.app, name="notify")
    app.add_typer(access.app, name="access")
    app.command("analyze-error")(analyze.analyze_error)
    app.command("diff")(diff.diff)
    app.command("restore")(restore.restore)
    app.command("rollback")(rollback.rollback)
    app.command("demo")(demo.demo)
    app.command("iam-policy")(iam_policy.iam_policy)
    app.command("doctor")(doctor.doctor)


_register()

# The AppState of this run, once the root callback has parsed it: the last-resort handler builds
# its advice from the loaded settings (profile, region) instead of placeholders.
_LAST_STATE: list[AppState] = []

# Global options that are also accepted after the subcommand (`backup create --region X`), as
# the AWS CLI does: moved in front of the subcommand before click parses. (-o/--output,
# --quiet and --no-color are options of every command already.)
_GLOBAL_WITH_VALUE = ("--profile", "--region", "--config", "--state")
_GLOBAL_FLAGS = ("--debug",)
_ROOT_WITH_VALUE = (*_GLOBAL_WITH_VALUE, "--output", "-o")


def hoist_global_options(args: list[str]) -> list[str]:
    """``args`` with global options given after the subcommand moved before it.

    Nothing after ``--`` moves (``sandbox run -- COMMAND`` passes those to COMMAND).
    """
    start = 0
    while start < len(args) and args[start].startswith("-") and args[start] != "--":
        start += 2 if args[start] in _ROOT_WITH_VALUE else 1
    head, rest, moved = list(args[:start]), [], []
    index = start
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        name = arg.split("=", 1)[0]
        if name in _GLOBAL_WITH_VALUE and "=" not in arg and index + 1 < len(args):
            moved += args[index:index + 2]
            index += 2
            continue
        if name in _GLOBAL_WITH_VALUE or arg in _GLOBAL_FLAGS:
            moved.append(arg)
        else:
            rest.append(arg)
        index += 1
    return head + moved + rest


def _fallback_renderer(argv: list[str]) -> Renderer:
    """A renderer for errors raised before or outside a command's own renderer."""
    output = "json" if any(a in ("-o=json", "--output=json") for a in argv) else None
    for flag in ("-o", "--output"):
        if flag in argv and argv.index(flag) + 1 < len(argv):
            output = argv[argv.index(flag) + 1]
    output = output or os.environ.get("AWSIDEMAN_OUTPUT") or "text"
    return Renderer(output="json" if output == "json" else "text", debug="--debug" in argv,
                    no_color="--no-color" in argv or bool(os.environ.get("NO_COLOR")))


def build_command() -> Any:
    """The click command behind ``app``, with help metavars that say what a value is."""
    import typer.main

    command = typer.main.get_command(app)
    _clean_metavars(command)
    return command


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: run the app and turn every failure into a message and exit code."""
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    install_handlers(process_stop())
    try:
        # Without standalone mode click returns (not raises) the code of a typer.Exit.
        code = build_command().main(args=args, prog_name="awsideman", standalone_mode=False)
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
    from awsideman.core.errors import error_exit_code

    render = _fallback_renderer(args)
    info = _analyzer().analyze(exc)
    render.trace("".join(traceback.format_exception(exc)))
    code = error_exit_code(exc, info)
    operation_id = getattr(exc, "operation_id", None)
    next_command = getattr(exc, "next_command", None)
    remediation = list(info.remediation)
    if operation_id:  # advice written for any operation names this one
        from awsideman.services.account import fit_remediation

        kind = getattr(exc, "operation_kind", None)
        remediation = fit_remediation(remediation, operation_id, operation_id if kind == "restore" else None)
    if next_command and not any(next_command.split(" (")[0] in step for step in remediation):
        remediation.append(f"Then resume: {next_command}")
    if render.json:
        error = dict(info.to_dict(), remediation=remediation)
        # The operation's account (status, counts, duration, next command), as `report show` says it.
        account = getattr(exc, "account", None) or {}
        render.document({**account, "operation_id": operation_id, "status": account.get("status", "failed"),
                         "errors": [error]})
    else:
        # The code in the title lets `awsideman analyze-error` recognise this text when pasted back.
        render.error(info.message, remediation, title=f"Error ({info.code})")
        if operation_id:
            render.error(f"{operation_id} (report: awsideman report show {operation_id})", title="Operation")
    sys.exit(code)


def _analyzer() -> ErrorAnalyzer:
    """An analyser whose advice names the configured profile and region, when they are known."""
    state = _LAST_STATE[0] if _LAST_STATE else None
    settings = getattr(state, "_settings", None)
    profile = getattr(settings, "profile", None) or getattr(state, "profile", None)
    region = getattr(settings, "region", None) or getattr(state, "region", None)
    from awsideman.services.error_analysis import error_analyzer

    return error_analyzer(profile=profile, region=region)


# What an option's value is, by parameter name; anything else shows its name in capitals.
_METAVARS = {
    "store": "URL", "resume": "OP_ID", "operation": "OP_ID", "kms_key": "KEY", "output": "text|json",
    "resources": "LIST", "description": "TEXT", "profile": "PROFILE", "region": "REGION", "config": "FILE",
    "file": "PATH", "faults": "FILE", "home": "DIR", "endpoint": "URL", "lock_timeout": "SECONDS",
    "since": "EPOCH_SECONDS", "seed": "tiny|small|large", "seed_value": "N", "port": "N", "limit": "N",
    "keep_last": "N", "keep_daily": "N", "keep_within": "DURATION", "format": "FORMAT", "max_users": "N",
}


def _clean_metavars(command: Any) -> None:
    """Flags show no value placeholder and values show what they are (not ``<str>``/``<bool>``)."""
    for sub in getattr(command, "commands", {}).values():
        _clean_metavars(sub)
    original = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None:
            option.metavar = ""
            option.display_type_rich = lambda ctx: None
        return option

    command.get_help_option = help_option
    for param in getattr(command, "params", []):
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
            param.display_type_rich = lambda ctx: None  # typer >= 0.2x prints `<bool>` otherwise
            continue
        if param.metavar is None:
            choices = getattr(getattr(param, "type", None), "choices", None)
            param.metavar = "|".join(map(str, choices)) if choices else _METAVARS.get(
                param.name or "", (param.name or "value").upper())
        if getattr(param, "param_type_name", "") == "argument":
            param.display_type_rich = lambda ctx: None  # the name says it: BACKUP_ID, TEXT
            # typer 0.2x writes a required argument as `{BACKUP_ID}` in the usage line.
            usage = param.metavar + ("..." if param.nargs != 1 else "")
            param.get_usage_pieces = lambda ctx, usage=usage, required=param.required: [
                usage if required else f"[{usage}]"]

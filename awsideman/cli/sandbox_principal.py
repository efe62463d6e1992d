"""`awsideman sandbox principal`: restricted IAM principals in a running sandbox (preflight rehearsals)."""

from __future__ import annotations

import json
import shlex
from typing import Annotated

import typer

from awsideman.cli.options import NoColorOpt, OutputOpt, QuietOpt, renderer
from awsideman.core.exceptions import AwsidemanError, UsageError

app = typer.Typer(help="Restricted IAM principals in a running sandbox, to rehearse a denied preflight.",
                  no_args_is_help=True, rich_markup_mode=None)

EndpointOpt = Annotated[str, typer.Option("--endpoint", envvar="AWS_ENDPOINT_URL",
                                          help="URL of a running sandbox (default: $AWS_ENDPOINT_URL).")]


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="IAM user name of the principal.")],
    endpoint: EndpointOpt,
    deny: Annotated[list[str] | None, typer.Option(
        "--deny", metavar="ACTION", help="An action the principal is explicitly denied (repeatable).",
        show_default=False)] = None,
    allow: Annotated[list[str] | None, typer.Option(
        "--allow", metavar="ACTION", help="Allow only these actions (repeatable; default: every action).",
        show_default=False)] = None,
    output: OutputOpt = None,
    quiet: QuietOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Create IAM user NAME in a running sandbox, allowed every action but each --deny ACTION; print export lines.

    The key is the local emulator's dummy credential, printed to be eval'ed (never a real secret). Example:

    eval "$(awsideman sandbox principal create ops --deny sso:CreateAccountAssignment)"
    """
    from awsideman.sandbox.api import PrincipalError, SandboxUnavailableError, create_principal

    render = renderer(ctx, output, quiet, no_color)
    denied, allowed = list(deny or []), list(allow or []) or None
    try:
        principal = create_principal(endpoint, name, deny=denied, allow=allowed)
    except PrincipalError as exc:
        raise UsageError(str(exc)) from None
    except SandboxUnavailableError as exc:
        raise AwsidemanError(str(exc), remediation=["Start one with `awsideman sandbox up --port 0`, "
                                                     "then pass its URL with --endpoint."]) from None
    # Implementation note: render.document and render.line redact access keys, as they must for
    # real ones; these are an emulator's, meant for eval or a script, so they go out raw.
    if render.json:
        render.raw(json.dumps({"endpoint_url": endpoint, "user_name": name, "user_arn": principal.arn,
                               "denied": denied, "allowed": allowed or ["*"], "env": principal.env()},
                              indent=2, sort_keys=True))
        return
    for key, value in principal.env().items():
        render.raw(f"export {key}={shlex.quote(value)}")
    render.raw("unset AWS_SESSION_TOKEN")  # the sandbox's own token belongs to its default caller
    render.raw(f"# {principal.arn} at {endpoint}: allowed {', '.join(allowed or ['*'])}; "
               f"denied {', '.join(denied) or 'nothing'}")

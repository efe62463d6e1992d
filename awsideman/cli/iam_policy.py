"""`awsideman iam-policy`: the least-privilege IAM policy for this setup, as JSON."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from awsideman.cli.options import renderer
from awsideman.core.command_scopes import FOR


def iam_policy(
    ctx: typer.Context,
    for_: Annotated[str, typer.Option("--for", help=f"The command(s) it is for: {', '.join(FOR)}.")] = "all",
    instance: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--instance", help="Narrow to this instance ARN (default: the config's instance_arn, else any).")] = None,
    store: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--store", help="The backup store (s3://bucket/prefix or a folder; default: the config's).")] = None,
    state: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--state", help="local or dynamodb://TABLE (default: the config's); a table adds its permissions.")] = None,
    kms_key: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--kms-key", help="The backups' KMS key id or ARN (default: the config's; none: no KMS permissions).")] = None,
) -> None:
    """Print the least-privilege IAM policy (JSON) for a command, narrowed to the resources it uses.

    What is not known (an instance not named, the account of a bucket) stays a wildcard. Nothing
    is asked of AWS.
    """
    from awsideman.services.iam_policy import least_privilege

    render = renderer(ctx)
    settings = ctx.obj.settings()
    render.document(least_privilege(settings, for_=for_, instance_arn=instance, store=store, state=state,
                                    kms_key=kms_key))

"""The least-privilege IAM policy of a command, narrowed to the resources this setup uses.

Flags win over the config (``store``, ``state``, ``kms_key``, ``instance_arn``, ``region``); what
neither names stays a wildcard. Nothing is asked of AWS: the policy is computed from the
permissions table (``adapters/permissions.py``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from awsideman.adapters import permissions
from awsideman.config import Settings
from awsideman.core.command_scopes import FOR
from awsideman.core.exceptions import UsageError
from awsideman.services.state_backend import state_location

_INSTANCE = re.compile(r"^arn:aws[a-z-]*:sso:::instance/(ssoins-[0-9A-Za-z]{4,64})$")


def least_privilege(settings: Settings, *, for_: str = "all", instance_arn: str | None = None,
                    store: str | None = None, state: str | None = None, kms_key: str | None = None) -> dict[str, Any]:
    """The policy document for ``for_`` (backup, restore, rollback or all)."""
    commands, scope, skip = setup_scope(settings, for_=for_, instance_arn=instance_arn, store=store, state=state,
                                        kms_key=kms_key)
    return permissions.policy(commands, scope, skip=skip)


def setup_scope(settings: Settings, *, for_: str = "all", instance_arn: str | None = None, store: str | None = None,
                state: str | None = None, kms_key: str | None = None,
                ) -> tuple[list[str], permissions.Scope, frozenset[str]]:
    """(commands, what is known of their resources, resource kinds this setup does not use)."""
    if for_ not in FOR:
        raise UsageError(f"--for must be one of {', '.join(FOR)}, not {for_!r}")
    settings = replace(settings, store=store or settings.store, kms_key=kms_key or settings.kms_key,
                       state=state or settings.state, instance_arn=instance_arn or settings.instance_arn)
    commands = list(FOR[for_])
    scope = permissions.Scope(region=settings.region)
    skip: set[str] = set()
    if settings.instance_arn:
        found = _INSTANCE.match(settings.instance_arn)
        if found is None:
            raise UsageError(f"--instance {settings.instance_arn!r} is not an Identity Center instance ARN "
                             "(arn:aws:sso:::instance/ssoins-...)")
        scope = scope.with_(instance_id=found.group(1))
    if settings.identity_store_id:
        scope = scope.with_(identity_store_id=settings.identity_store_id)
    url = settings.default_store
    if url.startswith("s3://"):
        bucket, _, prefix = url[len("s3://"):].partition("/")
        scope = scope.with_(backup_bucket=bucket, backup_prefix=prefix.strip("/") or None)
    else:  # a local store: no S3 at all
        skip |= {"backup_bucket", "backup_objects"}
    key = settings.kms_key
    if key:  # an ARN names its own region and account; an id or alias is in the configured region
        scope = scope.with_(kms_key=key)
    else:  # backups not encrypted: no key to use
        skip.add("backup_key")
    topics = tuple(sink.topic_arn for sink in settings.notify if sink.kind == "sns")
    if topics:
        scope = scope.with_(topics=topics)
    else:  # no SNS sink: nothing is published
        skip.add("notify_topic")
    if settings.metrics.cloudwatch is None:  # no figures sent to CloudWatch
        skip.add("metrics")
    location = state_location(settings)
    if location.shared:
        commands.append("state")
        scope = scope.with_(state_table=location.table, state_bucket=location.bucket,
                        state_prefix=location.prefix or None)
    return commands, scope, frozenset(skip)

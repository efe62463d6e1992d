"""`awsideman state init` and `state migrate`: create or check the shared table, copy a local journal."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from awsideman.adapters.aws import AwsGateway, client_error_code
from awsideman.config import Settings
from awsideman.core.exceptions import ConfigError, JournalError
from awsideman.journal import Journal
from awsideman.journal import dynamo_items as items
from awsideman.journal.liveness import owner_alive
from awsideman.journal.records import RUNNING
from awsideman.services.state_backend import StateLocation, open_journal, state_gateway, state_location


@dataclass
class InitResult:
    table: str
    created: bool
    s3: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "created": self.created, "s3": self.s3, "notes": self.notes}


def _shared(settings: Settings) -> StateLocation:
    location = state_location(settings)
    if not location.shared:
        raise ConfigError("The state backend is `local`; these commands manage a shared DynamoDB table.",
                          remediation=["Pass --state dynamodb://TABLE, set AWSIDEMAN_STATE or `state:` in the config."])
    return location


def init_state(settings: Settings, *, gateway: AwsGateway | None = None,
               sleep: Callable[[float], None] = time.sleep, wait_seconds: float = 300.0) -> InitResult:
    """Create the table (on-demand) or check that an existing one is ours; check the S3 location."""
    location = _shared(settings)
    assert location.table is not None and location.bucket is not None
    gateway = gateway or state_gateway(settings)
    table = location.table
    s3 = f"s3://{location.bucket}/{location.prefix}".rstrip("/")
    result = InitResult(table, created=False, s3=s3)
    try:
        described = gateway.call("dynamodb", "DescribeTable", TableName=table)["Table"]
    except Exception as exc:
        if client_error_code(exc) != "ResourceNotFoundException":
            raise
        gateway.call("dynamodb", "CreateTable", idempotent=False, TableName=table, KeySchema=items.KEY_SCHEMA,
                     AttributeDefinitions=items.ATTRIBUTES, BillingMode="PAY_PER_REQUEST",
                     SSESpecification={"Enabled": True},
                     Tags=[{"Key": "awsideman", "Value": f"state schema {items.SCHEMA_VERSION}"}])
        result.created = True
        described = _wait_active(gateway, table, sleep, wait_seconds)
    _check_keys(table, described)
    if described.get("TableStatus") not in ("ACTIVE", "UPDATING"):
        described = _wait_active(gateway, table, sleep, wait_seconds)
    meta = gateway.call("dynamodb", "GetItem", TableName=table, Key=items.META_KEY, ConsistentRead=True).get("Item")
    if meta is None:
        if gateway.call("dynamodb", "Scan", TableName=table, Limit=1).get("Items"):
            raise JournalError(f"The table {table} holds items but is not an awsideman state table: not touched.",
                               remediation=["Name a new table with --state dynamodb://TABLE."])
        gateway.call("dynamodb", "PutItem", TableName=table, ConditionExpression="attribute_not_exists(pk)",
                     Item={**items.META_KEY, **items.encode_all({"app": items.APP, "version": items.SCHEMA_VERSION})})
    else:
        result.notes.append(f"The table {table} already exists and is an awsideman state table.")
    open_journal(settings, gateway).close()  # the same check every command makes
    try:
        gateway.call("s3", "ListObjectsV2", Bucket=location.bucket, Prefix=location.prefix, MaxKeys=1)
    except Exception as exc:
        raise JournalError(f"The table is ready, but {s3} (for large state values) cannot be listed: "
                           f"{client_error_code(exc) or exc}.",
                           remediation=["Create the bucket or set `state_s3: s3://BUCKET/PREFIX`; allow s3:ListBucket, "
                                        "s3:GetObject, s3:PutObject and s3:DeleteObject there."]) from exc
    return result


def _wait_active(gateway: AwsGateway, table: str, sleep: Callable[[float], None], limit: float) -> dict[str, Any]:
    waited = 0.0
    while True:
        described: dict[str, Any] = gateway.call("dynamodb", "DescribeTable", TableName=table)["Table"]
        if described.get("TableStatus") == "ACTIVE" or waited >= limit:
            return described
        sleep(2.0)
        waited += 2.0


def _check_keys(table: str, described: dict[str, Any]) -> None:
    keys = sorted((k["AttributeName"], k["KeyType"]) for k in described.get("KeySchema", []))
    types = {a["AttributeName"]: a["AttributeType"] for a in described.get("AttributeDefinitions", [])}
    if keys != [("pk", "HASH"), ("sk", "RANGE")] or types.get("pk") != "S" or types.get("sk") != "S":
        raise JournalError(f"The table {table} exists with another key schema ({keys}); awsideman needs "
                           "string keys pk (partition) and sk (sort).",
                           remediation=["Name a new table with --state dynamodb://TABLE; `state init` creates it."])


@dataclass
class MigrateResult:
    source: str
    table: str
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    items: int = 0
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "table": self.table, "copied": self.copied, "skipped": self.skipped,
                "items": self.items, "dry_run": self.dry_run}


def migrate_state(settings: Settings, *, source: str | None = None, dry_run: bool = False,
                  gateway: AwsGateway | None = None) -> MigrateResult:
    """Copy every operation of a local journal into the shared table (those already there are skipped).

    Children first, the operation item last and only if absent: a copy that was interrupted is
    simply run again. Refused while a local operation is still running.
    """
    from awsideman.journal.dynamo import DynamoJournal

    location = _shared(settings)
    path = settings.journal_path if source is None else _local_path(source)
    if not path.exists():
        raise ConfigError(f"There is no local journal at {path}.", remediation=["Pass --from PATH/state.db."])
    shared = open_journal(settings, gateway)
    assert isinstance(shared, DynamoJournal) and location.table is not None
    result = MigrateResult(str(path), location.table, dry_run=dry_run)
    with Journal.open(path) as local:
        operations = list(reversed(local.list_operations(limit=None)))
        running = [op.id for op in operations if op.status == RUNNING and owner_alive(op.owner, op.pid, op.pid_started)]
        if running:
            raise JournalError(f"Operation {running[0]} is still running from {path}; migrate once it has ended.")
        for op in operations:
            if shared.has_operation(op.id):
                result.skipped.append(op.id)
                continue
            result.copied.append(op.id)
            if dry_run:
                continue
            result.items += shared.import_operation(local.export_operation(op.id))
    shared.close()
    return result


def _local_path(source: str) -> Any:
    from pathlib import Path

    path = Path(source).expanduser()
    return path / "state.db" if path.is_dir() else path

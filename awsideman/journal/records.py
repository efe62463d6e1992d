"""What the journal holds, as plain types: operations, changes, lock holders, timestamps, JSON.

Pure (no file, no table): the rules (``rules.py``) and both stores share them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any

from awsideman.core.exceptions import ChangeTransitionError, OperationNotFoundError, OperationStateError
from awsideman.core.sanitize import sanitize_obj

__all__ = ["ChangeTransitionError", "OperationStateError"]

KINDS = ("backup", "restore", "rollback")
RUNNING = "running"
SUCCEEDED = "succeeded"
PARTIAL = "partial"
FAILED = "failed"
INTERRUPTED = "interrupted"
ROLLED_BACK = "rolled_back"
ROLLBACK_FAILED = "rollback_failed"
STATUSES = (RUNNING, SUCCEEDED, PARTIAL, FAILED, INTERRUPTED, ROLLED_BACK, ROLLBACK_FAILED)
FINISHED_STATUSES = tuple(s for s in STATUSES if s != RUNNING)
# Operations in these states may have left live changes that only the journal can undo.
UNSETTLED_STATUSES = (INTERRUPTED, FAILED, ROLLBACK_FAILED)


class ChangeState(StrEnum):
    """Where a journaled change is; it moves along ``TRANSITIONS`` only:

        INTENT  -> APPLIED      the call succeeded (async: the request reached SUCCEEDED)
        INTENT  -> FAILED       the call failed, or reconciliation found it never happened
        INTENT  -> COMPENSATED  outcome unknown (process died), reconciled and reverted
        APPLIED -> COMPENSATED  reverted by a rollback
        FAILED  -> COMPENSATED  a change that failed half-way (several calls) was reverted

    The journal never rewrites history, so a rollback can trust what it reads.
    """

    INTENT = "INTENT"
    APPLIED = "APPLIED"
    FAILED = "FAILED"
    COMPENSATED = "COMPENSATED"


TRANSITIONS: dict[ChangeState, frozenset[ChangeState]] = {
    ChangeState.INTENT: frozenset({ChangeState.APPLIED, ChangeState.FAILED, ChangeState.COMPENSATED}),
    ChangeState.APPLIED: frozenset({ChangeState.COMPENSATED}),
    ChangeState.FAILED: frozenset({ChangeState.COMPENSATED}),
    ChangeState.COMPENSATED: frozenset(),
}


@dataclass(frozen=True)
class Operation:
    """One operation record, with ``params`` and ``summary`` decoded."""

    id: str
    kind: str
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    backup_id: str | None = None
    instance_arn: str | None = None
    started_at: str = ""
    finished_at: str | None = None
    updated_at: str = ""
    pid: int | None = None
    host: str | None = None
    summary: dict[str, Any] | None = None
    owner: str | None = None
    pid_started: str | None = None
    # How unfinished checkpoints are sealed (KMS key id and wrapped data key; never the key).
    sealing: dict[str, Any] | None = None
    # The shared journal's lease (epoch seconds) of a running operation; None for a local one.
    lease_until: float | None = None
    # Who ran it last ({"arn", "account", "host"}: sts:GetCallerIdentity and the machine), once known.
    caller: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; uses ``operation_id`` as the key, like the CLI's JSON output."""
        return {
            "operation_id": self.id, "kind": self.kind, "status": self.status, "params": self.params,
            "backup_id": self.backup_id, "instance_arn": self.instance_arn, "started_at": self.started_at,
            "finished_at": self.finished_at, "updated_at": self.updated_at, "pid": self.pid,
            "host": self.host, "summary": self.summary, "caller": self.caller,
        }


@dataclass(frozen=True)
class ChangeRecord:
    """One journaled change."""

    operation_id: str
    seq: int
    kind: str
    forward: Any
    inverse: Any
    state: ChangeState
    request_id: str | None
    detail: str | None
    created_at: str
    updated_at: str
    address: str | None = None
    error: dict[str, Any] | None = None
    # For the audit trail: who journaled it ({"arn", "account", "host"}), its first outcome
    # (APPLIED or FAILED, kept once it is COMPENSATED) and when, and the writes its call sent
    # ([{"api", "request_id", "error"?}]: AWS request ids, never a payload).
    caller: dict[str, Any] | None = None
    outcome: str | None = None
    settled_at: str | None = None
    calls: list[dict[str, Any]] | None = None

    @property
    def settled(self) -> bool:
        """The outcome is known (not an INTENT whose call may or may not have happened)."""
        return self.state is not ChangeState.INTENT


@dataclass(frozen=True)
class LockHolder:
    """Who holds an instance's lock."""

    instance_arn: str
    operation_id: str
    pid: int | None
    acquired_at: str
    alive: bool
    # Known for the shared (DynamoDB) journal, whose holders may be on other machines.
    host: str | None = None
    expires_at: str | None = None


def operation_of(record: dict[str, Any]) -> Operation:
    return Operation(
        id=record["id"], kind=record["kind"], status=record["status"], params=json.loads(record.get("params") or "{}"),
        backup_id=record.get("backup_id"), instance_arn=record.get("instance_arn"),
        started_at=record.get("started_at") or "", finished_at=record.get("finished_at"),
        updated_at=record.get("updated_at") or "", pid=record.get("pid"), host=record.get("host"),
        summary=loads(record.get("summary")), owner=record.get("owner") or None,
        pid_started=record.get("pid_started") or None, sealing=loads(record.get("sealing")),
        lease_until=record.get("lease_until") or None, caller=loads(record.get("caller")))


def change_of(record: dict[str, Any]) -> ChangeRecord:
    return ChangeRecord(
        operation_id=record["operation_id"], seq=int(record["seq"]), kind=record["kind"],
        forward=json.loads(record.get("forward") or "null"), inverse=loads(record.get("inverse")),
        state=ChangeState(record["state"]), request_id=record.get("request_id"), detail=record.get("detail"),
        created_at=record["created_at"], updated_at=record["updated_at"], address=record.get("address"),
        error=loads(record.get("error")), caller=loads(record.get("caller")), outcome=record.get("outcome") or None,
        settled_at=record.get("settled_at") or None, calls=loads(record.get("calls")))


def error_of(record: dict[str, Any]) -> dict[str, Any]:
    return {"id": int(record["id"]), "operation_id": record["operation_id"], "step": record.get("step"),
            "category": record.get("category"), "severity": record.get("severity"), "code": record.get("code"),
            "message": record.get("message") or "", "recoverable": bool(record.get("recoverable")),
            "remediation": json.loads(record.get("remediation") or "[]"), "created_at": record.get("created_at")}


def not_found(operation_id: str) -> OperationNotFoundError:
    return OperationNotFoundError(
        f"No operation {operation_id} in the journal.",
        remediation=["Run `awsideman report list` to see recent operations."],
    )


def utc_timestamp(now: datetime | None = None) -> str:
    """Format ``now`` (default: current time) as ISO 8601 UTC with a ``Z``, to the millisecond.

    Always three fraction digits, so timestamps written by this version order correctly as
    strings (SQLite ``ORDER BY``, DynamoDB sort keys, retention cut-offs); durations of runs of
    a few seconds need the milliseconds (journals before them kept whole seconds).
    """
    now = datetime.now(UTC) if now is None else as_utc(now)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    """Parse a timestamp written by ``utc_timestamp`` (with or without milliseconds) into aware UTC."""
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def timestamp_key(value: str | None) -> str:
    """``value`` in the millisecond form, for comparing old (whole-second) and new timestamps as strings."""
    if not value:
        return ""
    return value if "." in value else value.replace("Z", ".000Z")


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def dumps(value: Any) -> str:
    """Canonical JSON of data the journal must keep exactly (checkpoints, change payloads)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dumps_sanitized(value: Any) -> str:
    """JSON of text meant for people (params, summaries, errors): secrets never reach the store."""
    return dumps(sanitize_obj(value))


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def plain(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.value) if isinstance(value, Enum) else str(value)

"""Row types and JSON helpers shared by the journal's tables."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from awsideman.core.sanitize import sanitize_obj

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


@dataclass(frozen=True)
class Operation:
    """One row of the ``operations`` table, with ``params`` and ``summary`` decoded."""

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

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; uses ``operation_id`` as the key, like the CLI's JSON output."""
        return {
            "operation_id": self.id, "kind": self.kind, "status": self.status, "params": self.params,
            "backup_id": self.backup_id, "instance_arn": self.instance_arn, "started_at": self.started_at,
            "finished_at": self.finished_at, "updated_at": self.updated_at, "pid": self.pid,
            "host": self.host, "summary": self.summary,
        }


def operation_of(row: sqlite3.Row) -> Operation:
    return Operation(
        id=row["id"], kind=row["kind"], status=row["status"], params=json.loads(row["params_json"] or "{}"),
        backup_id=row["backup_id"], instance_arn=row["instance_arn"], started_at=row["started_at"],
        finished_at=row["finished_at"], updated_at=row["updated_at"], pid=row["pid"], host=row["host"],
        summary=loads(row["summary_json"]), owner=row["owner"], pid_started=row["pid_started"],
        sealing=loads(row["sealing_json"]),
    )


def dumps(value: Any) -> str:
    """Canonical JSON of data the journal must keep exactly (checkpoints, change payloads)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dumps_sanitized(value: Any) -> str:
    """JSON of text meant for people (params, summaries, errors): secrets never reach the file."""
    return dumps(sanitize_obj(value))


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def plain(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.value) if isinstance(value, Enum) else str(value)

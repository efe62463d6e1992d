"""The audit trail (``report audit``): every change made and every change compensated, by whom,
when, on which resource, with the AWS request ids of its writes; read from the journal only.

One entry per journaled change and action, so a restore and its rollback list each change once
as ``applied`` (under the restore) and once as ``compensated`` (under the operation that reverted
it: the restore itself for an automatic rollback, else the ``rollback`` operation):

- ``applied``: a restore's change that took effect (also when it was reverted later);
- ``compensated``: an inverse that took effect, reverting the change of ``reverts``;
- ``failed``: a call the service refused, or that failed part-way (a change or an inverse);
- ``unsettled``: journaled as an intent whose outcome was never recorded (the process died).

Sanitised, and nothing of a change's payload: a change's ``before``/``after`` and its inverse
hold previous attribute values (personal data). An entry names the resource by its address,
the attributes an update changed by name, and the error by category and code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from awsideman.core.exceptions import UsageError
from awsideman.core.ids import validate_operation_id
from awsideman.core.sanitize import sanitize_obj
from awsideman.journal import ChangeRecord, ChangeState, Operation, StateJournal, utc_timestamp
from awsideman.journal.records import timestamp_key

FORMATS = ("json", "csv")
EVENTS = ("applied", "compensated", "failed", "unsettled")
_COMPENSATION = "compensate:"
_SINCE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
# The CSV's columns, in order; lists are joined with spaces (request ids and API names hold none).
CSV_COLUMNS = ("at", "event", "operation_id", "operation_kind", "reverts", "seq", "resource", "resource_kind",
               "action", "attributes", "caller_arn", "caller_account", "host", "apis", "request_ids",
               "async_request_id", "error_category", "error_code")


@dataclass(frozen=True)
class AuditTrail:
    """The entries and the filters that chose them; ``to_dict()`` is the JSON document."""

    entries: list[dict[str, Any]]
    since: str | None = None
    operation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"entries": self.entries, "count": len(self.entries), "since": self.since,
                "operation_id": self.operation_id}
        return dict(sanitize_obj(data))

    def csv_rows(self) -> list[list[str]]:
        """One row per entry, in ``CSV_COLUMNS`` order (empty cells for absent values)."""
        return [[_cell(entry, column) for column in CSV_COLUMNS] for entry in self.to_dict()["entries"]]


def parse_since(text: str) -> str:
    """``--since``: a date (``2026-11-28``, midnight UTC) or a date and time (UTC unless it names
    an offset: ``2026-11-28T10:15``, ``2026-11-28T10:15:00Z``, ``...+02:00``), as a journal timestamp."""
    value = str(text).strip()
    moment = None
    if _SINCE.fullmatch(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None:
        raise UsageError(f"--since must be a date (YYYY-MM-DD) or a date and time in UTC (YYYY-MM-DDTHH:MM[:SS]Z), "
                         f"not {value[:40]!r}", remediation=["For example: --since 2026-11-28 or --since "
                                                             "2026-11-28T10:15:00Z"])
    return utc_timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def audit_trail(journal: StateJournal, *, since: str | None = None, operation_id: str | None = None) -> AuditTrail:
    """The entries of every restore and rollback (or of ``operation_id`` and what reverted it),
    at or after ``since`` (a journal timestamp), oldest first."""
    if operation_id is not None:
        op = journal.get_operation(validate_operation_id(operation_id))
        ops = [op, *_rollbacks_of(journal, op)]
    else:
        ops = [op for op in journal.list_operations(limit=None) if op.kind in ("restore", "rollback")]
    cutoff = timestamp_key(since) if since else ""
    entries = []
    for op in ops:
        if cutoff and op.status != "running" and _ended(op) < cutoff:
            continue  # it ended before the window: none of its entries is in it
        for record in journal.changes(op.id):
            entry = audit_entry(op, record)
            if timestamp_key(entry["at"]) < cutoff:
                continue
            if operation_id is None or operation_id in (entry["operation_id"], entry["reverts"]):
                entries.append(entry)
    entries.sort(key=lambda e: (timestamp_key(e["at"]), e["operation_id"], e["seq"]))
    return AuditTrail(entries, since=since, operation_id=operation_id)


def audit_entry(op: Operation, record: ChangeRecord) -> dict[str, Any]:
    """One change of ``op`` as an audit entry (see the module docstring)."""
    compensation = op.kind == "rollback" or record.kind.startswith(_COMPENSATION)
    outcome = record.outcome or (record.state.value if record.state in (ChangeState.APPLIED, ChangeState.FAILED)
                                 else None)  # a change journaled before outcomes were kept
    if outcome == ChangeState.APPLIED.value:
        event = "compensated" if compensation else "applied"
    else:
        event = "failed" if outcome == ChangeState.FAILED.value else "unsettled"
    settled = record.settled_at or (record.updated_at if outcome and record.outcome is None else None)
    forward = record.forward if isinstance(record.forward, dict) else {}
    caller = record.caller or op.caller or {}
    error = record.error or {}
    return {
        "at": settled or record.created_at, "event": event, "operation_id": op.id, "operation_kind": op.kind,
        "reverts": (str((op.params or {}).get("restore_operation_id") or "") or None if op.kind == "rollback"
                    else op.id) if compensation else None,
        "seq": record.seq, "resource": record.address or forward.get("address"),
        "resource_kind": forward.get("resource"), "action": forward.get("action"),
        # Names only: the values are personal data (and the before values are what an inverse holds).
        "attributes": sorted(forward.get("diff") or {}) if forward.get("action") == "update" else [],
        "caller_arn": caller.get("arn"), "caller_account": caller.get("account"),
        "host": caller.get("host") or op.host,
        "requests": [{k: call[k] for k in ("api", "request_id", "error") if call.get(k)}
                     for call in record.calls or [] if isinstance(call, dict)],
        "async_request_id": record.request_id,
        "error": {"category": error.get("category"), "code": error.get("code")} if error else None,
    }


def _rollbacks_of(journal: StateJournal, op: Operation) -> list[Operation]:
    if op.kind != "restore":
        return []
    return [r for r in journal.list_operations(limit=None, kind="rollback")
            if (r.params or {}).get("restore_operation_id") == op.id]


def _ended(op: Operation) -> str:
    return max(timestamp_key(op.finished_at), timestamp_key(op.updated_at), timestamp_key(op.started_at))


def _cell(entry: dict[str, Any], column: str) -> str:
    requests = entry.get("requests") or []
    error = entry.get("error") or {}
    value: Any = {"apis": [r.get("api") for r in requests], "request_ids": [r.get("request_id") for r in requests],
                  "error_category": error.get("category"), "error_code": error.get("code")}.get(column,
                                                                                               entry.get(column))
    if isinstance(value, list):
        return " ".join(str(v) for v in value if v)
    return "" if value is None else str(value)

"""`report show`: an operation's journal turned into what happened and what to do next.

Everything here is read from the journal (DESIGN section 5: operations, changes, errors), so
a report of an operation killed with ``kill -9`` is as exact as one of a clean run. The text
is sanitised on the way out as well as on the way in (the journal already is).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from awsideman.core.error_table import SEVERITIES
from awsideman.core.exceptions import OperationNotFoundError
from awsideman.core.ids import validate_operation_id
from awsideman.core.sanitize import sanitize_obj
from awsideman.journal import ChangeRecord, ChangeState, Operation, StateJournal, parse_timestamp

LAST = "last"
# Ended as asked: what they applied is the intended result, not something left over.
_SETTLED = ("succeeded", "partial")


@dataclass
class Report:
    """The report's data; ``to_dict()`` is the JSON form, text and markdown render from it."""

    operation_id: str
    kind: str
    status: str
    summary: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)
    compensated: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    leftover: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    recovery: list[str] = field(default_factory=list)
    next_command: str | None = None
    backup_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = {"applied": len(self.applied), "compensated": len(self.compensated),
                          "failed": len(self.failed), "leftover": len(self.leftover)}
        data["errors"] = [{k: group[k] for k in ("category", "severity", "code", "message", "recoverable",
                                                 "remediation")} for group in self.failures]
        return sanitize_obj(data)


def resolve_operation(journal: StateJournal, operation_id: str) -> Operation:
    """``last`` (the newest operation) or a validated operation id."""
    if operation_id == LAST:
        newest = journal.list_operations(limit=1)
        if not newest:
            raise OperationNotFoundError(f"No operations in the journal {journal.path} yet.",
                                         remediation=["Run `awsideman backup create` first."])
        return newest[0]
    return journal.get_operation(validate_operation_id(operation_id))


def build_report(journal: StateJournal, operation_id: str) -> Report:
    """The report of one operation (``last`` for the newest)."""
    op = resolve_operation(journal, operation_id)
    records = journal.changes(op.id)
    forward = [r for r in records if not r.kind.startswith("compensate:")]
    report = Report(operation_id=op.id, kind=op.kind, status=op.status, summary=_summary(op),
                    backup_id=op.backup_id)
    if op.kind == "rollback":
        # A rollback's own changes are compensations of the restore it reverts.
        report.compensated = [_change(r) for r in records if r.state is ChangeState.APPLIED]
        report.failed = [_change(r) for r in records if r.state is ChangeState.FAILED]
        report.leftover = [dict(item) for item in (op.summary or {}).get("leftover") or []]
    else:
        report.applied = [_change(r) for r in forward if r.state is ChangeState.APPLIED]
        report.compensated = [_change(r) for r in forward if r.state is ChangeState.COMPENSATED]
        report.failed = [_change(r) for r in records if r.state is ChangeState.FAILED]
        if op.status not in _SETTLED:  # what a failed or stopped restore left changed
            report.leftover = [dict(_change(r), what="applied and not reverted" if r.state is ChangeState.APPLIED
                                    else "outcome unknown (the process stopped during the call)")
                               for r in forward if r.state in (ChangeState.APPLIED, ChangeState.INTENT)]
    report.failures = group_failures(_errors(journal, op, records))
    report.timeline = _timeline(op, records, journal.errors(op.id))
    report.next_command, report.recovery = next_steps(op, report, _rollbacks_of(journal, op))
    return report


def _summary(op: Operation) -> dict[str, Any]:
    started, finished = op.started_at, op.finished_at
    seconds = None
    if started and finished:
        seconds = round((parse_timestamp(finished) - parse_timestamp(started)).total_seconds(), 3)
    params = {k: v for k, v in (op.params or {}).items() if v not in (None, [], "")}
    return {"operation_id": op.id, "kind": op.kind, "status": op.status, "backup_id": op.backup_id,
            "instance_arn": op.instance_arn, "started_at": started, "finished_at": finished,
            "duration_seconds": seconds, "host": op.host, "params": params, "recorded": op.summary or {}}


def _change(record: ChangeRecord) -> dict[str, Any]:
    forward = record.forward if isinstance(record.forward, dict) else {}
    item = {"seq": record.seq, "address": record.address or forward.get("address"), "kind": record.kind,
            "action": forward.get("action"), "state": record.state.value, "at": record.updated_at}
    if record.request_id:
        item["request_id"] = record.request_id
    if record.error:
        item["error"] = {k: record.error.get(k) for k in ("category", "code", "message")}
    return item


def _errors(journal: StateJournal, op: Operation, records: list[ChangeRecord]) -> list[dict[str, Any]]:
    """Every analysed error of the operation: the errors table, failed changes, the summary."""
    found = [dict(e, resource=e.get("step")) for e in journal.errors(op.id)]
    found += [dict(r.error, resource=r.address, during="rollback" if r.kind.startswith("compensate:") else None)
              for r in records if r.state is ChangeState.FAILED and r.error]
    if not found:  # older operations (or a failure before any change) keep it only in the summary
        recorded = op.summary or {}
        for error in recorded.get("errors") or []:
            found.append({"code": error.get("code"), "message": error.get("message"), "category": "unknown"})
        if recorded.get("error"):
            found.append({"message": recorded["error"], "category": recorded.get("category") or "unknown",
                          "code": recorded.get("code") or "Error"})
    return found


def group_failures(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors grouped by category: worst severity, codes, distinct messages, joint remediation."""
    groups: dict[str, dict[str, Any]] = {}
    for error in errors:
        category = error.get("category") or "unknown"
        group = groups.setdefault(category, {"category": category, "severity": "low", "count": 0, "codes": [],
                                             "messages": [], "resources": [], "remediation": [],
                                             "recoverable": True})
        group["count"] += 1
        severity = error.get("severity") or "medium"
        if SEVERITIES.index(severity) > SEVERITIES.index(group["severity"]):
            group["severity"] = severity
        group["recoverable"] = group["recoverable"] and bool(error.get("recoverable"))
        for key, value in (("codes", error.get("code")), ("messages", error.get("message")),
                           ("resources", error.get("resource"))):
            if value and value not in group[key] and len(group[key]) < 20:
                group[key].append(value)
        for step in error.get("remediation") or []:
            if step not in group["remediation"]:
                group["remediation"].append(step)
    ordered = sorted(groups.values(), key=lambda g: (-SEVERITIES.index(g["severity"]), g["category"]))
    for group in ordered:
        group["code"] = ", ".join(group["codes"]) or "Error"
        group["message"] = group["messages"][0] if group["messages"] else ""
    return ordered


def _timeline(op: Operation, records: list[ChangeRecord], errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events = [{"at": op.started_at, "event": f"{op.kind} started"}]
    applied = [r for r in records if r.state in (ChangeState.APPLIED, ChangeState.COMPENSATED)
               and not r.kind.startswith("compensate:")]
    if applied:
        events.append({"at": min(r.created_at for r in applied), "event": "first change applied"})
    for record in records:
        if record.state is ChangeState.FAILED:
            code = (record.error or {}).get("code", "error")
            events.append({"at": record.updated_at, "event": f"FAILED {record.address}: {code}"})
    compensations = [r for r in records if r.kind.startswith("compensate:") and r.state is ChangeState.APPLIED]
    if compensations and op.kind == "restore":
        events.append({"at": min(r.created_at for r in compensations),
                       "event": f"automatic rollback started ({len(compensations)} compensation(s))"})
    for error in errors:
        events.append({"at": error["created_at"], "event": f"error: {error.get('code')} ({error.get('category')})"})
    if op.finished_at:
        events.append({"at": op.finished_at, "event": f"{op.kind} ended: {op.status}"})
    return sorted(events, key=lambda e: e["at"] or "")


def _rollbacks_of(journal: StateJournal, op: Operation) -> list[Operation]:
    if op.kind != "restore":
        return []
    return [r for r in journal.list_operations(limit=200, kind="rollback")
            if (r.params or {}).get("restore_operation_id") == op.id]


def next_steps(op: Operation, report: Report, rollbacks: list[Operation]) -> tuple[str | None, list[str]]:
    """The exact next command and the recovery options, for every kind and status.

    The one place that decides what to run next (text, JSON and markdown all show this).
    """
    params = op.params or {}
    status = op.status
    if status == "running":
        return None, [f"{op.id} is still running (pid {op.pid} on {op.host}); wait for it, or stop it and "
                      "run `awsideman report show` again."]
    if op.kind == "backup":
        if status == "succeeded":
            return None, [f"Nothing to do. Check the backup: awsideman backup verify {op.backup_id}"]
        if status == "partial":
            return "awsideman backup create", [
                f"{op.backup_id} is marked partial; fix the cause below, then take a complete backup.",
                f"See what it misses: awsideman backup show {op.backup_id}"]
        resume = f"awsideman backup create --resume {op.id}"
        return resume, [f"Fix the cause below, then continue from the checkpoints: {resume}",
                        "Or keep what could be read: add --allow-partial to that command."]
    if op.kind == "rollback":
        target = params.get("restore_operation_id", "OP_ID")
        if status == "succeeded":
            return None, [f"Nothing to do: every change of {target} that was applied is reverted."]
        again = f"awsideman rollback {target}"
        return again, [f"Fix the cause below, then run the rollback again (it continues where it stopped): {again}",
                       "Or fix each left-over resource by hand against the backup."]
    return _restore_steps(op, report, rollbacks)


def _restore_steps(op: Operation, report: Report, rollbacks: list[Operation]) -> tuple[str | None, list[str]]:
    backup = op.backup_id or (op.params or {}).get("backup_id") or "BACKUP_ID"
    retry = f"awsideman restore {backup} --dry-run"
    rollback = f"awsideman rollback {op.id}"
    resume = f"awsideman restore --resume {op.id}"
    if op.status == "succeeded":
        return None, ["Nothing to do: the instance matches the backup in scope.",
                      f"Undo it if needed: {rollback}"]
    if op.status == "partial":
        return None, ["Skipped resources differ from the backup (--conflict skip).",
                      f"Review them: {retry}, then restore with --conflict overwrite if they should match."]
    if op.status == "rolled_back" or (not report.leftover and rollbacks and rollbacks[0].status == "succeeded"):
        return retry, ["Every applied change was reverted: the instance is as it was before the restore.",
                       f"Fix the cause below, then review the plan again: {retry} (and run it without --dry-run)."]
    if not report.leftover:
        return retry, ["Nothing was changed by this restore.",
                       f"Fix the cause below, then review the plan again: {retry}"]
    if op.status == "rollback_failed":
        return rollback, [f"{len(report.leftover)} change(s) are still applied: fix the cause below, then finish "
                          f"the rollback: {rollback}", "Or fix each left-over resource by hand against the backup."]
    if (op.params or {}).get("auto_rollback", True) and op.status == "interrupted":
        return rollback, [f"The restore was stopped before it finished; undo what it applied: {rollback}",
                          f"Or finish it instead: {resume}"]
    return resume, [f"{len(report.leftover)} change(s) are applied and kept. Finish the restore when the cause "
                    f"below is fixed: {resume}", f"Or undo what it applied: {rollback}"]

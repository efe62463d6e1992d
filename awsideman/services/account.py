"""An operation's account: what happened and what to do next, computed from the journal only.

Every view of an operation reads ``operation_account`` (DESIGN section 1): ``report show`` in
its three formats, ``report list``, ``analyze-error --operation``, the closing summary of
``backup create`` / ``restore`` / ``rollback``, and the metrics file. So they cannot disagree.
Everything comes from the journal (section 5: operations, changes, errors), so the account of
an operation killed with ``kill -9`` is as exact as one of a clean run. The text is sanitised
on the way out as well as on the way in (the journal already is).

One definition of the counts, for every kind:
- ``applied``: forward changes that took effect, including those later compensated;
- ``compensated``: changes reverted (a rollback's own changes are all compensations);
- ``failed``: changes that failed (forward or compensation);
- ``leftover``: what is still in effect and was not intended (nothing after a success).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from awsideman.core.error_table import SEVERITIES
from awsideman.core.errors import dedupe_steps
from awsideman.core.exceptions import OperationNotFoundError
from awsideman.core.ids import validate_operation_id
from awsideman.core.sanitize import sanitize_obj
from awsideman.journal import ChangeRecord, ChangeState, Operation, StateJournal, parse_timestamp
from awsideman.journal.records import timestamp_key

LAST = "last"
# Ended as asked: what they applied is the intended result, not something left over.
_SETTLED = ("succeeded", "partial")
_COMPENSATION = "compensate:"
# A clause that proposes `awsideman rollback ...` (dropped where a rollback has nothing to do).
_ROLLBACK_CLAUSE = re.compile(r"[,;]?\s*(?:or\s+)?(?:undo it with\s+)?`awsideman rollback [^`]*`[^.;,]*")


@dataclass
class Account:
    """The account's data; ``to_dict()`` is the JSON form (``report show -o json``)."""

    operation_id: str
    kind: str
    status: str
    summary: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)
    compensated: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    # Failed changes a recovery policy skipped (a subset of ``failed``): the run went on without them.
    skipped: list[dict[str, Any]] = field(default_factory=list)
    leftover: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    recovery: list[str] = field(default_factory=list)
    next_command: str | None = None
    backup_id: str | None = None
    phases: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {"applied": len(self.applied), "compensated": len(self.compensated), "failed": len(self.failed),
                "leftover": len(self.leftover)}

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The analysed errors, one per category (the JSON contract's shape, plus the count)."""
        keys = ("category", "severity", "code", "message", "recoverable", "remediation", "count")
        return sanitize_obj([{k: group[k] for k in keys} for group in self.failures])

    @property
    def duration_seconds(self) -> float | None:
        return self.summary.get("duration_seconds")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts
        data["errors"] = self.errors
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


def operation_account(journal: StateJournal, operation_id: str) -> Account:
    """The account of one operation (``last`` for the newest): see the module docstring."""
    op = resolve_operation(journal, operation_id)
    records = journal.changes(op.id)
    links = _links(journal, op)
    status = _status(op, records, links)
    account = Account(operation_id=op.id, kind=op.kind, status=status, summary={},
                      backup_id=op.backup_id or (op.params or {}).get("backup_id"), links=links)
    if op.kind == "rollback":
        # A rollback's own changes are compensations of the restore it reverts.
        account.compensated = [_change(r) for r in records if r.state is ChangeState.APPLIED]
        account.failed = [_change(r) for r in records if r.state is ChangeState.FAILED]
        account.leftover = _rollback_leftover(journal, op, status)
    else:
        forward = [r for r in records if not r.kind.startswith(_COMPENSATION)]
        account.applied = [_change(r) for r in forward if r.state in (ChangeState.APPLIED, ChangeState.COMPENSATED)]
        account.compensated = [_change(r) for r in forward if r.state is ChangeState.COMPENSATED]
        account.failed = [_change(r) for r in records if r.state is ChangeState.FAILED]
        account.skipped = [item for item in account.failed if (item.get("decision") or {}).get("action") == "skip"]
        if status not in _SETTLED:
            account.leftover = _restore_leftover(records)
            if not links.get("rollbacks"):  # a later rollback decided what is left, not the policy
                _policy_reasons(op, records, account.leftover)
    errors = journal.errors(op.id)
    account.summary = _summary(op, status, account.backup_id, _finished_at(op, records, errors))
    account.phases = _phases(op, records, account.summary)
    found = [_fit(e, op, bool(account.leftover)) for e in _errors(op, records, errors)]
    account.failures = group_failures(found)
    account.timeline = _timeline(op, records, errors, account.summary["finished_at"], links)
    account.next_command, account.recovery = next_steps(op, account)
    return account


def _links(journal: StateJournal, op: Operation) -> dict[str, Any]:
    """A restore's rollbacks (newest first) and a rollback's restore: both directions of the link."""
    if op.kind == "rollback":
        return {"restore": (op.params or {}).get("restore_operation_id")}
    if op.kind != "restore":
        return {}
    found = [r for r in journal.list_operations(limit=200, kind="rollback")
             if (r.params or {}).get("restore_operation_id") == op.id]
    named = set((op.summary or {}).get("rollbacks") or [])
    named.discard(None)
    ids = [r.id for r in found]
    ids += sorted((i for i in named if i not in ids), reverse=True)
    seen = {r.id: r for r in found}
    return {"rollbacks": [{"operation_id": i, "status": seen[i].status if i in seen else None,
                           "at": (seen[i].finished_at or seen[i].started_at) if i in seen else None} for i in ids]}


def _status(op: Operation, records: list[ChangeRecord], links: dict[str, Any]) -> str:
    """The restore's status after a later rollback, also when that rollback was stopped (or predates
    ``record_rollback``): reverted when nothing of it is open, else not fully reverted."""
    rollbacks = [r for r in links.get("rollbacks") or [] if r.get("status") not in (None, "running")]
    if op.kind != "restore" or not rollbacks or op.status in ("running", "rolled_back", "rollback_failed"):
        return op.status
    if not any(not r.kind.startswith(_COMPENSATION) for r in records):
        return op.status  # it changed nothing: a rollback of it (nothing to revert) does not make it reverted
    return "rollback_failed" if _restore_leftover(records) else "rolled_back"


def _restore_leftover(records: list[ChangeRecord]) -> list[dict[str, Any]]:
    """What a restore left in effect: one item per address the rollback would still revert."""
    from awsideman.services.compensation import open_changes

    left = []
    for address, open_records in sorted(open_changes(records).items()):
        first = open_records[0]
        what = ("applied and not reverted" if first.state is ChangeState.APPLIED
                else "outcome unknown (the process stopped during the call)" if first.state is ChangeState.INTENT
                else "failed part-way: may be partly in effect")
        left.append(dict(_change(first), address=address, what=what))
    return left


def _policy_reasons(op: Operation, records: list[ChangeRecord], leftover: list[dict[str, Any]]) -> None:
    """Why the restore's rollback policy (journaled in its params, its end in its summary) left each
    item in effect: ``why`` and ``policy`` on the items it left on purpose (or for lack of time)."""
    from awsideman.core.rollback_policy import (
        NEVER_REASON,
        RollbackPolicy,
        budget_reason,
        kept_reason,
        needs_kept_reason,
    )

    params, recorded = op.params or {}, (op.summary or {}).get("rollback") or {}
    try:
        policy = RollbackPolicy.from_params(params.get("rollback"))
    except (ValueError, TypeError):  # a journal written by something else: no reason rather than a wrong one
        return
    because = recorded.get("because") or {}
    refused = {r.address for r in records if r.kind.startswith(_COMPENSATION) and r.state is ChangeState.FAILED}
    for item in leftover:
        if op.status == "failed" and params.get("auto_rollback") is False:
            item.update(why="kept: --no-auto-rollback", policy="--no-auto-rollback")
        elif op.status == "failed" and policy.when == "never":
            item.update(why=NEVER_REASON, policy="rollback.when")
        elif op.status not in ("rolled_back", "rollback_failed"):
            continue
        elif policy.keeps((item.get("kind") or ":").split(":")[0]):
            item.update(why=kept_reason((item.get("kind") or ":").split(":")[0]), policy="rollback.keep")
        elif item["address"] in because or (op.status == "rolled_back" and policy.keep):
            # A complete rollback left nothing but what the policy kept: the rest are its dependents.
            item.update(why=because.get(item["address"]) or needs_kept_reason("a change"), policy="rollback.keep")
        elif recorded.get("out_of_budget") and item["address"] not in refused:
            item.update(why=budget_reason(policy.time_budget), policy="rollback.time_budget")


def _rollback_leftover(journal: StateJournal, op: Operation, status: str) -> list[dict[str, Any]]:
    recorded = op.summary or {}
    if "leftover" in recorded:
        return [dict(item) for item in recorded.get("leftover") or []]
    restore = (op.params or {}).get("restore_operation_id")
    if status == "succeeded" or not restore:
        return []
    # Stopped before it recorded its end: what is still open of the restore is what it left.
    return _restore_leftover(journal.changes(str(restore)))


def _finished_at(op: Operation, records: list[ChangeRecord], errors: list[dict[str, Any]]) -> str | None:
    """When it ended; for one that was stopped, the last time it was seen at work (its last write)."""
    if op.status == "running":
        return None
    if op.status != "interrupted":
        return op.finished_at
    seen = [op.finished_at, op.updated_at, *(r.updated_at for r in records), *(e.get("created_at") for e in errors)]
    return max((s for s in seen if s), key=timestamp_key, default=None)


def _seconds(started: str | None, finished: str | None) -> float | None:
    if not started or not finished:
        return None
    return round(max(0.0, (parse_timestamp(finished) - parse_timestamp(started)).total_seconds()), 3)


def _summary(op: Operation, status: str, backup_id: str | None, finished: str | None) -> dict[str, Any]:
    params = {k: v for k, v in (op.params or {}).items() if v not in (None, [], "")}
    return {"operation_id": op.id, "kind": op.kind, "status": status, "backup_id": backup_id,
            "instance_arn": op.instance_arn, "started_at": op.started_at, "finished_at": finished,
            "duration_seconds": _seconds(op.started_at, finished), "host": op.host, "params": params,
            "recorded": op.summary or {}}


def _phases(op: Operation, records: list[ChangeRecord], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's phases: as the run recorded them (``summary["phases"]``), else from the changes."""
    recorded = (op.summary or {}).get("phases")
    if isinstance(recorded, list) and recorded:
        phases = [dict(p) for p in recorded if isinstance(p, dict)]
    else:
        phases = _derived_phases(op, records, summary["finished_at"])
    for phase in phases:
        phase["seconds"] = _seconds(phase.get("started_at"), phase.get("finished_at"))
    return phases


def _derived_phases(op: Operation, records: list[ChangeRecord], finished: str | None) -> list[dict[str, Any]]:
    compensations = [r for r in records if r.kind.startswith(_COMPENSATION) or op.kind == "rollback"]
    forward = [r for r in records if r not in compensations]
    first = min((r.created_at for r in records), key=timestamp_key, default=None)
    phases = [_phase("planning" if op.kind == "restore" else "reading" if op.kind == "backup" else "preparing",
                     op.started_at, first or finished, None, None)]
    if forward:
        # Reverting marks the forward changes too: the apply phase ends where the rollback starts.
        ended = min(_last(forward), _first(compensations), key=timestamp_key) if compensations else _last(forward)
        phases.append(_phase("applying", _first(forward), ended,
                             sum(r.state in (ChangeState.APPLIED, ChangeState.COMPENSATED) for r in forward),
                             len(forward)))
    if compensations:
        phases.append(_phase("compensating", _first(compensations), _last(compensations),
                             sum(r.state is ChangeState.APPLIED for r in compensations), len(compensations)))
    return phases


def _phase(name: str, started: str | None, finished: str | None, done: int | None,
           total: int | None) -> dict[str, Any]:
    return {"name": name, "started_at": started, "finished_at": finished, "done": done, "total": total}


def _first(records: list[ChangeRecord]) -> str:
    return min((r.created_at for r in records), key=timestamp_key)


def _last(records: list[ChangeRecord]) -> str:
    return max((r.updated_at for r in records), key=timestamp_key)


def _change(record: ChangeRecord) -> dict[str, Any]:
    forward = record.forward if isinstance(record.forward, dict) else {}
    item = {"seq": record.seq, "address": record.address or forward.get("address"), "kind": record.kind,
            "action": forward.get("action"), "state": record.state.value, "at": record.updated_at}
    if record.request_id:
        item["request_id"] = record.request_id
    if record.error:
        item["error"] = {k: record.error.get(k) for k in ("category", "code", "message")}
        if isinstance(record.error.get("decision"), dict):  # what a recovery policy did with it, and which rule
            item["decision"] = {k: record.error["decision"].get(k) for k in ("action", "rule", "category", "reason")
                                if record.error["decision"].get(k) is not None}
    return item


def _errors(op: Operation, records: list[ChangeRecord], errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every analysed error of the operation: the errors table, failed changes, the summary."""
    found = [dict(e, resource=e.get("step")) for e in errors]
    found += [dict(r.error, resource=r.address, during="rollback" if r.kind.startswith(_COMPENSATION) else None)
              for r in records if r.state is ChangeState.FAILED and r.error]
    if not found:  # older operations (or a failure before any change) keep it only in the summary
        recorded = op.summary or {}
        for error in recorded.get("errors") or []:
            found.append({"code": error.get("code"), "message": error.get("message"), "category": "unknown"})
        if recorded.get("error"):
            found.append({"message": recorded["error"], "category": recorded.get("category") or "unknown",
                          "code": recorded.get("code") or "Error"})
    return found


def _fit(error: dict[str, Any], op: Operation, leftover: bool) -> dict[str, Any]:
    """The error's advice for this operation (see ``fit_remediation``)."""
    restore = (op.params or {}).get("restore_operation_id") if op.kind == "rollback" else op.id
    rollback_id = str(restore) if op.kind in ("restore", "rollback") and leftover and restore else None
    return dict(error, remediation=fit_remediation(error.get("remediation") or [], op.id, rollback_id))


def fit_remediation(steps: list[Any], operation_id: str, rollback_id: str | None) -> list[str]:
    """Advice written for any operation, made exact for one: its real id for the ``OP_ID``
    placeholder; ``awsideman rollback`` naming ``rollback_id`` (the restore to revert), or, when
    None (a backup, or nothing left to revert), without the clauses that propose a rollback."""
    fitted = []
    for step in (str(s) for s in steps):
        if "`awsideman rollback " in step:
            if rollback_id is None:
                step = _ROLLBACK_CLAUSE.sub("", step).strip()
                if len(step.rstrip(".:")) < 12 or step.rstrip(".").endswith(":"):
                    continue
            else:
                step = step.replace("`awsideman rollback OP_ID`", f"`awsideman rollback {rollback_id}`")
        fitted.append(step.replace("OP_ID", operation_id))
    return fitted


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
        group["remediation"] = list(dedupe_steps(group["remediation"]))  # each step once, however worded
        group["code"] = ", ".join(group["codes"]) or "Error"
        group["message"] = group["messages"][0] if group["messages"] else ""
    return ordered


def _timeline(op: Operation, records: list[ChangeRecord], errors: list[dict[str, Any]],
              finished: str | None, links: dict[str, Any]) -> list[dict[str, Any]]:
    events = [{"at": op.started_at, "event": f"{op.kind} started"}]
    applied = [r for r in records if r.state in (ChangeState.APPLIED, ChangeState.COMPENSATED)
               and not r.kind.startswith(_COMPENSATION)]
    if applied:
        events.append({"at": _first(applied), "event": "first change applied"})
    for record in records:
        if record.state is ChangeState.FAILED:
            code = (record.error or {}).get("code", "error")
            events.append({"at": record.updated_at, "event": f"FAILED {record.address}: {code}"})
    compensations = [r for r in records if r.kind.startswith(_COMPENSATION) and r.state is ChangeState.APPLIED]
    if compensations and op.kind == "restore":
        events.append({"at": _first(compensations),
                       "event": f"automatic rollback started ({len(compensations)} compensation(s))"})
    for error in errors:
        events.append({"at": error["created_at"], "event": f"error: {error.get('code')} ({error.get('category')})"})
    if finished:
        events.append({"at": finished, "event": f"{op.kind} ended: {(op.summary or {}).get('ended_as') or op.status}"})
    for rollback in links.get("rollbacks") or []:
        if rollback["at"]:
            events.append({"at": rollback["at"], "event": f"rollback {rollback['operation_id']}: {rollback['status']}"})
    return sorted(events, key=lambda e: timestamp_key(e["at"]))


def _then(account: Account) -> str:
    """How a recovery step refers to the cause: the failures are printed above it, or there are none."""
    return "Fix the cause above, then" if account.failures else "Then"


def next_steps(op: Operation, account: Account) -> tuple[str | None, list[str]]:
    """The exact next command and the recovery options, for every kind and status.

    The one place that decides what to run next (text, JSON and markdown all show this).
    """
    params = op.params or {}
    status = account.status
    if status == "running":
        return None, [f"{op.id} is still running (pid {op.pid} on {op.host}); wait for it, or stop it and "
                      "run `awsideman report show` again."]
    then = _then(account)
    if op.kind == "backup":
        if status == "succeeded":
            return None, [f"Nothing to do. Check the backup: awsideman backup verify {account.backup_id}"]
        if status == "partial":
            return "awsideman backup create", [
                f"{account.backup_id} is marked partial; {then.lower()} take a complete backup.",
                f"See what it misses: awsideman backup show {account.backup_id}"]
        resume = f"awsideman backup create --resume {op.id}"
        return resume, [f"{then} continue from the checkpoints: {resume}",
                        "Or keep what could be read: add --allow-partial to that command."]
    if op.kind == "rollback":
        target = params.get("restore_operation_id") or op.id
        if status == "succeeded" and not account.leftover:
            return None, [f"Nothing to do: every change of {target} that was applied is reverted."]
        again = f"awsideman rollback {target}" + (" --dry-run" if params.get("dry_run") else "")
        return again, [f"{then} run the rollback again (it continues where it stopped): {again}",
                       "Or fix each left-over resource by hand against the backup."]
    return _restore_steps(op, account)


def _restore_steps(op: Operation, account: Account) -> tuple[str | None, list[str]]:
    backup = account.backup_id or "BACKUP_ID"
    retry = f"awsideman restore {backup} --dry-run"
    rollback = f"awsideman rollback {op.id}"
    resume = f"awsideman restore --resume {op.id}"
    status, left = account.status, len(account.leftover)
    rollbacks = [r["operation_id"] for r in account.links.get("rollbacks") or []]
    by = f" by {rollbacks[0]}" if rollbacks else ""
    then = _then(account)
    if status == "succeeded":
        if not account.applied:  # the plan was empty: there is nothing to undo either
            return None, ["Nothing to do: the instance already matched the backup in scope; nothing was changed."]
        return None, ["Nothing to do: the instance matches the backup in scope.",
                      f"Undo it if needed: {rollback}"]
    if status == "partial":
        return None, ["Skipped resources differ from the backup (--conflict skip).",
                      f"Review them: {retry}, then restore with --conflict overwrite if they should match."]
    kept = [item for item in account.leftover if item.get("policy") == "rollback.keep"]
    if status == "rolled_back" and left and len(kept) == left:
        return retry, [f"{left} change(s) were kept by policy (rollback.keep); everything else was reverted.",
                       f"Revert the kept ones too if they should not stay: {rollback}",
                       f"{then} review the plan again: {retry} (and run it without --dry-run)."]
    if status == "rolled_back" or not left and rollbacks:
        return retry, [f"Every applied change was reverted{by}: the instance is as it was before the restore.",
                       f"{then} review the plan again: {retry} (and run it without --dry-run)."]
    if not left:
        return retry, ["Nothing was changed by this restore.", f"{then} review the plan again: {retry}"]
    if status == "rollback_failed":
        return rollback, [f"{left} change(s) are still applied{' after the rollback' + by if by else ''}: "
                          f"{then.lower()} finish the rollback: {rollback}",
                          "Or fix each left-over resource by hand against the backup."]
    if status == "interrupted":  # stopped on purpose: the way on is to finish it (issue 20, finding 8)
        return resume, [f"The restore was stopped before it finished; finish it: {resume}",
                        f"Or undo what it applied: {rollback}"]
    cause = "when the cause above is fixed" if account.failures else "now"
    if any(e.get("category") == "authentication" for e in account.errors):
        # Expired credentials stop a restore without its rollback (which would be refused too).
        cause = "once the credentials are refreshed (new keys, or `aws sso login`)"
    return resume, [f"{left} change(s) are applied and kept. Finish the restore {cause}: {resume}",
                    f"Or undo what it applied: {rollback}"]


def listed_statuses(journal: StateJournal, ops: list[Operation]) -> dict[str, str]:
    """The account's status of each of ``ops`` (``report list``), with one look-up of the rollbacks."""
    statuses = {op.id: op.status for op in ops}
    open_restores = [op for op in ops if op.kind == "restore"
                     and op.status not in ("running", "rolled_back", "rollback_failed")]
    if not open_restores:
        return statuses
    rolled = {str((r.params or {}).get("restore_operation_id")) for r in journal.list_operations(limit=200,
              kind="rollback") if r.status != "running"}
    for op in open_restores:
        if op.id in rolled or (op.summary or {}).get("rollbacks"):
            records = journal.changes(op.id)
            if any(not r.kind.startswith(_COMPENSATION) for r in records):
                statuses[op.id] = "rollback_failed" if _restore_leftover(records) else "rolled_back"
    return statuses


def closing_account(journal: StateJournal, result: Any) -> Account | None:
    """Fill a command's result (restore, rollback, backup) from its operation's account.

    The closing summary then says what ``report show`` says: status, counts, errors and
    duration come from the journal, not from what the service counted while it ran. The
    result keeps its other fields (the JSON contract: plan, applied, leftover, notes, ...).
    A run without an operation (a dry run, nothing to do) or whose end could not be recorded
    keeps what the service found.
    """
    if not getattr(result, "operation_id", None):
        return None
    try:
        account = operation_account(journal, result.operation_id)
    except Exception:  # the journal failed now: the service's own figures still stand (and were warned about)
        return None
    if account.status == "running":
        return account
    result.status = account.status
    if account.duration_seconds is not None:
        result.duration_seconds = account.duration_seconds
    if account.kind == "restore":  # why the policy left each item: the words `report show` gives
        reasons = {item["address"]: item["why"] for item in account.leftover if item.get("why")}
        for item in getattr(result, "leftover", None) or []:
            if item.get("resource") in reasons:
                item["why"] = reasons[item["resource"]]
    if account.kind != "backup":
        result.counts = {**(getattr(result, "counts", None) or {}), **account.counts}
        result.errors = [dict(error, resource=", ".join(group["resources"][:5]))
                         for error, group in zip(account.errors, account.failures, strict=True)]
    return account

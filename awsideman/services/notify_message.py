"""What a notification says: an operation's account (``services/account.py``), as a JSON
document or as Slack-compatible text, sanitised.

The payload is the account every other view shows (status, counts, analysed errors with their
category and what to do, the next command), plus the report command and the severity a sink's
``min_severity`` is compared with: the operation's worst error, and never less than its status
implies (``notify_config.STATUS_SEVERITY``). Nothing of the operation's parameters or changed
resources' attributes is in it: a message goes to places the journal does not.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from awsideman import __version__
from awsideman.core.error_table import SEVERITIES
from awsideman.core.notify_config import STATUS_SEVERITY
from awsideman.core.sanitize import sanitize, sanitize_obj

SHOWN_STEPS = 3  # remediation steps per error in a text message (the JSON has all of them)
SAMPLE_ID = "op-00000000T000000Z-sample"


def severity(status: str, errors: list[dict[str, Any]]) -> str:
    """The worst of the errors' severities and the one the status implies."""
    found = [STATUS_SEVERITY.get(status, "medium"), *(str(e.get("severity")) for e in errors)]
    return max((s for s in found if s in SEVERITIES), key=SEVERITIES.index)


def payload(account: Any, *, test: bool = False) -> dict[str, Any]:
    """The notification of one finished operation (``account``: ``services.account.Account``)."""
    summary = account.summary
    errors = account.errors
    recorded = summary.get("recorded") or {}
    document: dict[str, Any] = {
        "source": "awsideman", "version": __version__, "test": test,
        "operation_id": account.operation_id, "kind": account.kind, "status": account.status,
        "severity": severity(account.status, errors), "backup_id": account.backup_id,
        "instance_arn": summary.get("instance_arn"), "host": summary.get("host"),
        "started_at": summary.get("started_at"), "finished_at": summary.get("finished_at"),
        "duration_seconds": summary.get("duration_seconds"), "counts": account.counts,
        "errors": errors, "next_command": account.next_command,
        "report_command": f"awsideman report show {account.operation_id}",
    }
    if account.kind == "backup":
        counts = recorded.get("counts") or {}
        document["resources"] = {k: v for k, v in sorted(counts.items()) if isinstance(v, int | float)}
    document["summary"] = headline(document)
    return sanitize_obj(document)


def sample_payload() -> dict[str, Any]:
    """What `awsideman notify test` sends: shaped like a failed backup's, marked as a test."""
    error = {"category": "network", "severity": "high", "code": "SampleError", "recoverable": True, "count": 1,
             "message": "This is a test notification from `awsideman notify test`: nothing failed.",
             "remediation": ["Nothing to do: this sink receives awsideman's notifications."]}
    document: dict[str, Any] = {
        "source": "awsideman", "version": __version__, "test": True, "operation_id": SAMPLE_ID, "kind": "backup",
        "status": "failed", "severity": "high", "backup_id": None, "instance_arn": None, "host": socket.gethostname(),
        "started_at": None, "finished_at": None, "duration_seconds": None,
        "counts": {"applied": 0, "compensated": 0, "failed": 0, "leftover": 0}, "errors": [error],
        "next_command": None, "report_command": "awsideman report list", "resources": {},
    }
    document["summary"] = "TEST " + headline(document)
    return sanitize_obj(document)


def headline(document: dict[str, Any]) -> str:
    """``restore op-... rolled_back (high): 3 applied, 3 compensated, 1 failed, 0 left over``."""
    line = f"awsideman {document['kind']} {document['operation_id']} {document['status']} ({document['severity']})"
    counts = document.get("counts") or {}
    if document["kind"] == "backup":
        resources = document.get("resources") or {}
        facts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in resources.items())
    else:
        facts = (f"{counts.get('applied', 0)} applied, {counts.get('compensated', 0)} compensated, "
                 f"{counts.get('failed', 0)} failed, {counts.get('leftover', 0)} left over")
    return f"{line}: {facts}" if facts else line


def json_body(document: dict[str, Any]) -> str:
    return json.dumps(sanitize_obj(document), sort_keys=True, default=str)


def text_body(document: dict[str, Any], *, slack: bool = False) -> str:
    """The message as lines of text; ``slack`` marks it up (bold, code) and escapes ``& < >``."""
    def esc(value: Any) -> str:
        text = sanitize("" if value is None else str(value))
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") if slack else text

    def code(value: Any) -> str:
        return f"`{esc(value)}`" if slack else esc(value)

    title = esc(document["summary"])
    lines = [f"*{title}*" if slack else title]
    where = [f"host {code(document['host'])}" if document.get("host") else "",
             f"backup {code(document['backup_id'])}" if document.get("backup_id") else "",
             f"{document['duration_seconds']:.1f} s" if document.get("duration_seconds") is not None else ""]
    if any(where):
        lines.append(", ".join(w for w in where if w))
    for error in document.get("errors") or []:
        lines.append(f"- {esc(error.get('category'))} ({esc(error.get('severity'))}) {esc(error.get('code'))}: "
                     f"{esc(error.get('message'))}")
        lines += [f"    what to do: {esc(step)}" for step in (error.get("remediation") or [])[:SHOWN_STEPS]]
    if document.get("next_command"):
        lines.append(f"Next: {code(document['next_command'])}")
    lines.append(f"Report: {code(document['report_command'])}")
    return "\n".join(lines)


def slack_body(document: dict[str, Any]) -> str:
    """A Slack-compatible webhook body (``{"text": ...}``; Mattermost and Teams' Slack mode read it too)."""
    return json.dumps({"text": text_body(document, slack=True)})


def body(document: dict[str, Any], format: str, *, webhook: bool) -> str:
    """A sink's message: the JSON document; or, for ``format: slack``, the Slack webhook body
    (to a webhook) or the plain text (to a topic, whose e-mail and chat subscribers read it)."""
    if format != "slack":
        return json_body(document)
    return slack_body(document) if webhook else text_body(document)


def subject(document: dict[str, Any]) -> str:
    test = "TEST " if document.get("test") else ""
    return f"{test}awsideman {document['kind']} {document['status']}: {document['operation_id']}"

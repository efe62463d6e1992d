"""A report as Markdown, ready to paste into a ticket (the text form renders the same data)."""

from __future__ import annotations

from typing import Any


def to_markdown(report: dict[str, Any]) -> str:
    """Markdown of ``Report.to_dict()``: summary, failures, changes, recovery, next command."""
    s = report["summary"]
    lines = [f"## awsideman {report['kind']} {report['operation_id']}: {report['status']}", "",
             "| field | value |", "|---|---|"]
    for key in ("status", "backup_id", "instance_arn", "started_at", "finished_at", "duration_seconds", "host"):
        if s.get(key) not in (None, ""):
            lines.append(f"| {key.replace('_', ' ')} | `{_cell(s[key])}` |")
    counts = report["counts"]
    lines.append(f"| changes | {counts['applied']} applied, {counts['compensated']} compensated, "
                 f"{counts['failed']} failed, {counts['leftover']} left over |")
    if report["next_command"]:
        lines += ["", "### Next command", "", "```", report["next_command"], "```"]
    if report["failures"]:
        lines += ["", "### Failures by category", ""]
        for group in report["failures"]:
            lines.append(f"- **{group['category']}** ({group['severity']}, {group['count']}x, "
                         f"{'retryable' if group['recoverable'] else 'not retryable'}): `{_cell(group['code'])}` "
                         f"{_cell(group['message'])}")
            lines += [f"  - remediation: {_cell(step)}" for step in group["remediation"]]
    for title, key in (("Left over (still changed)", "leftover"), ("Failed", "failed"),
                       ("Compensated", "compensated"), ("Applied", "applied")):
        if report[key]:
            lines += ["", f"### {title}", ""]
            lines += [f"- `{_cell(item.get('address') or item.get('resource'))}` {_cell(item.get('action') or '')}"
                      f" {_cell(item.get('what') or '')}".rstrip() for item in report[key][:200]]
    lines += ["", "### Recovery options", ""] + [f"- {_cell(step)}" for step in report["recovery"]]
    lines += ["", "### Timeline", "", "| at | event |", "|---|---|"]
    lines += [f"| {event['at']} | {_cell(event['event'])} |" for event in report["timeline"]]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")

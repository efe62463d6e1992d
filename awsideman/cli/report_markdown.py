"""A report as Markdown, ready to paste into a ticket (the text form renders the same data)."""

from __future__ import annotations

from typing import Any


def to_markdown(report: dict[str, Any]) -> str:
    """Markdown of ``Account.to_dict()``: summary, failures, changes, phases, recovery, next command."""
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
    untouched = (s.get("recorded") or {}).get("not_touched") or []
    if untouched:
        lines += ["", "### Not touched", ""]
        lines += [f"- {_cell(item.get('what'))}: {_cell(item.get('reason'))}" for item in untouched]
    for title, key in (("Left over (still changed)", "leftover"), ("Failed", "failed"),
                       ("Compensated", "compensated"), ("Applied", "applied")):
        if report[key]:
            lines += ["", f"### {title}", ""]
            lines += [f"- `{_cell(item.get('address') or item.get('resource'))}` {_cell(item.get('action') or '')}"
                      f" {_cell(item.get('what') or '')}".rstrip()
                      + (f" ({_cell(item['why'])})" if item.get("why") else "") for item in report[key][:200]]
    if report.get("phases"):
        lines += ["", "### Phases", "", "| phase | started | seconds | done |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(_cell(c) for c in phase_row(p)) + " |" for p in report["phases"]]
    links = report.get("links") or {}
    if links.get("rollbacks") or links.get("restore"):
        lines += ["", "### Related operations", ""]
        lines += [f"- rolled back by `{r['operation_id']}` ({r['status'] or 'unknown'})"
                  for r in links.get("rollbacks") or []]
        lines += [f"- rollback of `{links['restore']}`"] if links.get("restore") else []
    lines += ["", "### Recovery options", ""] + [f"- {_cell(step)}" for step in report["recovery"]]
    lines += ["", "### Timeline", "", "| at | event |", "|---|---|"]
    lines += [f"| {event['at']} | {_cell(event['event'])} |" for event in report["timeline"]]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def phase_row(phase: dict[str, Any]) -> list[Any]:
    """A phase as table cells: name, start, seconds, done (of total)."""
    done = "" if phase.get("done") is None else str(phase["done"])
    if done and phase.get("total") is not None:
        done += f" of {phase['total']}"
    seconds = phase.get("seconds")
    return [phase.get("name"), phase.get("started_at") or "", "-" if seconds is None else seconds, done]

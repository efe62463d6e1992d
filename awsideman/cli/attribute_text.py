"""How a changed attribute reads in the restore plan and in `diff`: every value whole.

Set-like attributes (managed and customer managed policies, tags) list each item attached or
detached as ``+ item`` / ``- item``, so a reader sees exactly which policy changes; the inline
policy is a compact diff of the two documents; any other value is shown before and after, uncut.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

INLINE_POLICY = "inline_policy"


def attribute_lines(name: str, values: dict[str, Any]) -> list[str]:
    """``name``'s change as lines: a heading and items, or one ``before -> after`` line."""
    if "added" in values or "removed" in values:
        return [f"{name}:", *_item_lines(values)]
    if name == INLINE_POLICY:
        return [f"{name}:", *policy_diff(values.get("before"), values.get("after"))]
    return [f"{name}: {value_text(values.get('before'))} -> {value_text(values.get('after'))}"]


def value_text(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _item_lines(values: dict[str, Any]) -> list[str]:
    added, removed = values.get("added"), values.get("removed")
    if isinstance(added, dict):  # tags: added = {key: new value}, removed = keys
        old = values.get("before")
        before: dict[str, Any] = old if isinstance(old, dict) else {}
        changed = [key for key in added if key in before]
        return ([f"  - {key}={before[key]}" for key in sorted({*changed, *(removed or [])}) if key in before]
                + [f"  + {key}={added[key]}" for key in sorted(added)])
    return ([f"  + {value_text(item)}" for item in added or []]
            + [f"  - {value_text(item)}" for item in removed or []])


def policy_diff(before: Any, after: Any) -> list[str]:
    """The lines of the inline policy that change, with one line of context (documents pretty-printed)."""
    old, new = _document_lines(before), _document_lines(after)
    if not old or not new:  # put or deleted: the whole document is the change
        return [f"  + {line}" for line in new] + [f"  - {line}" for line in old]
    lines = []
    for line in difflib.unified_diff(old, new, lineterm="", n=1):
        if line.startswith(("---", "+++")):
            continue
        lines.append("  ..." if line.startswith("@@") else f"  {line[0]} {line[1:]}")
    return lines


def _document_lines(document: Any) -> list[str]:
    if document in (None, ""):
        return []
    try:
        parsed = json.loads(document) if isinstance(document, str) else document
    except ValueError:
        return str(document).splitlines()
    return json.dumps(parsed, indent=2, sort_keys=True).splitlines()

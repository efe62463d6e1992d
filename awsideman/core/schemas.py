"""JSON Schema validation of the documents awsideman reads: manifest, snapshot, fault rules.

The schemas are the files in ``awsideman/schemas/`` (installed as package data, published in
the repository for other tools), and this module validates with exactly those files, so the
published contract and the checks cannot drift apart. Every problem is reported with its
path (``counts.users``, ``users[3].attributes``) and what was expected, never as a Python
error about the document's shape.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SCHEMAS = ("manifest", "snapshot", "fault-rules")
_SHOWN_PROBLEMS = 5
_SHOWN_VALUE = 40


@cache
def schema(name: str) -> dict[str, Any]:
    """The published schema ``awsideman/schemas/<name>.schema.json``."""
    text = resources.files("awsideman.schemas").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name))


def problems(name: str, document: Any) -> list[str]:
    """Every way ``document`` breaks schema ``name``, as ``path: expected ..., got ...``, path order."""
    found = sorted(_validator(name).iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    # dict.fromkeys: `required` yields one error per absent field, each described the same way.
    return list(dict.fromkeys(_describe(error) for error in found))


def summary(name: str, document: Any) -> str | None:
    """The problems of ``document`` in one line (the first few), or None when it is valid."""
    found = problems(name, document)
    if not found:
        return None
    more = f" (and {len(found) - _SHOWN_PROBLEMS} more)" if len(found) > _SHOWN_PROBLEMS else ""
    return "; ".join(found[:_SHOWN_PROBLEMS]) + more


def path_of(parts: Any) -> str:
    """``["users", 3, "user_name"]`` as ``users[3].user_name`` (``(top level)`` when empty)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(error: ValidationError) -> str:
    where = path_of(error.absolute_path)
    keyword, expected, value = error.validator, error.validator_value, error.instance
    if keyword == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{where}: expected {wanted}, got {_json_type(value)}"
    if keyword == "required":
        missing = [key for key in expected if isinstance(value, dict) and key not in value]
        return f"{where}: missing required field {', '.join(missing)}"
    if keyword == "additionalProperties":
        extra = sorted(set(value) - set(error.schema.get("properties", {}))) if isinstance(value, dict) else []
        return f"{where}: unknown field {', '.join(_shown(k) for k in extra)}"
    if keyword == "const":
        return f"{where}: expected {json.dumps(expected)}, got {_shown(value)}"
    if keyword == "enum":
        return f"{where}: expected one of {', '.join(json.dumps(v) for v in expected)}, got {_shown(value)}"
    if keyword == "pattern":
        return f"{where}: {_shown(value)} is not in the expected form ({expected})"
    if keyword in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        return f"{where}: {_shown(value)} is out of range ({keyword} {expected})"
    if keyword in ("maxLength", "minLength", "maxItems", "minItems"):
        return f"{where}: {keyword} is {expected}"
    return f"{where}: {error.message[:200]}"


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
             int: "integer", float: "number"}
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"an {_json_type(value)}"
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 4] + '..."'

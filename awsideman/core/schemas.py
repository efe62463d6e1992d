"""JSON Schema validation of the documents awsideman reads (manifest, snapshot, fault rules) and
writes for other tools (the audit trail, effective access).

The schemas are the files in ``awsideman/schemas/`` (installed as package data, published in
the repository for other tools), and this module validates with exactly those files, so the
published contract and the checks cannot drift apart. Every problem is reported with its
path (``counts.users``, ``users[3].attributes``) and what was expected, never as a Python
error about the document's shape.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

# jsonschema is imported when a document is first validated, not with this module: commands that
# validate nothing (the help, a journal listing) start without it.
if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMAS = ("manifest", "snapshot", "fault-rules", "audit", "access", "access-diff")
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
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(name))


@dataclass(frozen=True)
class Problem:
    """One way a document breaks its schema: where (``rules[2].throttle``, "" for the whole) and what."""

    path: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}: {self.text}" if self.path else self.text


def problems(name: str, document: Any) -> list[Problem]:
    """Every way ``document`` breaks schema ``name``, in path order."""
    found = list(_non_finite(document, []))
    found += [_describe(error) for error in _validator(name).iter_errors(document)]
    found.sort(key=lambda p: p.path)
    return list(dict.fromkeys(found))


def summary(name: str, document: Any) -> str | None:
    """The problems of ``document`` in one line (the first few), or None when it is valid."""
    found = problems(name, document)
    if not found:
        return None
    more = f" (and {len(found) - _SHOWN_PROBLEMS} more)" if len(found) > _SHOWN_PROBLEMS else ""
    return "; ".join(str(p) for p in found[:_SHOWN_PROBLEMS]) + more


def path_of(parts: Any) -> str:
    """``["users", 3, "user_name"]`` as ``users[3].user_name`` ("" for the whole document)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _non_finite(value: Any, at: list[Any]) -> Iterator[Problem]:
    """NaN and infinity (Python's json and YAML accept both; no schema keyword refuses NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield Problem(path_of(at), f"must be a finite number, got {value}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, [*at, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite(item, [*at, index])


non_finite = _non_finite  # for readers that check a document piece by piece (snapshot_stream)


def _describe(error: ValidationError) -> Problem:
    where = path_of(error.absolute_path)
    keyword, expected, value = error.validator, error.validator_value, error.instance
    if keyword == "required":
        # One error per absent key; its message starts with that key's repr.
        absent = [key for key in expected if isinstance(value, dict) and key not in value]
        key = next((k for k in absent if error.message.startswith(repr(k))), absent[0] if absent else "?")
        return Problem(_join(where, key), "is required")
    if keyword == "additionalProperties":
        known = ", ".join(error.schema.get("properties", {}))
        extra = sorted(set(value) - set(error.schema.get("properties", {})), key=str) if isinstance(value, dict) else []
        return Problem(_join(where, str(extra[0]) if extra else "?"), f"unknown key (known: {known})")
    if isinstance(error.schema, dict) and "errorMessage" in error.schema:
        return Problem(where, str(error.schema["errorMessage"]).replace("{value}", _shown(value)))
    if keyword == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        return Problem(where, f"expected {wanted}, got {_json_type(value)}")
    if keyword == "const":
        return Problem(where, f"expected {json.dumps(expected)}, got {_shown(value)}")
    if keyword == "enum":
        return Problem(where, f"expected one of {', '.join(json.dumps(v) for v in expected)}, got {_shown(value)}")
    if keyword == "pattern":
        return Problem(where, f"{_shown(value)} is not in the expected form ({expected})")
    if keyword in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        return Problem(where, f"{_shown(value)} is out of range ({keyword} {expected})")
    if keyword in ("maxLength", "minLength", "maxItems", "minItems"):
        return Problem(where, f"{keyword} is {expected}")
    return Problem(where, error.message[:200])


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
             int: "integer", float: "number"}
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"an {_json_type(value)}"
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=True)
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 4] + '..."'

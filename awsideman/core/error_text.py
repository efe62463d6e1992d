"""Reading pasted error text: what ``awsideman analyze-error`` is given, taken apart.

An operator pastes an AWS CLI / boto3 line, a Python exception line, a log, or a JSON error
(an AWS error body or an awsideman result with ``errors: [...]``). This module only finds the
facts in that text (code, operation, message, exception class, errno, Reason); deciding what
they mean is ``ErrorAnalyzer``'s job (``core/errors.py``), which calls these functions.

Nothing here classifies, sanitises or raises: text that is not understood yields ``None`` or
an empty list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CliLine",
    "ExceptionLine",
    "ErrnoMention",
    "JsonError",
    "cli_line",
    "exception_line",
    "errno_mention",
    "printed_code",
    "error_lines",
    "parse_json",
    "json_errors",
]

# Linear time on any input: every unbounded run stops at a line end, and the code is at most
# 256 characters, so a text of many unclosed "An error occurred (" costs O(n), not O(n^2)
# (``[^)]+`` scanned to the end of the text from each of them: minutes on a few hundred KB).
_CLI_LINE_RE = re.compile(
    r"An error occurred \((?P<code>[^()\n]{1,256})\)(?: \(reached max retries: \d+\))?"
    r"(?: when calling the (?P<op>\w+) operation)?(?: \(reached max retries: \d+\))?:\s*(?P<msg>.*)"
)
_EXC_LINE_RE = re.compile(
    r"(?:^|[\s(\[])(?:[a-z_][\w]*\.)*(?P<cls>[A-Z]\w*(?:Error|Exception|NotFound|Expired|Failed|Interrupted))\s*:\s*(?P<msg>.*)"
)
# How awsideman itself prints an error in text mode: ``Error (CorruptBackup): message``.
_PRINTED_RE = re.compile(r"^\s*Error \((?P<code>[A-Za-z][\w.]*)\): ", re.MULTILINE)
_ERRNO_RE = re.compile(r"\[Errno (\d{1,9})\][^:\n]*(?::[ \t]*'?([^'\n]*)'?)?")
# Fields that carry a JSON error's code and message, in the order the shapes in use put them
# (AWS query/JSON protocols, CloudTrail's errorCode, our own result documents).
_CODE_KEYS = ("Code", "code", "__type", "errorCode")
_MESSAGE_KEYS = ("Message", "message", "errorMessage")
_OPERATION_KEYS = ("operation", "Operation")
_EXTRA_KEYS = ("Reason", "RetryAfterSeconds")


@dataclass(frozen=True)
class CliLine:
    """``An error occurred (CODE) when calling the OP operation: MESSAGE`` (botocore's wording)."""

    code: str
    operation: str | None
    message: str


@dataclass(frozen=True)
class ExceptionLine:
    """``package.module.SomeError: message`` as a traceback's last line prints it."""

    class_name: str
    message: str


@dataclass(frozen=True)
class ErrnoMention:
    """``[Errno 28] No space left on device: '/path'``: the number, and the path if one is quoted."""

    number: int
    path: str | None


@dataclass(frozen=True)
class JsonError:
    """One error object of a JSON document, its code normalised (no ``ns#`` prefix, no ``:suffix``)."""

    code: str
    message: str
    operation: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # Reason, RetryAfterSeconds when present


def cli_line(text: str) -> CliLine | None:
    """The AWS CLI / boto3 error line in ``text``, if there is one."""
    found = _CLI_LINE_RE.search(text)
    if found is None:
        return None
    return CliLine(found["code"], found["op"], found["msg"])


def exception_line(text: str) -> ExceptionLine | None:
    """The first ``SomeError: message`` in ``text`` (class names ending Error/Exception/NotFound/Expired)."""
    found = _EXC_LINE_RE.search(text)
    if found is None:
        return None
    return ExceptionLine(found["cls"], found["msg"])


def printed_code(text: str) -> str | None:
    """The code in an error as awsideman prints it (``Error (CODE): ...``), if ``text`` has one."""
    found = _PRINTED_RE.search(text)
    return found["code"] if found else None


def errno_mention(text: str) -> ErrnoMention | None:
    """The ``[Errno N]`` in ``text`` and the path after it, if any."""
    found = _ERRNO_RE.search(text)
    if found is None:
        return None
    return ErrnoMention(int(found.group(1)), found.group(2) or None)


def error_lines(text: str) -> Iterator[str]:
    """The lines of a log that carry an error (a CLI error line or an exception line), stripped."""
    for line in text.splitlines():
        if _CLI_LINE_RE.search(line) or _EXC_LINE_RE.search(line):
            yield line.strip()


def parse_json(text: str) -> Any:
    """``text`` as JSON if it is a JSON object or list, else ``None``."""
    if not text or text[0] not in "{[":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def json_errors(data: Any, code: str | None = None) -> list[JsonError]:
    """Every error object in a JSON document; ``code`` (from ``--code``) replaces each one's code."""
    found = []
    for item in _error_objects(data):
        err = item.get("Error") if isinstance(item.get("Error"), Mapping) else item
        err_code = code or _first(err, *_CODE_KEYS) or "Unknown"
        err_code = str(err_code).rsplit("#", 1)[-1].split(":")[0]
        message = _first(err, *_MESSAGE_KEYS) or ""
        extra = {}
        for key in _EXTRA_KEYS:
            value = item.get(key, err.get(key) if isinstance(err, Mapping) else None)
            if value is not None:
                extra[key] = value
        found.append(JsonError(err_code, str(message), _first(item, *_OPERATION_KEYS), extra))
    return found


def _error_objects(data: Any) -> list[Mapping[str, Any]]:
    """Error objects in a JSON document: one error, a list, or a result with ``errors: [...]``."""
    if isinstance(data, list):
        return [item for entry in data for item in _error_objects(entry)]
    if not isinstance(data, Mapping):
        return []
    if isinstance(data.get("errors"), list):
        return [e for e in data["errors"] if isinstance(e, Mapping)]
    if any(k in data for k in ("Error", "__type", "Code", "code", "errorCode")):
        return [data]
    return []


def _first(mapping: Any, *keys: str) -> Any:
    if not isinstance(mapping, Mapping):
        return None
    for key in keys:
        if mapping.get(key) not in (None, ""):
            return mapping[key]
    return None

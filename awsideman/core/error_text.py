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
    "Candidate",
    "Candidates",
    "RecordedError",
    "error_candidates",
    "MAX_ERRORS",
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


# -- the error records of a log file (``analyze-error --file``) -----------------------------------
MAX_ERRORS = 100  # distinct errors listed from one file; the rest are counted as omitted
_MAX_TEXT = 4000  # characters of one error's text that are analysed and shown

# awsideman's own log line (``services/log_context.py``): TIME LEVEL OPERATION [PHASE] LOGGER: MESSAGE
_LOG_LINE_RE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z (?P<level>[A-Z]+) (?P<op>\S+) \[[^\]\n]*\] [\w.]+: (?P<msg>.*)$"
)
# The analysed error an operation's log ends with, and the steps after it.
_RECORDED_RE = re.compile(
    r"^error category=(?P<category>\w+) severity=(?P<severity>\w+)(?: recoverable=(?P<recoverable>yes|no))?"
    r" code=(?P<code>[^:\n]*): (?P<msg>.*)$"
)
_STEP_PREFIX = "what to do: "
_OPERATION_RE = re.compile(r"^op-[0-9]{8}T[0-9]{6}Z-[0-9a-z]{6}$")
_TRACEBACK = "Traceback (most recent call last):"
# The level of another tool's log line, near its start: ``... - ERROR - msg``, ``[ERROR] msg``, ``ERROR msg``.
_LEVEL_RE = re.compile(r"(?:^|[\s\[|-])(?:ERROR|CRITICAL|FATAL)(?:\]|:)?\s+(?:-\s+)?(?P<msg>\S.*)$")
_LEVEL_WINDOW = 80  # how far into a line a level may be


@dataclass(frozen=True)
class RecordedError:
    """An analysed error as an awsideman log records it (``error category=... code=...: message``)."""

    category: str
    severity: str
    recoverable: bool | None
    code: str
    message: str
    remediation: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """One distinct error record of a log: its text, where it first occurs and how often."""

    text: str
    line: int
    count: int = 1
    operation_id: str | None = None
    recorded: RecordedError | None = None


@dataclass(frozen=True)
class Candidates:
    """The distinct error records of a log (at most ``MAX_ERRORS``) and how many more were left out."""

    errors: list[Candidate]
    omitted: int = 0


@dataclass
class _Found:
    text: str
    line: int
    operation_id: str | None
    recorded: RecordedError | None
    count: int = 1
    steps: list[str] = field(default_factory=list)


def error_candidates(text: str, limit: int = MAX_ERRORS) -> Candidates:
    """The error records in a log: an awsideman log (its ``error category=...`` lines and
    ERROR lines), an aws-cli / boto3 debug log (``An error occurred (Code) when calling the X
    operation: ...``, the last line of a traceback, ``SomeError: ...`` lines) or any log with
    ERROR lines. Identical records are one, counted; the first ``limit`` distinct ones are kept."""
    found: dict[tuple[str | None, ...], _Found] = {}
    omitted: set[tuple[str | None, ...]] = set()
    last_recorded: dict[str | None, _Found] = {}
    in_traceback = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        own = _LOG_LINE_RE.match(line)
        if own is not None:
            in_traceback = False
            op = own["op"] if _OPERATION_RE.match(own["op"]) else None
            message = own["msg"]
            if message.startswith(_STEP_PREFIX) and op in last_recorded:
                steps = last_recorded[op].steps
                if message[len(_STEP_PREFIX):] not in steps:  # a resumed operation's log ends more than once
                    steps.append(message[len(_STEP_PREFIX):])
                continue
            entry = _own_record(message, own["level"], op, number)
        elif line == _TRACEBACK:
            in_traceback = True
            continue
        elif in_traceback and (not line or line[0].isspace()):
            continue  # a frame of the traceback, or the source line under it
        else:
            last_line, in_traceback = in_traceback, False
            entry = _foreign_record(line, number, last_line)
        if entry is None:
            continue
        key, candidate = entry
        if key in found:
            found[key].count += 1
            candidate = found[key]
        elif len(found) < limit:
            found[key] = candidate
        else:
            omitted.add(key)
            continue
        if candidate.recorded is not None:
            last_recorded[candidate.operation_id] = candidate
    return Candidates([_candidate(f) for f in found.values()], len(omitted))


def _own_record(message: str, level: str, op: str | None, number: int) -> tuple[tuple[str | None, ...], _Found] | None:
    recorded = _RECORDED_RE.match(message)
    if recorded is not None:
        rec = RecordedError(recorded["category"], recorded["severity"],
                            None if recorded["recoverable"] is None else recorded["recoverable"] == "yes",
                            recorded["code"].strip(), recorded["msg"][:_MAX_TEXT])
        return (op, "recorded", rec.category, rec.code, rec.message), _Found(message[:_MAX_TEXT], number, op, rec)
    if level not in ("ERROR", "CRITICAL"):
        return None  # retried calls and failed changes are events; the operation's error is recorded at its end
    return (op, *_text_key(message)), _Found(message[:_MAX_TEXT], number, op, None)


def _foreign_record(line: str, number: int, ends_traceback: bool) -> tuple[tuple[str | None, ...], _Found] | None:
    cli = _CLI_LINE_RE.search(line)
    if cli is not None:
        error = line[cli.start():]
    elif (exc := _EXC_LINE_RE.search(line)) is not None:
        error = line[exc.start("cls") - _module_length(line, exc.start("cls")):]
    elif _PRINTED_RE.match(line) or ends_traceback:
        error = line.strip()
    elif (level := _LEVEL_RE.search(line)) is not None and level.start() < _LEVEL_WINDOW:
        error = level["msg"]
    else:
        return None
    if not error.strip():
        return None
    return (None, *_text_key(error)), _Found(error[:_MAX_TEXT], number, _operation_in(line), None)


def _module_length(line: str, start: int) -> int:
    """How many characters of ``package.module.`` precede the class name at ``start``."""
    begin = start
    while begin > 0 and (line[begin - 1].isalnum() or line[begin - 1] in "._"):
        begin -= 1
    return start - begin


def _text_key(error: str) -> tuple[str, ...]:
    """What makes two error texts the same error: botocore's code, operation and message, or the text."""
    cli = _CLI_LINE_RE.search(error)
    if cli is not None:
        return "cli", cli["code"], cli["op"] or "", cli["msg"].strip()
    exc = _EXC_LINE_RE.search(error)
    if exc is not None:
        return "exception", exc["cls"], exc["msg"].strip()
    return "text", error.strip()


def _operation_in(line: str) -> str | None:
    found = re.search(r"\bop-[0-9]{8}T[0-9]{6}Z-[0-9a-z]{6}\b", line)
    return found.group(0) if found else None


def _candidate(found: _Found) -> Candidate:
    recorded = found.recorded
    if recorded is not None and found.steps:
        recorded = RecordedError(recorded.category, recorded.severity, recorded.recoverable, recorded.code,
                                 recorded.message, tuple(found.steps))
    return Candidate(found.text, found.line, found.count, found.operation_id, recorded)

"""Reading a snapshot payload record by record: never the whole document as dicts.

``json.loads`` of an enterprise backup (97 MB of JSON: 50,000 users, 200,000 memberships,
100,000 assignments) held 425 MB of dicts before a single record was made, and checking that
document against the schema with jsonschema took 49 s. Here the JSON text is read from the
inflating stream a megabyte at a time; each element of a record list is decoded alone, checked
against its kind's schema (``awsideman/schemas/snapshot.schema.json``: fastjsonschema compiles
the same file, jsonschema re-checks only a record that fails, for the same problem text) and
turned into its record at once, so only the records and one chunk of text are held.

Everything else the whole-document check did is kept: the document's own keys and
``format_version`` (checked with the schema on the document minus its record lists), NaN and
infinity anywhere, trailing data, the order of the problems reported.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from awsideman.core import schemas
from awsideman.core.exceptions import CorruptBackupError, UnsupportedFormatError
from awsideman.core.model import (
    FORMAT_VERSION,
    Assignment,
    Group,
    Membership,
    OrphanAssignment,
    PermissionSet,
    Snapshot,
    User,
    make_record,
)

# document key -> (schema $defs entry, record type)
RECORD_LISTS: dict[str, tuple[str, type]] = {
    "users": ("user", User), "groups": ("group", Group), "memberships": ("membership", Membership),
    "permission_sets": ("permission_set", PermissionSet), "assignments": ("assignment", Assignment),
    "orphan_assignments": ("orphan_assignment", OrphanAssignment),
}
_MAX_PROBLEMS = 1000  # enough to report the first few in path order and how many there are
_WHITESPACE = " \t\n\r"


class _NotFinite(Exception):
    pass


def _refuse_constant(name: str) -> float:
    raise _NotFinite(name)


_DECODER = json.JSONDecoder()
# NaN and infinity are refused while decoding: a record that holds one is decoded again with
# them allowed, to report where (the schema has no keyword for it).
_STRICT = json.JSONDecoder(parse_constant=_refuse_constant)


class _Text:
    """The JSON text as a window onto the stream: decode values, read more when a value may
    go on past the window."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self.buf = ""
        self.pos = 0
        self.done = False

    def more(self) -> bool:
        if self.done:
            return False
        chunk = next(self._chunks, None)
        if chunk is None:
            self.done = True
            return False
        if self.pos > 1 << 20:  # drop what was read; keeps the window about a chunk long
            self.buf, self.pos = self.buf[self.pos:], 0
        self.buf += chunk
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos:self.pos + 1]

    def expect(self, char: str) -> None:
        found = self.peek()
        if found != char:
            raise _invalid(f"expected {char!r} at offset {self.pos}, found {found[:1] or 'the end'!r}")
        self.pos += 1

    def value(self, decoder: json.JSONDecoder = _STRICT) -> Any:
        """One JSON value; a value that ends at the window's edge is read again with more text
        (a number or a literal cut there would decode as something shorter)."""
        self.peek()
        while True:
            try:
                found, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.more():
                    continue
                raise _invalid(str(exc)) from None
            except RecursionError:
                raise CorruptBackupError("payload is nested too deeply to be a backup document") from None
            if end < len(self.buf) or not self.more():
                self.pos = end
                return found


def _invalid(detail: str) -> CorruptBackupError:
    return CorruptBackupError(f"payload is not valid JSON ({detail})")


def read_snapshot(chunks: Iterator[bytes]) -> Snapshot:
    """The snapshot in a stream of (inflated) JSON bytes, or CorruptBackupError /
    UnsupportedFormatError naming what is wrong, as the whole-document check named it."""
    text = _Text(_decoded(chunks))
    lists: dict[str, list[Any]] = {}
    others: dict[str, Any] = {}
    problems: list[schemas.Problem] = []
    if text.peek() != "{":  # a document that is not an object: the schema says what is wrong
        problems += schemas.problems("snapshot", text.value(_DECODER))
        raise CorruptBackupError(f"snapshot document does not match its schema: {_joined(problems)}")
    text.expect("{")
    if text.peek() == "}":
        text.pos += 1
    else:
        while True:
            key = text.value()
            if not isinstance(key, str):
                raise _invalid(f"an object key must be a string, got {key!r}")
            text.expect(":")
            if key in RECORD_LISTS and text.peek() == "[":
                text.pos += 1
                lists[key] = _records(text, key, problems)
                others.pop(key, None)
            else:
                others[key] = _value_noting_non_finite(text, key, problems)
                lists.pop(key, None)
            if text.peek() == ",":
                text.pos += 1
                continue
            text.expect("}")
            break
    if text.peek() != "":
        raise _invalid(f"extra data at offset {text.pos}")
    if "format_version" in others and others["format_version"] != FORMAT_VERSION:
        raise UnsupportedFormatError(f"snapshot format version {others['format_version']!r} is not supported "
                                     f"(this awsideman reads version {FORMAT_VERSION})")
    outline = {**others, **{key: [] for key in lists}}  # the document's shape, minus its records
    problems += schemas.problems("snapshot", outline)
    if problems:
        raise CorruptBackupError(f"snapshot document does not match its schema: {_joined(problems)}")
    return Snapshot(**{name: lists.get(key, []) for key, name in
                       (("users", "users"), ("groups", "groups"), ("memberships", "memberships"),
                        ("permission_sets", "permission_sets"), ("assignments", "assignments"),
                        ("orphan_assignments", "orphan_assignments"))})


def _joined(problems: list[schemas.Problem]) -> str:
    """The first few problems in path order, as `schemas.summary` shows them."""
    found = list(dict.fromkeys(sorted(problems, key=lambda p: p.path)))
    more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
    return "; ".join(str(p) for p in found[:5]) + more


def _decoded(chunks: Iterator[bytes]) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in chunks:
            yield decoder.decode(chunk)
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise CorruptBackupError(f"payload is not valid JSON ({exc})") from None


def _value_noting_non_finite(text: _Text, at: str, problems: list[schemas.Problem]) -> Any:
    """A value, with NaN / infinity reported at their path (and then kept, as json.loads did).
    A refused value leaves the window at its start, so it is decoded again from there."""
    try:
        return text.value()
    except _NotFinite:
        value = text.value(_DECODER)
        problems.extend(schemas.non_finite(value, [at]))
        return value


def _records(text: _Text, key: str, problems: list[schemas.Problem]) -> list[Any]:
    """The elements of one record list, each checked and made into its record as it is read."""
    definition, record_type = RECORD_LISTS[key]
    check = _fast_check(definition)
    made: list[Any] = []
    if text.peek() == "]":
        text.pos += 1
        return made
    index = 0
    while True:
        where = f"{key}[{index}]"
        raw = _value_noting_non_finite(text, where, problems)
        if not check(raw):
            if len(problems) < _MAX_PROBLEMS:
                problems.extend(_item_problems(key, index, raw))
        elif not problems:  # once anything is wrong, records are only checked, no longer made
            made.append(make_record(record_type, raw))
        index += 1
        if text.peek() == ",":
            text.pos += 1
            continue
        text.expect("]")
        return made


def _item_problems(key: str, index: int, raw: Any) -> list[schemas.Problem]:
    """jsonschema's problems with one element, at its path in the whole document."""
    found = schemas.problems("snapshot", {"format_version": FORMAT_VERSION, "users": [], "groups": [],
                                          "memberships": [], "permission_sets": [], "assignments": [],
                                          key: [raw]})
    prefix = f"{key}[0]"
    return [schemas.Problem(f"{key}[{index}]{p.path[len(prefix):]}" if p.path.startswith(prefix) else p.path,
                            p.text) for p in found]


@cache
def _fast_check(definition: str) -> Callable[[Any], bool]:
    """True when an element is valid against ``$defs/<definition>`` (fastjsonschema, compiled
    from the published file; jsonschema when fastjsonschema is not installed)."""
    whole = schemas.schema("snapshot")
    try:
        import fastjsonschema
    except ImportError:  # pragma: no cover - fastjsonschema is a dependency; this keeps a broken install working
        return lambda raw: not _item_problems_raw(definition, raw)
    # fastjsonschema speaks draft-07: the same keywords here, with `definitions` for `$defs`.
    text = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#",
                       "definitions": whole["$defs"], "$ref": f"#/definitions/{definition}"})
    validate = fastjsonschema.compile(json.loads(text.replace("#/$defs/", "#/definitions/")))

    def check(raw: Any) -> bool:
        try:
            validate(raw)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return check


def _item_problems_raw(definition: str, raw: Any) -> list[schemas.Problem]:
    key = next(k for k, (d, _) in RECORD_LISTS.items() if d == definition)
    return _item_problems(key, 0, raw)

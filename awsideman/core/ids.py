"""Backup and operation ids: sortable by time, safe as file names, validated before use.

An id looks like ``bk-20240131T120000Z-3f9a1c``: a two-letter kind prefix, the UTC creation
second (so ids sort chronologically as plain strings) and six random lowercase characters so
two ids made in the same second do not collide. Ids end up in file names and S3 keys, so any
id that comes from outside (command line, a store listing) goes through ``validate_*`` first.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from awsideman.core.exceptions import InvalidIdError

BACKUP_PREFIX = "bk"
OPERATION_PREFIX = "op"

_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
# fullmatch on purpose: "$" would accept a trailing newline, and the character classes
# leave no room for "/", "\\", "." or whitespace, so no id can escape a folder.
_ID_RE = re.compile(r"(?P<prefix>[a-z]{2})-(?P<ts>[0-9]{8}T[0-9]{6}Z)-(?P<rand>[0-9a-z]{6})")
_SHOWN_MAX = 60

_KINDS = {
    BACKUP_PREFIX: ("backup", "awsideman backup list"),
    OPERATION_PREFIX: ("operation", "awsideman report list"),
}


def new_backup_id(now: datetime | None = None) -> str:
    """Return a fresh backup id ``bk-YYYYMMDDTHHMMSSZ-xxxxxx`` for ``now`` (default: current time)."""
    return _new_id(BACKUP_PREFIX, now)


def new_operation_id(now: datetime | None = None) -> str:
    """Return a fresh operation id ``op-YYYYMMDDTHHMMSSZ-xxxxxx`` for ``now`` (default: current time)."""
    return _new_id(OPERATION_PREFIX, now)


def validate_backup_id(value: object) -> str:
    """Return ``value`` if it is a well-formed backup id, else raise ``InvalidIdError``."""
    return _validate(BACKUP_PREFIX, value)


def validate_operation_id(value: object) -> str:
    """Return ``value`` if it is a well-formed operation id, else raise ``InvalidIdError``."""
    return _validate(OPERATION_PREFIX, value)


def id_timestamp(value: str) -> datetime:
    """Return the UTC creation time embedded in a (valid) backup or operation id."""
    match = _ID_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None or match["prefix"] not in _KINDS:
        raise InvalidIdError(f"Not a backup or operation id: {_shown(value)}")
    return _parse_time(match["ts"], value)


def _new_id(prefix: str, now: datetime | None) -> str:
    stamp = _as_utc(now).strftime(_TIME_FORMAT)
    # token_hex(3) gives exactly six lowercase hex characters from the OS CSPRNG.
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"


def _as_utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    # A naive datetime is taken to be UTC already; converting it as local time would shift ids.
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _validate(prefix: str, value: object) -> str:
    noun, list_command = _KINDS[prefix]
    example = f"{prefix}-20240131T120000Z-3f9a1c"
    hint = [f"Ids look like {example}.", f"Run `{list_command}` to see existing {noun} ids."]
    if not isinstance(value, str) or not value:
        raise InvalidIdError(f"Missing {noun} id: expected something like {example}.", remediation=hint)
    match = _ID_RE.fullmatch(value)
    if match is None:
        raise InvalidIdError(
            f"Invalid {noun} id {_shown(value)}: expected {prefix}-YYYYMMDDTHHMMSSZ-xxxxxx "
            f"(lowercase letters and digits only, e.g. {example}).",
            remediation=hint,
        )
    if match["prefix"] != prefix:
        other = _KINDS.get(match["prefix"], ("unknown",))[0]
        raise InvalidIdError(
            f"{_shown(value)} is {_article(other)} {other} id, not {_article(noun)} {noun} id "
            f"({noun} ids start with '{prefix}-').",
            remediation=hint,
        )
    _parse_time(match["ts"], value, noun=noun, hint=hint)
    return value


def _parse_time(
    stamp: str, value: str, *, noun: str = "backup or operation", hint: list[str] | None = None
) -> datetime:
    try:
        return datetime.strptime(stamp, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidIdError(
            f"Invalid {noun} id {_shown(value)}: {stamp} is not a real UTC date and time.",
            remediation=hint,
        ) from None


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def _shown(value: object) -> str:
    # repr() makes control characters and newlines visible; truncation keeps a pasted blob
    # from flooding the terminal.
    text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 4] + "...'"

"""Redact AWS secrets from text and data before anything reaches a terminal, journal or report.

What counts as a secret here: access key ids (``AKIA``/``ASIA`` + 16), secret access keys,
session tokens, bearer tokens, SigV4 signatures and credential scopes (presigned URL
parameters and ``Authorization`` headers), and the values of keys that name a secret
(``aws_secret_access_key=...``, ``"SessionToken": "..."``, ``password: ...``).

What must survive: ARNs, 12-digit account ids, ``d-1234567890`` / ``ssoins-...`` / ``ps-...`` ids,
UUIDs, email addresses and ordinary error messages ("Token has expired", "Unable to locate
credentials"), because the operator needs those to act on the error.

Implementation note: the rules run in a fixed order, broadest context first. A header or
``key=value`` rule swallows the whole value, so a later shape rule (e.g. the access key id
one) never gets the chance to redact only part of a token and leave the rest visible.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

REDACTED = "***REDACTED***"

# Base64 alphabet used by secret keys and session tokens (``%`` covers URL-encoded tokens).
_B64 = r"A-Za-z0-9+/"

# Keys whose value is always a secret, however it is spelled: ``SecretKey``, ``secret-key``,
# ``aws_secret_access_key``, ``SecretAccessKey``, ``AWS_SESSION_TOKEN``, ``X-Amz-Security-Token``...
_W = r"[-_.]?"  # the separator between the words of a key name, if any
_STRONG_KEYS = (
    rf"(?:aws{_W})?secret{_W}(?:access{_W})?key|(?:aws{_W}|x-amz-)?(?:session|security){_W}token"
    rf"|access{_W}token|refresh{_W}token|id{_W}token|client{_W}secret|private{_W}key|passw(?:or)?d"
    r"|x-amz-signature|x-amz-credential"
)
# Generic words that are only secrets when clearly used as a key: ``token=...`` or a quoted
# JSON key. Unquoted "Token: ..." is left alone because botocore writes messages such as
# "Error loading SSO Token: Token for ... does not exist".
_WEAK_KEYS = r"token|secret|signature|credential|api_?key"

# A quote as written raw, JSON-escaped (``\"``, ``\\\"``) or URL-encoded (``%22``).
_Q = r"(?:\\*[\"']|%22|%27)"
# ``=`` or ``:`` as written raw or URL-encoded (``%3D``, ``%253D`` when encoded twice).
_EQ = r"(?:[:=]|%(?:25)?3[AaDd])"
# A value: up to whitespace, a quote, a separator or a JSON-escaped quote (``\/`` is an escaped
# slash inside the value, not its end; ``\\/`` the same escaped once more, JSON inside JSON).
_VALUE = r"(?:\\+/|[^\s\"',;&}\]<>\\])+"

def _redact_after(match: re.Match[str]) -> str:
    """Keep the key (group 1), redact its value: unless the "key" ends a path and a word follows
    (``/etc/passwd: permission denied``, ``'../../etc/passwd': expected ...``): a file, not a key."""
    value = match.group(0)[len(match.group(1)):].split(" ", 1)[0]
    if _PLAIN_WORD.fullmatch(value) and _in_path(match.string, match.start()):
        return match.group(0)
    return match.group(1) + REDACTED


def _in_path(text: str, start: int) -> bool:
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        start -= 1
    return start > 0 and text[start - 1] in "/\\"


def _redact_bearer(match: re.Match[str]) -> str:
    # "the bearer of", "a bearer token": a plain word after "bearer" is English, not a token.
    return match.group(0) if _PLAIN_WORD.fullmatch(match.group(2)) else match.group(1) + REDACTED


_PLAIN_WORD = re.compile(r"[A-Za-z]{1,15}\.?")  # a word, maybe ending its sentence

_Replacement = str | Callable[[re.Match[str]], str]
_RULES: tuple[tuple[re.Pattern[str], _Replacement], ...] = (
    # "Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." (header or
    # JSON): the whole value goes, scheme included, up to the end of line or closing quote.
    (re.compile(rf"(?i)(authorization{_Q}?\s*{_EQ}\s*{_Q}?)[^\r\n\"'\\]+"), _redact_after),
    (re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9._~+/=-]+)"), _redact_bearer),
    # Presigned URL / SigV4 parameters and header fragments, raw or URL-encoded.
    (
        re.compile(rf"(?i)((?:x-amz-)?(?:security-token|signature|credential)|awsaccesskeyid)({_EQ})"
                   r"[^\s,&\"'<>\\]+"),
        r"\1\2" + REDACTED,
    ),
    # Command-line flags and shell history: ``--secret-key VALUE``, ``--aws-session-token=VALUE``,
    # ``aws configure set aws_secret_access_key VALUE`` (also ``set profile.x.aws_session_token``).
    (re.compile(rf"(?i)(--(?:{_STRONG_KEYS})(?:\s+|=){_Q}?){_VALUE}"), r"\1" + REDACTED),
    (re.compile(rf"(?i)(\bconfigure\s+set\s+(?:[\w-]+\.)*(?:{_STRONG_KEYS})\s+{_Q}?){_VALUE}"), r"\1" + REDACTED),
    (re.compile(rf"(?i)((?:{_STRONG_KEYS}){_Q}?\s*{_EQ}\s*{_Q}?){_VALUE}"), _redact_after),
    (
        re.compile(rf"(?i)((?<![A-Za-z])(?:{_WEAK_KEYS})(?:\s*(?:=|%3[Dd])\s*{_Q}?|{_Q}\s*:\s*{_Q}?)){_VALUE}"),
        _redact_after,
    ),
    # Session tokens by their well-known prefixes (STS/SSO tokens are base64 of a protobuf
    # that starts the same way), raw or URL-encoded.
    (
        re.compile(r"(?:FwoGZXIvYXdz|FQoGZXIvYXdz|IQoJb3JpZ2lu|IgoJb3JpZ2lu|AgoJb3JpZ2lu)[A-Za-z0-9+/=%]*"),
        REDACTED,
    ),
)

# Long blobs (session tokens without a known prefix) and bare 40-character secret keys. Both
# must mix upper case, lower case and digits: hex digests, ids and paths do not.
_LONG_BLOB = re.compile(rf"[{_B64}]{{64,}}={{0,2}}")
_SECRET_KEY = re.compile(rf"(?<![{_B64}=])[{_B64}]{{40}}(?![{_B64}=])")
_ACCESS_KEY_ID = re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}")

# Dict keys whose values are redacted whole (compared lower-case with "-" and "_" removed).
SENSITIVE_KEYS = frozenset(
    {
        "secretaccesskey", "awssecretaccesskey", "secretkey", "awssecretkey", "sessiontoken", "awssessiontoken",
        "securitytoken",
        "awssecuritytoken", "xamzsecuritytoken", "xamzsignature", "xamzcredential", "authorization",
        "credential", "credentials", "signature", "password", "passwd", "token", "accesstoken",
        "refreshtoken", "idtoken", "clientsecret", "secret", "privatekey", "apikey",
    }
)


# A path segment or name made of words: ``Backups2024``, ``IdentityCenter``, ``idc``, ``README``.
_WORDY = re.compile(r"[a-z0-9]+|(?:[A-Z][a-z]{2,}|[a-z]{3,}|[A-Z]{2,}(?![a-z])|[0-9]+)+")


def _looks_random(candidate: str) -> bool:
    """Mixed case and digits, and not a path or name made of words (``/Users/Alice/Backups2024``)."""
    if not (any(c.isupper() for c in candidate) and any(c.islower() for c in candidate)
            and any(c.isdigit() for c in candidate)):
        return False
    segments = [part for part in candidate.strip("=").split("/") if part]
    return not all(_WORDY.fullmatch(part) for part in segments)


def _redact_random(match: re.Match[str]) -> str:
    return REDACTED if _looks_random(match.group(0)) else match.group(0)


def sanitize(text: str) -> str:
    """Return ``text`` with AWS secrets replaced by ``***REDACTED***``; idempotent."""
    if not isinstance(text, str):
        text = str(text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    text = _LONG_BLOB.sub(_redact_random, text)
    text = _SECRET_KEY.sub(_redact_random, text)
    return _ACCESS_KEY_ID.sub(REDACTED, text)


def is_sensitive_key(key: object) -> bool:
    """True when a mapping key names a secret (``SecretAccessKey``, ``X-Amz-Security-Token``...)."""
    if not isinstance(key, str):
        return False
    return key.lower().replace("-", "").replace("_", "") in SENSITIVE_KEYS


def sanitize_obj(obj: Any) -> Any:
    """Return a copy of ``obj`` with strings sanitised and values under sensitive keys redacted.

    Dicts, lists, tuples and sets are walked recursively; other values are returned as they are.
    """
    if isinstance(obj, str):
        return sanitize(obj)
    if isinstance(obj, Mapping):
        return {
            (sanitize(k) if isinstance(k, str) else k): (
                REDACTED if is_sensitive_key(k) and v not in (None, "") else sanitize_obj(v)
            )
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [sanitize_obj(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(sanitize_obj(v) for v in obj)
    if isinstance(obj, (set, frozenset)):
        return type(obj)(sanitize_obj(v) for v in obj)
    return obj

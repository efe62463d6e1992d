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
from collections.abc import Mapping
from typing import Any

REDACTED = "***REDACTED***"

# Base64 alphabet used by secret keys and session tokens (``%`` covers URL-encoded tokens).
_B64 = r"A-Za-z0-9+/"

# Keys whose value is always a secret, however it is written (``k=v``, ``k: v``, ``"k": "v"``).
_STRONG_KEYS = (
    r"aws_secret_access_key|aws_session_token|aws_security_token|secret_?access_?key"
    r"|session_?token|security_?token|access_?token|refresh_?token|id_?token|client_?secret"
    r"|private_?key|passw(?:or)?d|x-amz-security-token|x-amz-signature|x-amz-credential"
)
# Generic words that are only secrets when clearly used as a key: ``token=...`` or a quoted
# JSON key. Unquoted "Token: ..." is left alone because botocore writes messages such as
# "Error loading SSO Token: Token for ... does not exist".
_WEAK_KEYS = r"token|secret|signature|credential|api_?key|auth"

_VALUE = r"[^\s\"',;&}\]<>]+"

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." (header or
    # JSON): the whole value goes, scheme included, up to the end of line or closing quote.
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\r\n\"']+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    # Presigned URL / SigV4 parameters and header fragments.
    (
        re.compile(r"(?i)((?:x-amz-)?(?:security-token|signature|credential)|awsaccesskeyid)=[^\s,&\"'<>]+"),
        r"\1=" + REDACTED,
    ),
    (re.compile(rf"(?i)((?:{_STRONG_KEYS})[\"']?\s*[:=]\s*[\"']?){_VALUE}"), r"\1" + REDACTED),
    (
        re.compile(rf"(?i)((?:{_WEAK_KEYS})(?:\s*=\s*[\"']?|[\"']\s*:\s*[\"']?)){_VALUE}"),
        r"\1" + REDACTED,
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
        "secretaccesskey", "awssecretaccesskey", "sessiontoken", "awssessiontoken", "securitytoken",
        "awssecuritytoken", "xamzsecuritytoken", "xamzsignature", "xamzcredential", "authorization",
        "credential", "credentials", "signature", "password", "passwd", "token", "accesstoken",
        "refreshtoken", "idtoken", "clientsecret", "secret", "privatekey", "apikey",
    }
)


def _looks_random(candidate: str) -> bool:
    return (
        any(c.isupper() for c in candidate)
        and any(c.islower() for c in candidate)
        and any(c.isdigit() for c in candidate)
    )


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

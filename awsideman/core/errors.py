"""ErrorAnalyzer: any exception (or pasted error text) -> category, severity, recoverable, remediation.

The analyser is the single source of truth for "is this worth retrying?" (the retry policy asks
it) and "what should the operator do?" (reports, ``analyze-error`` and the CLI's last-resort
handler ask it). The classification data lives in ``core/error_table.py``; this module only
extracts the facts from an exception (code, Reason, HTTP status, errno, class) and looks them up.
Pasted text is taken apart by ``core/error_text.py`` first, then classified here the same way.

No SDK is imported here: an AWS error arrives as an ``AwsFact`` (``core/error_facts.py``), read
from a botocore exception by the reader the adapters register (``read_facts_with``), or from
pasted text here. The names, bases and message templates of the SDK's exception classes (so a
pasted ``EndpointConnectionError`` is known to be a ``ConnectionError``) are registered by the
same adapter from the installed botocore (``know_sdk_exceptions``), never copied here.

Every message and remediation step that leaves this module is sanitised.
"""

from __future__ import annotations

import errno as _errno
import os
import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from awsideman.core import error_table as T
from awsideman.core import error_text, exceptions
from awsideman.core.error_facts import AwsFact, fact_from_response
from awsideman.core.error_table import Rule
from awsideman.core.exceptions import AwsidemanError
from awsideman.core.sanitize import sanitize

__all__ = ["ErrorInfo", "FoundError", "FileAnalysis", "ErrorAnalyzer", "error_exit_code", "dedupe_steps", "Rule",
           "AwsFact", "FactReader", "read_facts_with", "know_sdk_exceptions", "is_expected"]

_DENIED_CODES = frozenset(c for c, r in T.CODE_RULES.items() if r.category == T.AUTHORIZATION)
_ACTION_RE = re.compile(r"not authorized to perform:?\s+([a-z0-9-]+:[A-Za-z0-9*]+)")
_OP_ID_RE = re.compile(r"\bop-[0-9]{8}T[0-9]{6}Z-[0-9a-z]{6}\b")
_NO_OP = "UnknownOperation"
_GENERIC = (OSError, Exception, BaseException, object)

FactReader = Callable[[BaseException], AwsFact | None]
_READERS: list[FactReader] = []


def read_facts_with(reader: FactReader) -> None:
    """Let the analyser read an SDK's exceptions: ``reader(exc)`` is their ``AwsFact`` or ``None``.

    The adapters register botocore's reader when imported (``adapters/error_facts.py``).
    """
    if reader not in _READERS:
        _READERS.append(reader)


_SDK_CLASSES: dict[str, tuple[str, ...]] = {}
_SDK_MESSAGES: dict[str, str] = {}


def know_sdk_exceptions(classes: Mapping[str, tuple[str, ...]], messages: Mapping[str, str]) -> None:
    """Teach pasted-text analysis an SDK's exception classes: ``classes`` maps a class name to the
    names a rule is looked up by (``rule_names``), ``messages`` to the template its message follows.

    The adapters register the installed botocore's when imported (``adapters/error_facts.py``).
    """
    _SDK_CLASSES.update(classes)
    _SDK_MESSAGES.update(messages)
    _botocore_messages.cache_clear()


def _fact_of(exc: BaseException) -> AwsFact | None:
    for reader in _READERS:
        fact = reader(exc)
        if fact is not None:
            return fact
    return None


@dataclass(frozen=True)
class ErrorInfo:
    """What an error means: the JSON contract is ``to_dict()`` (DESIGN section 1)."""

    category: str
    severity: str
    recoverable: bool
    code: str
    message: str
    remediation: tuple[str, ...] = field(default_factory=tuple)
    operation: str | None = None
    retry_after: float | None = None
    http_status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return ``{category, severity, code, message, recoverable, remediation}`` plus set extras."""
        data: dict[str, Any] = {
            "category": self.category,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "recoverable": self.recoverable,
            "remediation": list(self.remediation),
        }
        for key in ("operation", "retry_after", "http_status"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class FoundError:
    """An error found in a file: what it means, the line it first occurs on, how often, and the
    operation the line names (``analyze-error --file``)."""

    info: ErrorInfo
    line: int | None = None
    count: int = 1
    operation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = self.info.to_dict()
        for key in ("line", "count", "operation_id"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass(frozen=True)
class FileAnalysis:
    """The distinct errors of a file (at most ``error_text.MAX_ERRORS``) and how many were left out."""

    errors: list[FoundError]
    omitted: int = 0


class _Blank(dict[str, str]):
    # Leaves an unfilled placeholder visible ("{op_id}" -> "OP_ID") instead of raising KeyError.
    def __missing__(self, key: str) -> str:
        return key.upper()


@dataclass(frozen=True)
class _Facts:
    """What was extracted from an error before lookup (internal)."""

    code: str
    message: str
    operation: str | None = None
    service: str | None = None
    reason: str | None = None
    http_status: int | None = None
    retry_after: float | None = None
    path: str | None = None
    op_id: str | None = None


class ErrorAnalyzer:
    """Classify exceptions and error text using the rules in ``core/error_table.py``.

    ``overrides`` maps an AWS error code, exception class name, errno name, Reason or project
    error class name to a ``Rule`` and wins over the built-in table. ``profile`` / ``region`` make
    remediation concrete (default: ``AWS_PROFILE`` / ``AWS_REGION`` from the environment).
    """

    def __init__(
        self,
        overrides: Mapping[str, Rule] | None = None,
        *,
        profile: str | None = None,
        region: str | None = None,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.profile = profile if profile is not None else os.environ.get("AWS_PROFILE")
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")

    # -- public --------------------------------------------------------------------------------
    def analyze(self, exc: BaseException | AwsFact, operation: str | None = None) -> ErrorInfo:
        """Classify ``exc`` (an exception or an AWS error's facts); ``operation`` is the API call
        (``ListUsers`` or ``identitystore:ListUsers``)."""
        service, op = _split_operation(operation)
        fact = exc if isinstance(exc, AwsFact) else _fact_of(exc)
        if fact is not None and fact.code is not None:
            return self._client_error(fact, op, service)
        if isinstance(exc, AwsFact):
            return self._sdk_failure(exc, op, service)
        if isinstance(exc, AwsidemanError):
            return self._project_error(exc, op)
        rule = self._class_rule(type(exc))
        if rule is not None:
            facts = _Facts(type(exc).__name__, str(exc) or type(exc).__name__, op, service,
                           path=_path_of(exc))
            return self._build(rule, facts)
        if isinstance(exc, OSError) and exc.errno is not None:
            return self._os_error(exc, op)
        return self._build(T.UNKNOWN_RULE, _Facts(type(exc).__name__, str(exc) or type(exc).__name__, op))

    def analyze_text(self, text: str, code: str | None = None) -> ErrorInfo:
        """Classify a pasted error: an AWS CLI / boto3 line, a Python exception line or a JSON error."""
        text = (text or "").strip()
        parsed = error_text.parse_json(text)
        if parsed is not None:
            infos = self._from_json(parsed, code)
            if infos:
                return infos[0]
        return self._from_line(text, code)

    def analyze_all(self, text: str) -> list[ErrorInfo]:
        """Every error found in a log or JSON document (one per error line / JSON error object)."""
        parsed = error_text.parse_json(text.strip())
        if parsed is not None:
            return self._from_json(parsed, None)
        return [self._from_line(line, None) for line in error_text.error_lines(text)]

    def analyze_file(self, text: str) -> FileAnalysis:
        """The errors in a log file (``error_text.error_candidates``) or a JSON error document.

        An awsideman log's analysed errors are taken as recorded, so a log names the category
        its operation's report names; other records are classified like pasted text.
        """
        parsed = error_text.parse_json(text.strip())
        if parsed is not None:
            infos = self._from_json(parsed, None)
            return FileAnalysis([FoundError(info) for info in infos[:error_text.MAX_ERRORS]],
                                max(len(infos) - error_text.MAX_ERRORS, 0))
        found = error_text.error_candidates(text)
        errors = [FoundError(self._recorded(c.recorded) if c.recorded is not None else self._from_line(c.text, None),
                             c.line, c.count, c.operation_id) for c in found.errors]
        return FileAnalysis(errors, found.omitted)

    def _recorded(self, recorded: error_text.RecordedError) -> ErrorInfo:
        if recorded.category not in T.CATEGORIES or recorded.severity not in T.SEVERITIES:
            return self._from_line(f"{recorded.code}: {recorded.message}", None)  # not ours after all: read it
        recoverable = recorded.recoverable
        if recoverable is None:  # a log written before the field: the table knows, for one code
            recoverable = self._from_code(recorded.code, recorded.message).recoverable
        return ErrorInfo(category=recorded.category, severity=recorded.severity, recoverable=recoverable,
                         code=recorded.code, message=sanitize(recorded.message),
                         remediation=dedupe_steps(sanitize(step) for step in recorded.remediation))

    # -- extraction ------------------------------------------------------------------------------
    def _client_error(self, fact: AwsFact, op: str | None, service: str | None) -> ErrorInfo:
        # Rebuilt errors (pasted text, JSON) carry a placeholder operation name: not worth showing.
        op = op or (fact.operation if fact.operation not in (None, "", _NO_OP) else None)
        facts = _Facts(
            code=fact.code or "Unknown",
            message=fact.message,
            operation=op,
            service=service or fact.service,
            reason=fact.reason,
            http_status=fact.http_status,
            retry_after=fact.retry_after,
        )
        return self._build(self._aws_rule(facts, fact.error_message), facts)

    def _sdk_failure(self, fact: AwsFact, op: str | None, service: str | None) -> ErrorInfo:
        """An SDK failure that got no service answer (no credentials, no network): its class names say it."""
        name = fact.exception_name or "Unknown"
        rule = self._names_rule(fact.exception_bases or (name,)) or T.UNKNOWN_RULE
        return self._build(rule, _Facts(name, fact.message or name, op or fact.operation, service or fact.service))

    def _aws_rule(self, facts: _Facts, raw_message: str) -> Rule:
        """Reason first (it is the most specific), then code, then HTTP status."""
        code = facts.code.rsplit("#", 1)[-1]
        if code.startswith("KMS.") and code not in self.overrides:  # S3 SSE-KMS: "KMS.DisabledException"
            return (self._lookup(T.CODE_RULES, code[4:]) or self._lookup(T.CODE_RULES, "DisabledException")
                    or T.UNKNOWN_RULE)
        if facts.reason:
            rule = self._lookup(T.REASON_RULES, facts.reason)
            if rule is None and facts.reason.startswith(T.KMS_REASON_PREFIX):
                rule = self._lookup(T.CODE_RULES, "DisabledException")
            if rule is not None:
                return rule
        if code == "ConflictException" and code not in self.overrides:
            lowered = raw_message.lower()
            for fragment, rule in T.CONFLICT_MESSAGE_RULES:
                if fragment in lowered:
                    return rule
        rule = self._lookup(T.CODE_RULES, code)
        if code in _DENIED_CODES and code not in self.overrides:
            lowered = raw_message.lower()
            found = next((r for fragment, r in T.DENIED_MESSAGE_RULES if fragment in lowered), None)
            if found is not None:
                return found
        if code in _DENIED_CODES and _is_kms(facts, raw_message):
            # A KMS denial (direct, or behind S3 SSE-KMS) is fixed in the key policy, not IAM alone.
            return self._lookup(T.CODE_RULES, "KMSAccessDeniedException") or T.UNKNOWN_RULE
        if rule is None and code.isdigit():
            rule = T.STATUS_RULES.get(int(code))
        if rule is None and facts.http_status is not None:
            rule = T.STATUS_RULES.get(facts.http_status)
            if rule is None and facts.http_status >= 500:
                rule = T.CODE_RULES["InternalServerException"]
        return rule or T.UNKNOWN_RULE

    def _project_error(self, exc: AwsidemanError, op: str | None) -> ErrorInfo:
        rule = self._class_rule(type(exc), T.PROJECT_RULES) or T.UNKNOWN_RULE
        cause = exc.__cause__ or exc.__context__
        op_id = getattr(exc, "operation_id", None) or getattr(exc, "op_id", None)
        if op_id is None:
            found = _OP_ID_RE.search(exc.message or "")
            op_id = found.group(0) if found else None
        facts = _Facts(str(exc.code), exc.message or str(exc), op, op_id=op_id,
                       path=getattr(exc, "path", None))
        steps = tuple(exc.remediation)
        root = getattr(exc, "root_cause", None)
        if rule.category == T.UNKNOWN and isinstance(root, Mapping) and root.get("category") in T.CATEGORIES:
            # A wrapper that recorded its root cause's analysis (a strict backup's failed steps):
            # the JSON error carries the cause's category and code; its advice is already in steps.
            rule = replace(rule, category=root["category"],
                           severity=_max_severity(rule.severity, str(root.get("severity") or rule.severity)))
            facts = replace(facts, code=str(root.get("code") or facts.code))
        elif rule.category == T.UNKNOWN and cause is not None and cause is not exc:
            # An error that wraps another (IncompleteBackupError from a throttled call): the cause
            # says what went wrong, the wrapper says how to continue.
            inner = self.analyze(cause, op)
            rule = replace(rule, category=inner.category, severity=_max_severity(rule.severity, inner.severity))
            steps = steps + inner.remediation
        info = self._build(rule, facts)
        return replace(info, remediation=dedupe_steps(tuple(sanitize(s) for s in steps) + info.remediation))

    def _os_error(self, exc: OSError, op: str | None) -> ErrorInfo:
        name = T.ERRNO_NAMES.get(exc.errno) or _errno.errorcode.get(exc.errno or 0, "OSError")
        rule = self._lookup(T.ERRNO_RULES, name) or T.ERRNO_DEFAULT
        return self._build(rule, _Facts(name, str(exc), op, path=_path_of(exc)))

    def _from_line(self, text: str, code: str | None) -> ErrorInfo:
        cli = error_text.cli_line(text)
        if cli:
            return self._synthetic(code or cli.code, cli.message, cli.operation, text)
        printed = error_text.printed_code(text)
        if printed and code is None:  # pasted back from awsideman's own output
            return self._from_code(printed, text)
        exc_line = error_text.exception_line(text)
        if exc_line and code is None:
            info = self._from_class_name(exc_line.class_name, exc_line.message, text)
            if info is not None:
                return info
        if code:
            return self._from_code(code, text)
        for name, pattern in _botocore_messages():
            if pattern.search(text):  # the message a botocore exception prints, without its class name
                info = self._from_class_name(name, text, text)
                if info is not None:
                    return info
        lowered = text.lower()
        for fragment, hint in T.MESSAGE_HINTS:
            if fragment in lowered:
                return self._from_code(hint, text)
        # An exception nobody classified still says what it is (``KeyError: 'x'``).
        unknown = exc_line.class_name if exc_line and code is None else "Unknown"
        return self._build(T.UNKNOWN_RULE, _Facts(unknown, text or "(empty)"))

    def _from_code(self, code: str, text: str) -> ErrorInfo:
        """A bare code from --code or a hint: AWS code, exception class, errno or project code."""
        info = self._from_class_name(code, text, text)
        return info if info is not None else self._synthetic(code, text, None, text)

    def _from_class_name(self, name: str, message: str, text: str) -> ErrorInfo | None:
        mention = error_text.errno_mention(text)
        if mention and name in ("OSError", "IOError", "PermissionError", "FileNotFoundError"):
            num = mention.number
            return self._os_error(OSError(num, os.strerror(num), mention.path), None)
        if name in T.ERRNO_RULES:
            return self._build(self._lookup(T.ERRNO_RULES, name) or T.ERRNO_DEFAULT, _Facts(name, text))
        project = _project_class(name)
        if project is not None:
            return self._project_error(_bare(project, message), None)
        names = _known_names(name)
        rule = self._names_rule(names) if names is not None else self._lookup(T.EXCEPTION_RULES, name)
        if rule is None:
            return None
        return self._build(rule, _Facts(name, text))

    def _synthetic(self, code: str, message: str, op: str | None, text: str) -> ErrorInfo:
        # Read the CLI line into the facts its exception would give, so both share one classifier.
        code = code.strip()
        error: Any = {"Error": {"Code": code, "Message": message}}
        status = int(code) if code.isdigit() else None
        if status:
            error["ResponseMetadata"] = {"HTTPStatusCode": status}
        info = self._client_error(fact_from_response(error, op or _NO_OP), op, None)
        return replace(info, message=sanitize(text) if text else info.message)

    def _from_json(self, data: Any, code: str | None) -> list[ErrorInfo]:
        infos: list[ErrorInfo] = []
        for found in error_text.json_errors(data, code):
            err_code, message, op = found.code, found.message, found.operation
            project = _project_class(err_code)
            if project is not None:
                infos.append(self._project_error(_bare(project, message), op))
            elif err_code in T.EXCEPTION_RULES or err_code in T.ERRNO_RULES:
                infos.append(self._from_code(err_code, message))
            else:
                response: Any = {"Error": {"Code": err_code, "Message": message}, **found.extra}
                info = self._client_error(fact_from_response(response, op or _NO_OP), op, None)
                infos.append(replace(info, message=sanitize(f"{err_code}: {message}" if message else err_code)))
        return infos

    # -- lookup and build ------------------------------------------------------------------------
    def _lookup(self, table: Mapping[str, Rule], key: str) -> Rule | None:
        return self.overrides.get(key) or table.get(key)

    def _class_rule(self, klass: type, table: Mapping[str, Rule] = T.EXCEPTION_RULES) -> Rule | None:
        return self._names_rule(rule_names(klass), table)

    def _names_rule(self, names: Iterable[str], table: Mapping[str, Rule] = T.EXCEPTION_RULES) -> Rule | None:
        """The rule of the first class name that has one (a subclass inherits its parent's rule)."""
        for name in names:
            rule = self._lookup(table, name)
            if rule is not None:
                return rule
        return None

    def _build(self, rule: Rule, facts: _Facts) -> ErrorInfo:
        values = _Blank(self._template_values(facts))
        formatter = string.Formatter()
        steps = tuple(sanitize(formatter.vformat(step, (), values)) for step in rule.remediation)
        recoverable = rule.recoverable
        return ErrorInfo(
            category=rule.category,
            severity=rule.severity,
            recoverable=recoverable,
            code=facts.code,
            message=sanitize(facts.message),
            remediation=dedupe_steps(steps),
            operation=facts.operation,
            retry_after=facts.retry_after if recoverable else None,
            http_status=facts.http_status,
        )

    def _template_values(self, facts: _Facts) -> dict[str, str]:
        service = facts.service or (T.service_for_operation(facts.operation) if facts.operation else None)
        fallback = ""
        if facts.operation:
            prefix = T.SERVICE_PREFIXES.get(service or "", service or "sso")
            fallback = f"{prefix}:{facts.operation}"
            fallback = T.ACTION_OVERRIDES.get(fallback, fallback)
        action = _denied_action(facts.message, fallback) or "the denied action (see the message)"
        values = {
            "action": action,
            "operation": facts.operation or "the call",
            "service": service or "the service",
            "code": facts.code,
            # No placeholder for the operator to fill in: the configured profile, or none at all
            # (the default credential chain is what awsideman used too).
            "profile": f" --profile {self.profile}" if self.profile else "",
            "profile_name": f"profile {self.profile}" if self.profile else "your credentials",
            "region": self.region or "REGION",
            "path": facts.path or "the path in the message",
            "op_id": facts.op_id or "OP_ID",
        }
        return values


# -- helpers ------------------------------------------------------------------------------------
def error_exit_code(exc: BaseException, info: ErrorInfo) -> int:
    """Exit code for an error: its own ``exit_code`` for awsideman errors, 2 for configuration and
    the operator's set-up (no credentials: ``SETUP_CODES``), else 1."""
    if isinstance(exc, AwsidemanError):
        return int(exc.exit_code)
    return 2 if info.category == T.CONFIGURATION or info.code in T.SETUP_CODES else 1


def _split_operation(operation: str | None) -> tuple[str | None, str | None]:
    if not operation:
        return None, None
    for sep in (":", "."):
        if sep in operation:
            service, _, op = operation.partition(sep)
            return service or None, op or None
    return None, operation


def _is_kms(facts: _Facts, raw_message: str) -> bool:
    service = facts.service or (T.service_for_operation(facts.operation) if facts.operation else None)
    return service == "kms" or _denied_action(raw_message, "").startswith("kms:")


def _denied_action(message: str, fallback: str) -> str:
    found = _ACTION_RE.search(message or "")
    return found.group(1) if found else fallback


def _path_of(exc: BaseException) -> str | None:
    path = getattr(exc, "filename", None) or getattr(exc, "path", None)
    return str(path) if path else None


_COMMAND_RE = re.compile(r"`([^`]+)`")


def dedupe_steps(steps: Iterable[str]) -> tuple[str, ...]:
    """Each step once: an exact repeat, or a step whose commands (in backticks) an earlier step
    already gives, says nothing new (an error's own "Run `awsideman report list` to see ..." and
    the table's "`awsideman report list` lists ..." are one bullet)."""
    kept: list[str] = []
    given: set[str] = set()
    for step in steps:
        if not step or step in kept:
            continue
        commands = {c.strip() for c in _COMMAND_RE.findall(step)}
        if commands and commands <= given:
            continue
        kept.append(step)
        given |= commands
    return tuple(kept)


def _max_severity(a: str, b: str) -> str:
    return max(a, b, key=T.SEVERITIES.index)


def _project_class(name: str) -> type[AwsidemanError] | None:
    """The awsideman exception class with this class name or ``code`` (e.g. CorruptBackup)."""
    for klass in _project_classes():
        if name in (klass.__name__, klass.code):
            return klass
    return None


@lru_cache(maxsize=1)
def _project_classes() -> tuple[type[AwsidemanError], ...]:
    # Every layer's errors are defined in core/exceptions.py, so that module is the whole list,
    # whatever else has been imported; parents come before their subclasses (a subclass that
    # inherits its parent's ``code`` is found by its class name only).
    return tuple(value for value in vars(exceptions).values()
                 if isinstance(value, type) and issubclass(value, AwsidemanError))


def _bare(klass: type[AwsidemanError], message: str) -> AwsidemanError:
    """An instance of ``klass`` with only a message, whatever its constructor asks for."""
    try:
        return klass(message)
    except TypeError:  # e.g. AmbiguousWriteError(message, original=...)
        instance = klass.__new__(klass)
        AwsidemanError.__init__(instance, message)
        return instance


@lru_cache(maxsize=1)
def _botocore_messages() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(class name, pattern of its printed message) for the SDK exceptions registered.

    Built from each class's own ``fmt`` template (``know_sdk_exceptions``), so messages are not
    copied here. Most specific (longest text) first; templates that are mostly a placeholder
    (``{error_msg}``) say nothing and are skipped.
    """
    found = []
    for name, fmt in _SDK_MESSAGES.items():
        if _class_rule_name(_SDK_CLASSES.get(name, (name,))) is None:
            continue
        parts = re.split(r"\{[^{}]*\}", fmt)
        literal = max(parts, key=len).strip()
        if len(literal) < 12:
            continue
        pattern = r"[\s\S]{0,2000}?".join(re.escape(part) for part in parts if part)
        found.append((len("".join(parts)), name, re.compile(pattern, re.IGNORECASE)))
    return tuple((name, pattern) for _, name, pattern in sorted(found, key=lambda f: -f[0]))


def _class_rule_name(names: Iterable[str]) -> str | None:
    for name in names:
        if name in T.EXCEPTION_RULES:
            return name
    return None


def rule_names(klass: type) -> tuple[str, ...]:
    """The class names a rule is looked up by: the MRO up to the generic bases, so an OSError is
    classified by errno rather than by its class."""
    names = []
    for base in klass.__mro__:
        if base in _GENERIC:
            break
        names.append(base.__name__)
    return tuple(names)


def _known_names(name: str) -> tuple[str, ...] | None:
    """The walked class names of a registered SDK or builtin exception called ``name``."""
    import builtins

    if name in _SDK_CLASSES:
        return _SDK_CLASSES[name]
    klass = getattr(builtins, name, None)
    return rule_names(klass) if isinstance(klass, type) and issubclass(klass, BaseException) else None


def is_expected(exc: BaseException) -> bool:
    """An error of the world (AWS, network, storage, our own checks), not a bug in awsideman.

    Code that turns failures into data (a missing step of a partial backup) handles only these;
    anything else (KeyError, TypeError, ...) is a bug and must surface as an internal error.
    An SDK's exceptions are the ones its registered reader reads (``read_facts_with``).
    """
    return isinstance(exc, (AwsidemanError, OSError)) or _fact_of(exc) is not None

"""`analyze-error` recognises every exception's message as printed, not only service error codes.

Table-driven over every botocore exception the error table classifies (built from botocore's own
message templates, so a new botocore exception is checked too) and every awsideman exception.
"""

from __future__ import annotations

import re
import string

import botocore.exceptions
import pytest

import awsideman.adapters  # noqa: F401 - registers botocore's error facts (the cli imports them lazily)
import awsideman.cli.app  # noqa: F401 - imports every module that defines an exception
from awsideman.core.error_table import EXCEPTION_RULES
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import AwsidemanError


def _ruled(klass: type) -> bool:
    return any(base.__name__ in EXCEPTION_RULES for base in klass.__mro__)


def _says_nothing(klass: type) -> bool:
    # A template that is (almost) only a placeholder, like InvalidConfigError's "{error_msg}".
    return len(max(re.split(r"\{[^{}]*\}", klass.fmt), key=len).strip()) < 12


def _botocore_cases() -> list[BaseException]:
    cases = []
    for klass in vars(botocore.exceptions).values():
        if not (isinstance(klass, type) and issubclass(klass, botocore.exceptions.BotoCoreError) and _ruled(klass)):
            continue
        fields = {name for _, name, _, _ in string.Formatter().parse(klass.fmt) if name}
        values = {name: "https://sso.eu-west-1.amazonaws.com/" if "url" in name else f"the-{name}"
                  for name in fields}
        cases.append(klass(**values))
    return cases


def _project_classes() -> list[type[AwsidemanError]]:
    found, todo = [], [AwsidemanError]
    while todo:
        klass = todo.pop()
        found.append(klass)
        todo.extend(klass.__subclasses__())
    return sorted(set(found), key=lambda k: k.__name__)


def _project_instance(klass: type[AwsidemanError]) -> AwsidemanError:
    message = "backup bk-20240131T120000Z-3f9a1c: something specific went wrong"
    if klass.__name__ == "AmbiguousWriteError":
        return klass(message, original=TimeoutError("read timed out"))  # type: ignore[call-arg]
    if klass.__name__ == "OperationStateError":
        from types import SimpleNamespace

        return klass(SimpleNamespace(id="op-20240131T120000Z-3f9a1c"), "succeeded")  # type: ignore[call-arg,arg-type]
    return klass(message)


BOTOCORE = _botocore_cases()
PROJECT = _project_classes()


def test_the_tables_are_not_empty():
    names = {type(exc).__name__ for exc in BOTOCORE}
    assert {"EndpointConnectionError", "NoCredentialsError", "ReadTimeoutError", "ConnectTimeoutError",
            "NoRegionError", "ProfileNotFound", "SSOTokenLoadError", "TokenRetrievalError"} <= names
    assert len(PROJECT) >= 20


def test_every_awsideman_error_is_defined_in_core_exceptions():
    # The analyser looks a pasted class name up in that module only (core/errors.py).
    assert [k.__name__ for k in PROJECT if k.__module__ != "awsideman.core.exceptions"] == []


@pytest.mark.parametrize("exc", BOTOCORE, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("form", ["message", "traceback line", "logged"])
def test_botocore_messages_are_recognised_as_printed(exc, form):
    analyzer = ErrorAnalyzer(profile="ops", region="eu-west-1")
    expected = analyzer.analyze(exc)
    if form != "traceback line" and _says_nothing(type(exc)):
        pytest.skip(f"{type(exc).__name__}'s message is only its argument ({type(exc).fmt!r})")
    text = {"message": str(exc), "traceback line": f"botocore.exceptions.{type(exc).__name__}: {exc}",
            "logged": f"2026-01-01 12:00:00 ERROR backup failed: {exc}"}[form]
    got = analyzer.analyze_text(text)
    assert (got.category, got.recoverable) == (expected.category, expected.recoverable), text
    if form == "traceback line":
        assert got.code == type(exc).__name__


@pytest.mark.parametrize("klass", PROJECT, ids=lambda k: k.__name__)
def test_awsideman_errors_are_recognised_as_printed(klass):
    analyzer = ErrorAnalyzer()
    exc = _project_instance(klass)
    expected = analyzer.analyze(exc)
    # As the CLI prints it (text mode), as a traceback's last line, and as its JSON error.
    printed = [f"Error ({expected.code}): {expected.message}",
               f"{klass.__module__}.{klass.__name__}: {exc.message}",
               f'{{"errors": [{{"code": "{expected.code}", "message": "{exc.message}"}}]}}']
    for text in printed:
        got = analyzer.analyze_text(text)
        assert (got.category, got.code) == (expected.category, expected.code), text
    assert expected.category != "unknown" or re.search(r"Internal|Interrupted|Incomplete|Awsideman",
                                                       klass.__name__), klass

"""botocore's exceptions -> the core's plain facts: the adapter reads them, the core classifies
them without importing botocore, and the core's copy of botocore's names follows botocore."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import botocore.exceptions
import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    SSOTokenLoadError,
)

from awsideman.adapters.error_facts import aws_fact
from awsideman.core import errors
from awsideman.core.error_facts import AwsFact
from awsideman.core.errors import ErrorAnalyzer, is_expected
from tests.core.test_errors import CASES, client_error


def test_pasted_text_knows_every_exception_class_of_the_installed_botocore():
    """Registered from botocore itself, so an upgrade that adds a class needs no copy refreshed."""
    for name, klass in vars(botocore.exceptions).items():
        if isinstance(klass, type) and issubclass(klass, BaseException):
            assert errors._known_names(name) == errors.rule_names(klass), name


def test_a_pasted_botocore_message_without_its_class_name_is_classified_as_that_class():
    text = 'Could not connect to the endpoint URL: "https://sso.eu-west-1.amazonaws.com/"'
    analyzer = ErrorAnalyzer(profile="prod", region="eu-west-1")
    pasted = analyzer.analyze_text(text)
    raised = analyzer.analyze(EndpointConnectionError(endpoint_url="https://sso.eu-west-1.amazonaws.com/"), None)
    assert (pasted.category, pasted.recoverable) == (raised.category, raised.recoverable) == ("network", True)


def test_a_client_error_becomes_a_plain_fact():
    response: Any = {
        "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
        "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "req-1", "HTTPHeaders": {"Retry-After": "4"}},
    }
    fact = aws_fact(ClientError(response, "ListUsers"))
    assert fact == AwsFact(
        code="ThrottlingException",
        message="An error occurred (ThrottlingException) when calling the ListUsers operation: Rate exceeded",
        operation="ListUsers", error_message="Rate exceeded", http_status=400, request_id="req-1",
        retry_after=4.0, exception_name="ClientError", exception_bases=("ClientError",))


def test_an_sdk_failure_is_a_fact_without_a_code_and_anything_else_is_none():
    fact = aws_fact(EndpointConnectionError(endpoint_url="https://x"))
    assert fact is not None and fact.code is None
    assert fact.exception_bases[:2] == ("EndpointConnectionError", "ConnectionError")
    assert aws_fact(ValueError("x")) is None and aws_fact(OSError(2, "gone")) is None


SDK_CASES = [case for case in CASES if aws_fact(case[1]) is not None]


@pytest.mark.parametrize(("exc", "operation"), [case[1:3] for case in SDK_CASES], ids=[c[0] for c in SDK_CASES])
def test_the_fact_classifies_exactly_as_the_exception(exc, operation):
    analyzer = ErrorAnalyzer(profile="prod", region="eu-west-1")
    assert analyzer.analyze(aws_fact(exc), operation) == analyzer.analyze(exc, operation)


def test_the_cases_cover_both_kinds_of_fact():
    kinds = {aws_fact(case[1]).code is None for case in SDK_CASES}  # type: ignore[union-attr]
    assert kinds == {True, False}
    for exc in (NoCredentialsError(), SSOTokenLoadError(error_msg="x"), ReadTimeoutError(endpoint_url="u"),
                client_error("ThrottlingException")):
        assert is_expected(exc)
    assert not is_expected(KeyError("x"))


def test_the_core_reads_pasted_botocore_errors_without_importing_botocore():
    """In a fresh interpreter: the core classifies text naming botocore's exceptions, and botocore
    is never loaded (the check in tests/test_layers.py reads the source; this one runs it)."""
    code = (
        "import sys\n"
        "from awsideman.core.errors import ErrorAnalyzer\n"
        "a = ErrorAnalyzer()\n"
        "print(a.analyze_text('botocore.exceptions.NoCredentialsError: Unable to locate credentials').category)\n"
        "print(a.analyze_text('Could not connect to the endpoint URL: \"https://sso.x/\"').code)\n"
        "print(a.analyze_text('An error occurred (ThrottlingException) when calling the ListUsers operation: x')"
        ".recoverable)\n"
        "print(any(m.split('.')[0] in ('botocore', 'boto3') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["authentication", "EndpointConnectionError", "True", "False"]

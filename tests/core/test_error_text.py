"""error_text: pasted error text taken apart into facts (classification is test_errors.py's)."""

from __future__ import annotations

import json

import pytest

from awsideman.core.error_text import (
    CliLine,
    ErrnoMention,
    ExceptionLine,
    JsonError,
    cli_line,
    errno_mention,
    error_lines,
    exception_line,
    json_errors,
    parse_json,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("An error occurred (ThrottlingException) when calling the ListUsers operation: Rate exceeded",
         CliLine("ThrottlingException", "ListUsers", "Rate exceeded")),
        ("An error occurred (ThrottlingException) when calling the ListUsers operation (reached max retries: 4): "
         "Rate exceeded", CliLine("ThrottlingException", "ListUsers", "Rate exceeded")),
        ("An error occurred (ThrottlingException) (reached max retries: 4) when calling the ListUsers operation: x",
         CliLine("ThrottlingException", "ListUsers", "x")),
        ("2024-01-31 ERROR An error occurred (500): Internal Server Error",
         CliLine("500", None, "Internal Server Error")),
        ("Rate exceeded", None),
        ("", None),
    ],
    ids=["plain", "max-retries-after", "max-retries-before", "status-no-operation", "no-line", "empty"],
)
def test_cli_line(text, expected):
    assert cli_line(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("botocore.exceptions.NoCredentialsError: Unable to locate credentials",
         ExceptionLine("NoCredentialsError", "Unable to locate credentials")),
        ("PermissionError: [Errno 13] Permission denied: '/x'",
         ExceptionLine("PermissionError", "[Errno 13] Permission denied: '/x'")),
        ("raised (awsideman.core.exceptions.CorruptBackupError: checksum mismatch)",
         ExceptionLine("CorruptBackupError", "checksum mismatch)")),
        ("ProfileNotFound: The config profile (x) could not be found",
         ExceptionLine("ProfileNotFound", "The config profile (x) could not be found")),
        ("error: something went wrong", None),  # lower-case words are not exception classes
        ("MyThing: not an error class name", None),
    ],
    ids=["dotted", "errno", "in-parentheses", "not-found-suffix", "lower-case", "other-suffix"],
)
def test_exception_line(text, expected):
    assert exception_line(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PermissionError: [Errno 13] Permission denied: '/var/lib/awsideman'", ErrnoMention(13, "/var/lib/awsideman")),
        ("OSError: [Errno 28] No space left on device", ErrnoMention(28, None)),
        ("OSError: no number here", None),
    ],
    ids=["with-path", "without-path", "none"],
)
def test_errno_mention(text, expected):
    assert errno_mention(text) == expected


def test_error_lines_keeps_only_error_lines_stripped():
    log = "\n".join([
        "2024-01-31 INFO starting backup",
        "  2024-01-31 ERROR An error occurred (ThrottlingException) when calling the ListUsers operation: x  ",
        "2024-01-31 INFO still going",
        "\tbotocore.exceptions.NoCredentialsError: Unable to locate credentials",
    ])
    assert list(error_lines(log)) == [
        "2024-01-31 ERROR An error occurred (ThrottlingException) when calling the ListUsers operation: x",
        "botocore.exceptions.NoCredentialsError: Unable to locate credentials",
    ]
    assert list(error_lines("all fine\nreally")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("[1, 2]", [1, 2]),
        ("{not json", None),
        ("42", None),  # only objects and lists count as a JSON error document
        ("", None),
    ],
)
def test_parse_json(text, expected):
    assert parse_json(text) == expected


def test_json_errors_of_each_shape():
    aws_body = {"Error": {"Code": "ConflictException", "Message": "x"}, "Reason": "CONCURRENT_MODIFICATION"}
    assert json_errors(aws_body) == [JsonError("ConflictException", "x", None, {"Reason": "CONCURRENT_MODIFICATION"})]
    typed = {"__type": "com.amazonaws.identitystore#ResourceNotFoundException", "Message": "no user"}
    assert json_errors(typed) == [JsonError("ResourceNotFoundException", "no user")]
    cloudtrail = {"errorCode": "AccessDenied:Something", "errorMessage": "denied"}
    assert json_errors(cloudtrail) == [JsonError("AccessDenied", "denied")]
    result = {"status": "failed", "errors": [
        {"code": "StorageError", "message": "disk", "operation": "PutObject"},
        {"code": "ThrottlingException", "message": "Rate exceeded", "RetryAfterSeconds": 2},
        "not an object",
    ]}
    assert json_errors(result) == [
        JsonError("StorageError", "disk", "PutObject"),
        JsonError("ThrottlingException", "Rate exceeded", None, {"RetryAfterSeconds": 2}),
    ]
    assert json_errors([aws_body, typed]) == json_errors(aws_body) + json_errors(typed)


def test_json_errors_code_override_missing_fields_and_non_errors():
    assert json_errors({"Code": "A", "Message": "m"}, code="x#Override") == [JsonError("Override", "m")]
    assert json_errors({"Error": {}}) == [JsonError("Unknown", "")]
    assert json_errors({"status": "succeeded"}) == []
    assert json_errors(json.loads("[1, null]")) == []

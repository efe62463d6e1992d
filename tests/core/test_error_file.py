"""`analyze-error --file`: the error records of a log, not the whole file as one error (issue 20, finding 2)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from awsideman.core.error_text import MAX_ERRORS, error_candidates
from awsideman.core.errors import ErrorAnalyzer
from tests.helpers import awsideman_command

OP = "op-20261203T124521Z-3f9a1c"
OTHER = "op-20261203T130000Z-0c1d2e"
QUOTA = ("assignment:111111111111/Admin/GROUP/ops: request 3224-77 ended FAILED: IAM role quota reached")
STEP = "The service refused the change for the reason quoted: fix that, then restore again."

AWSIDEMAN_LOG = f"""\
2026-12-03T12:45:21.001Z INFO - [loading] awsideman: phase loading started
2026-12-03T12:45:21.100Z DEBUG {OP} [applying] awsideman.aws: request sso-admin:CreateAccountAssignment []
2026-12-03T12:45:21.200Z DEBUG {OP} [applying] awsideman.retry: retrying sso-admin:ListUsers (attempt 1 failed: \
ThrottlingException: Rate exceeded) in 0.50s
2026-12-03T12:45:22.000Z WARNING {OP} [applying] awsideman.apply: assignment:111111111111/Admin/GROUP/ops failed: \
AsyncRequestFailed (validation): {QUOTA}
2026-12-03T12:45:22.500Z INFO {OP} [compensating] awsideman: phase compensating: 11/11 in 0.1 s
2026-12-03T12:45:22.600Z ERROR {OP} [-] awsideman.run: error category=validation severity=high recoverable=no \
code=AsyncRequestFailed: {QUOTA}
2026-12-03T12:45:22.600Z INFO {OP} [-] awsideman.run: what to do: {STEP}
2026-12-03T12:45:22.600Z WARNING {OP} [-] awsideman.run: restore {OP} ended: status=rolled_back; next: \
awsideman restore bk-20261203T124500Z-aaaaaa --dry-run
2026-12-03T13:00:00.100Z ERROR {OTHER} [-] awsideman.run: error category=authorization severity=high recoverable=no \
code=AccessDeniedException: User: x is not authorized to perform: sso:ListInstances
2026-12-03T13:00:00.100Z INFO {OTHER} [-] awsideman.run: what to do: Grant `sso:ListInstances` to the role.
2026-12-03T13:00:00.100Z WARNING {OTHER} [-] awsideman.run: backup {OTHER} ended: status=failed; next: \
awsideman backup create --resume {OTHER}
"""

DENIED = ("An error occurred (AccessDeniedException) when calling the ListUsers operation: User: "
          "arn:aws:sts::123456789012:assumed-role/Ops/alice is not authorized to perform: identitystore:ListUsers")
# What `aws identitystore list-users --debug` and a boto3 script with set_stream_logger() write.
DEBUG_LOG = f"""\
2024-01-31 12:00:00,001 - MainThread - awscli.clidriver - DEBUG - CLI version: aws-cli/2.15.0 Python/3.11.6
2024-01-31 12:00:00,002 - MainThread - botocore.hooks - DEBUG - Event session-initialized: calling handler <function x>
2024-01-31 12:00:00,100 - MainThread - botocore.endpoint - DEBUG - Making request for OperationModel(name=ListUsers) \
with params: {{'url_path': '/', 'method': 'POST', 'body': b'{{"IdentityStoreId": "d-1234567890"}}'}}
2024-01-31 12:00:00,101 - MainThread - botocore.auth - DEBUG - Calculating signature using v4 auth.
2024-01-31 12:00:00,300 - MainThread - botocore.parsers - DEBUG - Response headers: {{'x-amzn-ErrorType': \
'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/'}}
2024-01-31 12:00:00,300 - MainThread - botocore.parsers - DEBUG - Response body:
b'{{"__type":"com.amazonaws.identitystore#AccessDeniedException","Message":"User: is not authorized"}}'
2024-01-31 12:00:00,301 - MainThread - botocore.retryhandler - DEBUG - No retry needed.
2024-01-31 12:00:00,302 - MainThread - awscli.clidriver - DEBUG - Exception caught in main()
Traceback (most recent call last):
  File "awscli/clidriver.py", line 460, in main
  File "botocore/client.py", line 1009, in _make_api_call
botocore.exceptions.ClientError: {DENIED}
2024-01-31 12:00:00,303 - MainThread - awscli.clidriver - DEBUG - Exiting with rc 254

{DENIED}
2024-01-31 12:01:00,000 botocore.retryhandler [DEBUG] retry needed: matching HTTP status and error code seen: 400, \
ThrottlingException
2024-01-31 12:01:09,000 botocore.retryhandler [DEBUG] Reached the maximum number of retry attempts: 5
Traceback (most recent call last):
  File "nightly.py", line 12, in <module>
    client.list_users(IdentityStoreId="d-1234567890")
  File "botocore/client.py", line 1021, in _make_api_call
    raise error_class(parsed_response, operation_name)
botocore.errorfactory.ThrottlingException: An error occurred (ThrottlingException) when calling the ListUsers \
operation (reached max retries: 4): Rate exceeded
Traceback (most recent call last):
  File "nightly.py", line 20, in <module>
    users["missing"]
KeyError: 'missing'
"""


def test_an_awsideman_log_gives_each_operations_recorded_error_with_its_line_and_steps():
    found = ErrorAnalyzer().analyze_file(AWSIDEMAN_LOG)
    assert found.omitted == 0
    assert [(e.info.category, e.info.code, e.operation_id, e.line, e.count) for e in found.errors] == [
        ("validation", "AsyncRequestFailed", OP, 6, 1),
        ("authorization", "AccessDeniedException", OTHER, 9, 1),
    ]
    first = found.errors[0]
    assert first.info.message == QUOTA and first.info.remediation == (STEP,) and first.info.severity == "high"
    assert first.info.recoverable is False
    # Retried calls (DEBUG) and a failed change (WARNING) are events, not the operation's error.
    assert not any("Throttling" in e.info.code for e in found.errors)


def test_a_boto3_debug_log_gives_the_botocore_errors_once_each_with_their_count():
    found = ErrorAnalyzer().analyze_file(DEBUG_LOG)
    lines = DEBUG_LOG.splitlines()
    summary = [(e.info.category, e.info.code, e.count) for e in found.errors]
    assert summary == [("authorization", "AccessDeniedException", 2), ("rate_limiting", "ThrottlingException", 1),
                       ("unknown", "KeyError", 1)]
    denied = found.errors[0]
    assert lines[denied.line - 1].startswith("botocore.exceptions.ClientError: An error occurred")
    assert any("identitystore:ListUsers" in step for step in denied.info.remediation)
    assert lines[found.errors[2].line - 1] == "KeyError: 'missing'"  # a traceback's last line
    assert all(e.operation_id is None for e in found.errors)


def test_more_than_the_maximum_are_counted_as_omitted_and_repeats_are_counted_not_listed():
    text = "\n".join(f"2024-01-31 12:00:{i % 60:02d} ERROR An error occurred (ThrottlingException) when calling "
                     f"the ListUsers operation: Rate exceeded #{i % 130}" for i in range(260))
    found = error_candidates(text)
    assert len(found.errors) == MAX_ERRORS and found.omitted == 130 - MAX_ERRORS
    assert [c.count for c in found.errors] == [2] * MAX_ERRORS and found.errors[1].line == 2
    analysed = ErrorAnalyzer().analyze_file(text)
    assert len(analysed.errors) == MAX_ERRORS and analysed.omitted == 30
    assert {e.info.category for e in analysed.errors} == {"rate_limiting"}


def test_a_log_without_error_records_has_none():
    text = AWSIDEMAN_LOG.splitlines()[0] + "\n2024-01-31 12:00:00 INFO backup done: 3 users\nall good\n"
    assert error_candidates(text).errors == [] and ErrorAnalyzer().analyze_file(text).errors == []


def test_a_json_error_document_is_still_read_as_json():
    doc = json.dumps({"errors": [{"code": "ThrottlingException", "message": "Rate exceeded"}]})
    assert [e.info.category for e in ErrorAnalyzer().analyze_file(doc).errors] == ["rate_limiting"]


# -- through the executable: what is refused, and how it is shown ---------------------------------------
def _run(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")}
    env.update(AWSIDEMAN_HOME=str(tmp_path / "home"), NO_COLOR="1")
    return subprocess.run([*awsideman_command(), *args], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.mark.e2e
def test_binary_directory_and_too_large_files_are_refused_with_exit_2(tmp_path):
    binary = tmp_path / "backup.gz"
    binary.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03An error occurred (X): y")
    big = tmp_path / "big.log"
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.yaml").write_text("limits:\n  text_mib: 1\n")
    big.write_text("INFO nothing wrong\n" * 70_000)  # over 1 MiB
    for path, says in ((binary, "is a binary file"), (tmp_path, "is a directory"),
                       (big, "is longer than the limit of 1 MiB (limits.text_mib)")):
        result = _run(tmp_path, "analyze-error", "--file", str(path))
        assert result.returncode == 2 and says in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        as_json = _run(tmp_path, "-o", "json", "analyze-error", "--file", str(path))
        assert as_json.returncode == 2 and says in json.loads(as_json.stdout)["errors"][0]["message"]


@pytest.mark.e2e
def test_the_text_and_json_views_of_a_file(tmp_path):
    log = tmp_path / "debug.log"
    log.write_text(DEBUG_LOG)
    doc = json.loads(_run(tmp_path, "analyze-error", "--file", str(log), "-o", "json").stdout)
    assert doc["count"] == 3 and doc["omitted"] == 0 and doc["file"] == str(log)
    assert [(e["code"], e["count"], e["line"]) for e in doc["errors"]][0] == ("AccessDeniedException", 2, 13)
    text = _run(tmp_path, "analyze-error", "--file", str(log))
    assert text.returncode == 0 and "Error 1 of 3 (line 13, 2 times)" in text.stdout
    clean = tmp_path / "clean.log"
    clean.write_text("2024-01-31 12:00:00 INFO backup done\n")
    none = _run(tmp_path, "analyze-error", "--file", str(clean))
    assert none.returncode == 0 and none.stdout.strip() == f"No errors found in {clean}."
    assert json.loads(_run(tmp_path, "-o", "json", "analyze-error", "--file", str(clean)).stdout)["count"] == 0

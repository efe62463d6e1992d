"""ErrorAnalyzer: real botocore exceptions and ClientErrors -> category, retryability, remediation.

The core reads no botocore itself: the adapters' reader (registered on import) turns these into
facts first (tests/adapters/test_error_facts.py checks the facts classify the same)."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

import awsideman.adapters  # noqa: F401 - registers the reader of botocore's exceptions (the core has none)
from awsideman.core import error_table
from awsideman.core.error_table import CATEGORIES, Rule
from awsideman.core.errors import ErrorAnalyzer, ErrorInfo, error_exit_code
from awsideman.core.exceptions import (
    BackupNotFoundError,
    ConfigError,
    CorruptBackupError,
    EncryptionError,
    IncompleteBackupError,
    InvalidIdError,
    JournalError,
    OperationBusyError,
    StorageError,
)

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"


def client_error(
    code: str, message: str = "", op: str = "ListUsers", status: int = 400, **extra: object
) -> ClientError:
    """A ClientError exactly as botocore builds it from a parsed error response."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": extra.pop("headers", {})},
    }
    response.update(extra)
    return ClientError(response, op)


URL = "https://sso.us-east-1.amazonaws.com/"

# (id, exception, operation, category, recoverable, substring expected in the remediation)
CASES = [
    ("throttling", client_error("ThrottlingException", "Rate exceeded"), None, "rate_limiting", True, "rate_limit"),
    ("too-many", client_error("TooManyRequestsException", "Too many", "CreateAccountAssignment", 429),
     None, "rate_limiting", True, "retries automatically"),
    ("request-limit", client_error("RequestLimitExceeded", "limit"), None, "rate_limiting", True, "rate"),
    ("s3-slowdown", client_error("SlowDown", "Please reduce", "PutObject", 503), "s3:PutObject",
     "rate_limiting", True, "retries"),
    ("internal", client_error("InternalServerException", "oops", status=500), None, "network", True, "--resume"),
    ("unknown-5xx", client_error("WeirdGatewayThing", "bad gateway", status=502), None, "network", True, "later"),
    ("unavailable", client_error("ServiceUnavailable", "down", status=503), None, "network", True, "later"),
    ("quota", client_error("ServiceQuotaExceededException", "quota", "CreatePermissionSet"), None,
     "validation", False, "quota increase"),
    ("expired", client_error("ExpiredTokenException", "The security token included in the request is expired"),
     None, "authentication", False, "aws sso login --profile prod"),
    ("unrecognized", client_error("UnrecognizedClientException", "invalid token"), None, "authentication",
     False, "aws sso login"),
    ("invalid-token-id", client_error("InvalidClientTokenId", "bad", "GetCallerIdentity", 403), "sts:GetCallerIdentity",
     "authentication", False, "AWS_PROFILE"),
    ("bad-signature", client_error("InvalidSignatureException", "signature mismatch"), None, "authentication",
     False, "clock"),
    ("denied-sso", client_error("AccessDeniedException", "denied", "ListAccountAssignments"), None,
     "authorization", False, "sso:ListAccountAssignments"),
    ("denied-identitystore", client_error("AccessDeniedException", "denied", "ListUsers"), None,
     "authorization", False, "identitystore:ListUsers"),
    ("denied-from-message", client_error(
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/Ops/alice is not authorized to perform: "
        "sso:DescribePermissionSet on resource: arn:aws:sso:::permissionSet/ssoins-1/ps-1",
        "DescribePermissionSet"), None, "authorization", False, "sso:DescribePermissionSet"),
    ("denied-s3-list", client_error("AccessDenied", "Access Denied", "ListObjectsV2", 403), "s3:ListObjectsV2",
     "authorization", False, "s3:ListBucket"),
    ("not-found", client_error("ResourceNotFoundException", "no such user"), None, "resource_not_found",
     False, "--region"),
    ("no-such-key", client_error("NoSuchKey", "gone", "GetObject", 404), "s3:GetObject", "resource_not_found",
     False, "backup list"),
    ("conflict-concurrent", client_error("ConflictException", "conflict", "CreateGroupMembership",
                                         Reason="CONCURRENT_MODIFICATION"), None, "resource_conflict", True, "retries"),
    ("conflict-unique", client_error("ConflictException", "Duplicate UserName", "CreateUser",
                                     Reason="UNIQUENESS_CONSTRAINT_VIOLATION"), None, "resource_conflict", False,
     "--conflict skip"),
    ("sso-conflict-in-progress", client_error(
        "ConflictException", "An operation is in progress for this permission set, try again later.",
        "ProvisionPermissionSet"), None, "resource_conflict", True, "retries"),
    ("sso-conflict-concurrent", client_error(
        "ConflictException", "Concurrent modification detected", "PutInlinePolicyToPermissionSet"),
     None, "resource_conflict", True, "retries"),
    ("sso-async-cap-throttling", client_error(
        "ThrottlingException", "There are too many requests processing. Please try again later.",
        "CreateAccountAssignment"), None, "rate_limiting", True, "retries"),
    ("sso-async-cap-conflict", client_error(
        "ConflictException", "There are too many requests processing. Please try again later.",
        "CreateAccountAssignment"), None, "rate_limiting", True, "15"),
    ("sso-conflict-exists", client_error(
        "ConflictException", "PermissionSet with name Admin already exists", "CreatePermissionSet"),
     None, "resource_conflict", False, "--conflict"),
    ("validation", client_error("ValidationException", "1 validation error"), None, "validation", False, "verify"),
    ("validation-kms-reason", client_error("ValidationException", "key state", Reason="KMS_INVALID_STATE"),
     None, "encryption", False, "KMS key"),
    ("denied-kms-reason", client_error("AccessDeniedException", "kms", Reason="KMS_ACCESS_DENIED"),
     None, "encryption", False, "key policy"),
    ("kms-disabled", client_error("DisabledException", "key disabled", "Decrypt"), "kms:Decrypt",
     "encryption", False, "enabled"),
    ("kms-state", client_error("KMSInvalidStateException", "pending deletion", "GenerateDataKey"), None,
     "encryption", False, "KMS key"),
    ("kms-denied", client_error("AccessDeniedException", "denied", "Decrypt"), "kms:Decrypt", "encryption",
     False, "key policy"),
    ("kms-denied-behind-s3", client_error(
        "AccessDenied", "User: arn:aws:iam::123456789012:user/x is not authorized to perform: kms:Decrypt",
        "GetObject", 403), "s3:GetObject", "encryption", False, "kms:Decrypt"),
    ("kms-ciphertext", client_error("InvalidCiphertextException", "", "Decrypt"), None, "encryption", False,
     "backup verify"),
    ("s3-sse-kms", client_error("KMS.DisabledException", "disabled", "PutObject"), None, "encryption", False,
     "enabled"),
    ("endpoint", EndpointConnectionError(endpoint_url=URL), None, "network", True, "AWS_ENDPOINT_URL"),
    ("connect-timeout", ConnectTimeoutError(endpoint_url=URL), None, "network", True, "proxy"),
    ("read-timeout", ReadTimeoutError(endpoint_url=URL), None, "network", True, "--resume"),
    ("closed", ConnectionClosedError(endpoint_url=URL), None, "network", True, "retries"),
    ("proxy", ProxyConnectionError(proxy_url="http://proxy:3128"), None, "network", True, "HTTPS_PROXY"),
    ("ssl", SSLError(endpoint_url=URL, error=Exception("certificate verify failed")), None, "network", False,
     "AWS_CA_BUNDLE"),
    ("no-credentials", NoCredentialsError(), None, "authentication", False, "AWS_PROFILE"),
    ("partial-credentials", PartialCredentialsError(provider="env", cred_var="aws_secret_access_key"), None,
     "configuration", False, "missing"),
    ("profile", ProfileNotFound(profile="nope"), None, "configuration", False, "--profile"),
    ("region", NoRegionError(), None, "configuration", False, "AWS_REGION"),
    ("token-retrieval", TokenRetrievalError(provider="sso", error_msg="Token has expired and refresh failed"),
     None, "authentication", False, "aws sso login --profile prod"),
    ("sso-token-load", SSOTokenLoadError(error_msg="Token for https://x does not exist"), None,
     "authentication", False, "aws sso login"),
    ("sso-unauthorized", UnauthorizedSSOTokenError(), None, "authentication", False, "aws sso login"),
    ("param-validation", ParamValidationError(report="Invalid length for parameter UserName"), None,
     "validation", False, "fix the value"),
    ("enospc", OSError(errno.ENOSPC, "No space left on device", "/backups/x.json.gz"), None, "storage",
     False, "free disk space"),
    ("eacces", PermissionError(errno.EACCES, "Permission denied", "/srv/awsideman/state.db"), None, "storage",
     False, "/srv/awsideman/state.db"),
    ("enoent", FileNotFoundError(errno.ENOENT, "No such file or directory", "/nope"), None, "storage",
     False, "/nope"),
    ("erofs", OSError(errno.EROFS, "Read-only file system", "/ro"), None, "storage", False, "read-only"),
    ("conn-reset", ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), None, "network", True,
     "retries"),
    ("timeout", TimeoutError("timed out"), None, "network", True, "retries"),
    ("config-error", ConfigError("retry.max_retries must be >= 0"), None, "configuration", False, "config"),
    ("corrupt", CorruptBackupError("checksum mismatch"), None, "validation", False, "do not restore"),
    ("encryption", EncryptionError("cannot decrypt"), None, "encryption", False, "KMS key"),
    ("journal", JournalError("database is locked"), None, "storage", False, "state.db"),
    ("storage", StorageError("bucket unreachable"), None, "storage", False, "--store"),
    ("backup-not-found", BackupNotFoundError("no bk-x"), None, "resource_not_found", False, "backup list"),
    ("unknown", ValueError("something odd"), None, "unknown", False, "--debug"),
]


@pytest.mark.parametrize(
    ("exc", "operation", "category", "recoverable", "hint"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_table(exc, operation, category, recoverable, hint):
    info = ErrorAnalyzer(profile="prod").analyze(exc, operation)
    assert info.category == category
    assert info.recoverable is recoverable
    assert any(hint in step for step in info.remediation), info.remediation
    assert info.severity in error_table.SEVERITIES
    assert info.message


def test_cases_cover_every_category():
    seen = {ErrorAnalyzer().analyze(case[1], case[2]).category for case in CASES}
    assert seen == set(CATEGORIES)


def test_enospc_is_critical():
    info = ErrorAnalyzer().analyze(OSError(errno.ENOSPC, "No space left on device", "/b"))
    assert (info.code, info.severity) == ("ENOSPC", "critical")


def test_retry_after_read_from_response_error_or_header():
    analyzer = ErrorAnalyzer()
    top = client_error("ThrottlingException", "slow down", RetryAfterSeconds=7)
    nested_response: Any = {"Error": {"Code": "ThrottlingException", "Message": "x", "RetryAfterSeconds": "3"}}
    nested = ClientError(nested_response, "ListUsers")
    header = client_error("TooManyRequestsException", "x", status=429, headers={"Retry-After": "2"})
    assert analyzer.analyze(top).retry_after == 7.0
    assert analyzer.analyze(nested).retry_after == 3.0
    assert analyzer.analyze(header).retry_after == 2.0
    assert analyzer.analyze(client_error("ThrottlingException")).retry_after is None


def test_client_error_fields_and_contract():
    info = ErrorAnalyzer().analyze(client_error("ThrottlingException", "Rate exceeded", "ListGroups"))
    assert (info.code, info.operation, info.http_status) == ("ThrottlingException", "ListGroups", 400)
    data = info.to_dict()
    assert {"category", "severity", "code", "message", "recoverable", "remediation"} <= set(data)
    assert isinstance(data["remediation"], list)
    json.dumps(data)


def test_error_info_is_frozen():
    info = ErrorAnalyzer().analyze(ValueError("x"))
    with pytest.raises(AttributeError):
        info.category = "network"  # type: ignore[misc]


def test_messages_are_sanitised():
    exc = client_error("UnrecognizedClientException", f"The key {ACCESS_KEY} is not valid")
    info = ErrorAnalyzer().analyze(exc)
    assert ACCESS_KEY not in info.message
    assert "REDACTED" in info.message
    text_info = ErrorAnalyzer().analyze_text(f"Error: aws_secret_access_key={'a' * 40} rejected")
    assert "a" * 40 not in text_info.message


def test_project_error_keeps_its_message_code_and_remediation():
    exc = InvalidIdError("Invalid backup id 'x'", remediation=["Run `awsideman backup list`."])
    info = ErrorAnalyzer().analyze(exc)
    assert (info.code, info.message, info.category) == ("InvalidId", "Invalid backup id 'x'", "validation")
    assert info.remediation[0] == "Run `awsideman backup list`."


def test_incomplete_backup_names_resume_command_and_cause():
    op_id = "op-20240131T120000Z-3f9a1c"
    try:
        try:
            raise client_error("AccessDeniedException", "denied", "ListAccountAssignments")
        except ClientError as cause:
            raise IncompleteBackupError(f"Backup {op_id} stopped at assignments") from cause
    except IncompleteBackupError as exc:
        info = ErrorAnalyzer().analyze(exc)
    assert info.category == "authorization"
    assert any(f"awsideman backup create --resume {op_id}" in s for s in info.remediation)
    assert any("sso:ListAccountAssignments" in s for s in info.remediation)


def test_incomplete_backup_operation_id_attribute():
    exc = IncompleteBackupError("Backup stopped")
    exc.operation_id = "op-20240131T120000Z-aaaaaa"  # type: ignore[attr-defined]
    info = ErrorAnalyzer().analyze(exc)
    assert any("--resume op-20240131T120000Z-aaaaaa" in s for s in info.remediation)


def test_operation_with_service_prefix_names_the_action():
    info = ErrorAnalyzer().analyze(client_error("AccessDeniedException", "denied", "ListUsers"),
                                   "identitystore.ListUsers")
    assert any("identitystore:ListUsers" in s for s in info.remediation)


def test_overrides_win_over_the_table():
    rule = Rule("network", "low", True, ("custom step",))
    analyzer = ErrorAnalyzer({"ValidationException": rule})
    info = analyzer.analyze(client_error("ValidationException", "flaky"))
    assert (info.category, info.recoverable, info.remediation) == ("network", True, ("custom step",))


def test_rule_rejects_unknown_category():
    with pytest.raises(ValueError, match="category"):
        Rule("nonsense", "low", False)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (NoCredentialsError(), 2),
        (NoRegionError(), 2),
        (ProfileNotFound(profile="x"), 2),
        (client_error("ThrottlingException"), 1),
        (client_error("AccessDeniedException"), 1),
        (ConfigError("bad"), 2),
        (CorruptBackupError("bad"), 1),
        (ValueError("x"), 1),
    ],
)
def test_error_exit_code(exc, expected):
    assert error_exit_code(exc, ErrorAnalyzer().analyze(exc)) == expected


# -- pasted text, classified (taking it apart is test_error_text.py's) ---------------------------
TEXT_CASES = [
    ("An error occurred (ThrottlingException) when calling the ListUsers operation (reached max retries: 4): "
     "Rate exceeded", None, "rate_limiting", True, "ThrottlingException"),
    ("botocore.exceptions.NoCredentialsError: Unable to locate credentials", None, "authentication", False,
     "NoCredentialsError"),
    ("An error occurred (AccessDeniedException) when calling the ListPermissionSets operation: User: "
     "arn:aws:sts::123456789012:assumed-role/R/s is not authorized to perform: sso:ListPermissionSets",
     None, "authorization", False, "AccessDeniedException"),
    ('{"Error": {"Code": "ConflictException", "Message": "x", "Reason": "CONCURRENT_MODIFICATION"}}', None,
     "resource_conflict", True, "ConflictException"),
    ('{"__type": "com.amazonaws.identitystore#ResourceNotFoundException", "Message": "no user"}', None,
     "resource_not_found", False, "ResourceNotFoundException"),
    ("PermissionError: [Errno 13] Permission denied: '/var/lib/awsideman'", None, "storage", False, "EACCES"),
    ("OSError: [Errno 28] No space left on device", None, "storage", False, "ENOSPC"),
    ("botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "
     '"https://identitystore.eu-west-1.amazonaws.com/"', None, "network", True, "EndpointConnectionError"),
    ("botocore.exceptions.SSOTokenLoadError: Error loading SSO Token: Token for x does not exist", None,
     "authentication", False, "SSOTokenLoadError"),
    ("awsideman.core.exceptions.CorruptBackupError: checksum mismatch", None, "validation", False, "CorruptBackup"),
    # Raised by the services and the journal, defined in core/exceptions.py like every awsideman error.
    ("awsideman.core.exceptions.UnresolvedError: user 'alice' does not exist in the target instance", None,
     "resource_not_found", False, "ResourceNotFoundException"),
    ("IrreversibleChangeError: user:alice: cannot be undone", None, "validation", False, "IrreversibleChange"),
    ("OperationStateError: Operation op-20240131T120000Z-3f9a1c is succeeded; it cannot be continued.", None,
     "storage", False, "JournalError"),
    ("ChangeTransitionError: change 3 cannot go from applied to pending", None, "storage", False, "JournalError"),
    ("LeaseLostError: another runner took the operation over", None, "resource_conflict", False, "LeaseLost"),
    ("Rate exceeded", None, "rate_limiting", True, "ThrottlingException"),
    ("something", "ServiceQuotaExceededException", "validation", False, "ServiceQuotaExceededException"),
    ("", "NoRegionError", "configuration", False, "NoRegionError"),
    ("it broke in a way nobody has seen", None, "unknown", False, "Unknown"),
]


@pytest.mark.parametrize(("text", "code", "category", "recoverable", "expected_code"), TEXT_CASES)
def test_analyze_text(text, code, category, recoverable, expected_code):
    info = ErrorAnalyzer().analyze_text(text, code=code)
    assert (info.category, info.recoverable, info.code) == (category, recoverable, expected_code)
    assert isinstance(info, ErrorInfo)


def test_pasted_errors_of_every_layer_are_found_by_the_core_alone():
    # A fresh process that imports the analyser and nothing above the core: no layer's module
    # needs importing for its errors to be recognised by name.
    script = (
        "import sys\n"
        "from awsideman.core.errors import ErrorAnalyzer\n"
        "for name in ('UnresolvedError', 'IrreversibleChangeError', 'OperationStateError', 'LeaseLostError'):\n"
        "    print(ErrorAnalyzer().analyze_text(f'{name}: it failed').code)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('awsideman.services', 'awsideman.journal'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split("\n")[:5] == ["ResourceNotFoundException", "IrreversibleChange", "JournalError",
                                           "LeaseLost", "[]"]


def test_analyze_text_keeps_operation_from_cli_line():
    info = ErrorAnalyzer().analyze_text(
        "An error occurred (AccessDeniedException) when calling the ListGroups operation: denied")
    assert info.operation == "ListGroups"
    assert any("identitystore:ListGroups" in s for s in info.remediation)


def test_analyze_all_finds_every_error_line():
    log = "\n".join([
        "2024-01-31 INFO starting backup",
        "2024-01-31 ERROR An error occurred (ThrottlingException) when calling the ListUsers operation: Rate exceeded",
        "2024-01-31 INFO still going",
        "botocore.exceptions.NoCredentialsError: Unable to locate credentials",
    ])
    infos = ErrorAnalyzer().analyze_all(log)
    assert [i.code for i in infos] == ["ThrottlingException", "NoCredentialsError"]


def test_analyze_all_reads_a_result_document():
    doc = json.dumps({"status": "failed", "errors": [
        {"category": "storage", "code": "StorageError", "message": "disk"},
        {"code": "ThrottlingException", "message": "Rate exceeded"},
    ]})
    assert [i.category for i in ErrorAnalyzer().analyze_all(doc)] == ["storage", "rate_limiting"]


def test_a_busy_operation_is_a_conflict_to_wait_out_not_a_journal_file_problem():
    busy = OperationBusyError("Operation op-20261129T064717Z-14351b is still running (pid 7 on vm, lease until "
                              "2026-11-29T06:47:21Z).", remediation=["Wait for it to finish, or stop that process."])
    info = ErrorAnalyzer().analyze(busy)
    assert (info.category, info.recoverable) == ("resource_conflict", True)
    assert not any("state.db" in step for step in info.remediation)  # the shared state has no such file

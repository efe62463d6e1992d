"""`awsideman analyze-error`, driven as a real process (`python -m awsideman`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # drives the real executable

THROTTLE = ("An error occurred (ThrottlingException) when calling the ListUsers operation "
            "(reached max retries: 4): Rate exceeded")
CONTRACT = {"category", "severity", "code", "message", "recoverable", "remediation"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def run(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS", "AWSIDEMAN"))}
    env.update(AWSIDEMAN_HOME=str(home), NO_COLOR="1", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "awsideman", *args], capture_output=True, text=True,
                          env=env, input=stdin, timeout=60)


def test_text_output(home):
    result = run(home, "analyze-error", THROTTLE)
    assert result.returncode == 0, result.stderr
    for expected in ("rate_limiting", "low", "yes", "ThrottlingException", "rate_limit"):
        assert expected in result.stdout


@pytest.mark.parametrize("where", ["after", "before"])
def test_json_output_is_one_document(home, where):
    args = ["analyze-error", THROTTLE, "-o", "json"] if where == "after" else ["-o", "json", "analyze-error", THROTTLE]
    result = run(home, *args)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) >= CONTRACT
    assert (doc["category"], doc["recoverable"], doc["operation"]) == ("rate_limiting", True, "ListUsers")


def test_access_denied_names_the_action(home):
    text = ("An error occurred (AccessDeniedException) when calling the ListAccountAssignments operation: "
            "User: arn:aws:sts::123456789012:assumed-role/Ops/alice is not authorized to perform: "
            "sso:ListAccountAssignments on resource: arn:aws:sso:::instance/ssoins-722326ef1f5ee7b8")
    doc = json.loads(run(home, "analyze-error", text, "-o", "json").stdout)
    assert doc["category"] == "authorization"
    assert any("sso:ListAccountAssignments" in step for step in doc["remediation"])
    assert "ssoins-722326ef1f5ee7b8" in doc["message"]  # ids survive sanitising


def test_code_alone_and_with_text(home):
    doc = json.loads(run(home, "analyze-error", "--code", "NoRegionError", "-o", "json").stdout)
    assert doc["category"] == "configuration"
    assert any("AWS_REGION" in step for step in doc["remediation"])
    doc = json.loads(run(home, "analyze-error", "quota hit", "--code", "ServiceQuotaExceededException",
                         "-o", "json").stdout)
    assert any("quota increase" in step for step in doc["remediation"])


def test_stdin_dash(home):
    result = run(home, "analyze-error", "-", "-o", "json",
                 stdin="botocore.exceptions.NoCredentialsError: Unable to locate credentials\n")
    assert json.loads(result.stdout)["code"] == "NoCredentialsError"


def test_secrets_never_printed(home):
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    text = (f"An error occurred (InvalidSignatureException) when calling the ListUsers operation: "
            f"bad key AKIAIOSFODNN7EXAMPLE aws_secret_access_key={secret}")
    for args in (("analyze-error", text), ("analyze-error", text, "-o", "json")):
        result = run(home, *args)
        assert "AKIAIOSFODNN7EXAMPLE" not in result.stdout + result.stderr
        assert secret not in result.stdout + result.stderr


def test_file_with_log_lines(home, tmp_path):
    log = tmp_path / "run.log"
    log.write_text("\n".join([
        "2024-01-31T12:00:00 INFO backup started",
        f"2024-01-31T12:00:05 ERROR {THROTTLE}",
        "2024-01-31T12:00:09 ERROR botocore.exceptions.EndpointConnectionError: Could not connect to the "
        'endpoint URL: "https://sso.eu-west-1.amazonaws.com/"',
        "2024-01-31T12:00:10 INFO done",
    ]))
    doc = json.loads(run(home, "analyze-error", "--file", str(log), "-o", "json").stdout)
    assert doc["count"] == 2
    assert [e["category"] for e in doc["errors"]] == ["rate_limiting", "network"]
    assert all(set(e) >= CONTRACT for e in doc["errors"])
    text = run(home, "analyze-error", "--file", str(log))
    assert text.returncode == 0 and "Error 2 of 2" in text.stdout


def test_file_with_errors_of_the_services_and_the_journal(home, tmp_path):
    log = tmp_path / "restore.log"
    log.write_text("\n".join([
        "2024-01-31T12:00:01 ERROR awsideman.core.exceptions.UnresolvedError: group 'Admins' does not exist "
        "in the target instance",
        "2024-01-31T12:00:02 ERROR awsideman.core.exceptions.IrreversibleChangeError: user:alice cannot be undone",
        "2024-01-31T12:00:03 ERROR awsideman.core.exceptions.ChangeTransitionError: change 3 cannot go back",
        "2024-01-31T12:00:04 ERROR awsideman.core.exceptions.LeaseLostError: another runner took it over",
    ]))
    doc = json.loads(run(home, "analyze-error", "--file", str(log), "-o", "json").stdout)
    assert [(e["code"], e["category"]) for e in doc["errors"]] == [
        ("ResourceNotFoundException", "resource_not_found"), ("IrreversibleChange", "validation"),
        ("JournalError", "storage"), ("LeaseLost", "resource_conflict")]
    assert any("--resources" in step for step in doc["errors"][0]["remediation"])


def test_file_with_json_error(home, tmp_path):
    path = tmp_path / "err.json"
    path.write_text(json.dumps({"__type": "com.amazonaws.identitystore#ConflictException",
                                "Message": "Duplicate", "Reason": "UNIQUENESS_CONSTRAINT_VIOLATION"}))
    doc = json.loads(run(home, "analyze-error", "--file", str(path), "-o", "json").stdout)
    assert [(e["category"], e["recoverable"]) for e in doc["errors"]] == [("resource_conflict", False)]


@pytest.mark.parametrize(
    "args",
    [
        ("analyze-error",),
        ("analyze-error", "--file", "/definitely/not/here.log"),
        ("analyze-error", "x", "--file", "/etc/hostname"),
        ("analyze-error", "--operation", "../../etc/passwd"),
        ("analyze-error", "--operation", "op-20240131T120000Z-3f9a1c"),  # no journal yet
    ],
    ids=["nothing", "missing-file", "two-sources", "bad-id", "unknown-operation"],
)
def test_usage_errors_exit_2(home, args):
    result = run(home, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.strip()
    assert not (home / "state.db").exists()  # a read-only command creates no journal


def test_usage_error_in_json_mode_is_a_document(home):
    result = run(home, "-o", "json", "analyze-error")
    assert result.returncode == 2
    assert json.loads(result.stdout)["errors"][0]["category"] == "validation"


def test_operation_errors_from_the_journal(home):
    from botocore.exceptions import ClientError

    from awsideman.journal import Journal
    from awsideman.services.error_analysis import error_analyzer  # botocore's facts registered, as the cli does

    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, "ListAccountAssignments")
    with Journal.open(home / "state.db") as journal:
        op = journal.start_operation("backup", {"resources": ["assignments"]})
        journal.record_error(op.id, error_analyzer().analyze(denied), step="assignments")
        other = journal.start_operation("backup", {})
    doc = json.loads(run(home, "analyze-error", "--operation", op.id, "-o", "json").stdout)
    assert doc["operation_id"] == op.id and doc["count"] == 1
    assert doc["errors"][0]["category"] == "authorization"
    assert any("sso:ListAccountAssignments" in s for s in doc["errors"][0]["remediation"])
    text = run(home, "analyze-error", "--operation", op.id)
    assert text.returncode == 0 and "authorization" in text.stdout
    empty = run(home, "analyze-error", "--operation", other.id)
    assert empty.returncode == 0 and "No errors" in empty.stdout

"""Two errors of issue 23, classified once for every path (a raised ClientError, pasted text):
the busy permission set ("A conflicting operation is currently processing") is a recoverable
conflict that the retry policy resends even for a write that is not idempotent; an SCP denial in
one account says SCP and provisioning role, not "grant the action to your role"."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

import awsideman.adapters  # noqa: F401 - registers the reader of botocore's exceptions
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.retry import RetryConfig, RetryPolicy

BUSY = ("A conflicting operation is currently processing. "
        "Please try again after the current operation has completed.")
SCP = ("User: arn:aws:sts::123456789012:assumed-role/Ops/alice is not authorized to perform: "
       "sso:CreateAccountAssignment on resource: arn:aws:sso:::account/111111111111 with an explicit deny in a "
       "service control policy")


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


@pytest.mark.parametrize("operation", ["ProvisionPermissionSet", "UpdatePermissionSet",
                                       "PutInlinePolicyToPermissionSet", "DeletePermissionSet"])
def test_a_busy_permission_set_is_a_recoverable_conflict_with_its_own_remediation(operation):
    info = ErrorAnalyzer().analyze(client_error("ConflictException", BUSY, operation))
    assert (info.category, info.recoverable) == ("resource_conflict", True)
    steps = " ".join(info.remediation)
    assert "one operation at a time on a permission set" in steps and "IN_PROGRESS" in steps


@pytest.mark.parametrize("text", [
    f"An error occurred (ConflictException) when calling the ProvisionPermissionSet operation: {BUSY}",
    f"botocore.errorfactory.ConflictException: {BUSY}",
    f"ConflictException: {BUSY}",
    BUSY,
])
def test_pasted_busy_permission_set_errors_read_the_same(text):
    info = ErrorAnalyzer().analyze_text(text)
    assert (info.category, info.recoverable, info.code) == ("resource_conflict", True, "ConflictException")
    assert "one operation at a time on a permission set" in " ".join(info.remediation)


def test_a_write_refused_by_a_busy_permission_set_is_resent_with_backoff():
    sleeps: list[float] = []
    policy = RetryPolicy(RetryConfig(max_retries=5, jitter=False), sleep=sleeps.append)
    answers = [client_error("ConflictException", BUSY, "CreatePermissionSet")] * 2

    def create() -> str:
        if answers:
            raise answers.pop()
        return "created"

    # CreatePermissionSet takes no idempotency token: it is resent only because the refusal
    # proves it was not applied.
    assert policy.call(create, service="sso-admin", operation="CreatePermissionSet", idempotent=False) == "created"
    assert sleeps == [0.25, 0.5]  # backoff, the one retry owner's
    assert policy.stats.snapshot()["retries"] == 2


def test_an_scp_denial_points_at_the_scp_and_the_provisioning_role():
    info = ErrorAnalyzer().analyze(client_error("AccessDeniedException", SCP, "CreateAccountAssignment"))
    assert (info.category, info.recoverable) == ("authorization", False)
    steps = " ".join(info.remediation)
    assert "service control policy (SCP)" in steps and "sso:CreateAccountAssignment" in steps
    assert "provisioning role" in steps and "AWSServiceRoleForSSO" in steps
    assert "Grant `" not in steps  # granting the caller the action cannot lift an SCP deny
    assert ErrorAnalyzer().analyze_text(
        f"An error occurred (AccessDeniedException) when calling the CreateAccountAssignment operation: {SCP}"
    ).remediation == info.remediation


def test_a_plain_denial_still_says_which_action_to_grant():
    info = ErrorAnalyzer().analyze(client_error(
        "AccessDeniedException", "User: x is not authorized to perform: sso:CreateAccountAssignment",
        "CreateAccountAssignment"))
    assert info.remediation[0].startswith("Grant `sso:CreateAccountAssignment`")

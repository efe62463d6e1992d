"""The gateway's part of the audit trail, against the in-process emulator: the AWS request id of
every write a thread sends while it records (reads and other threads left out), and the caller's
identity asked once per run however often it is needed."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from awsideman.adapters.identity_center import discover_instance
from tests.helpers import make_context


def _store(gateway) -> str:
    return str(gateway.call("sso-admin", "ListInstances")["Instances"][0]["IdentityStoreId"])


def test_writes_are_noted_with_their_request_ids_reads_and_other_threads_are_not(sandbox):
    sandbox.seed("tiny", seed=3)
    gateway = make_context().gateway
    store = _store(gateway)
    calls: list[dict] = []
    elsewhere: list[BaseException] = []

    def other_thread() -> None:
        try:
            gateway.call("identitystore", "CreateGroup", IdentityStoreId=store, DisplayName="elsewhere")
        except BaseException as exc:  # noqa: BLE001 - re-raised by the assertion below
            elsewhere.append(exc)

    with gateway.recording_writes(calls):
        gateway.call("identitystore", "ListUsers", IdentityStoreId=store)
        created = gateway.call("identitystore", "CreateGroup", IdentityStoreId=store, DisplayName="audited")
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        with pytest.raises(ClientError):  # the same name again: the service refuses it
            gateway.call("identitystore", "CreateGroup", idempotent=False, IdentityStoreId=store,
                         DisplayName="audited")
    gateway.call("identitystore", "DeleteGroup", IdentityStoreId=store, GroupId=created["GroupId"])
    assert not elsewhere
    assert [(c["api"], c.get("error")) for c in calls] == [
        ("identitystore:CreateGroup", None), ("identitystore:CreateGroup", "ConflictException")]
    assert all(c["request_id"] for c in calls) and calls[0]["request_id"] != calls[1]["request_id"]
    assert "ResponseMetadata" not in created  # what callers get back is unchanged


def test_the_caller_is_asked_once_whoever_needs_it(sandbox):
    sandbox.seed("tiny", seed=3)
    context = make_context()
    sandbox.reset_counters()
    discover_instance(context.gateway)
    first, again = context.caller, context.gateway.caller_identity()
    assert first == {"arn": again["Arn"], "account": again["Account"]}
    assert first["arn"].startswith("arn:aws:") and first["account"].isdigit()
    assert sandbox.counters().get("sts:GetCallerIdentity") == 1


def test_a_denied_caller_identity_is_none_and_not_asked_again(sandbox):
    sandbox.set_faults({"rules": [{"operation": "GetCallerIdentity", "error": "AccessDeniedException",
                                   "fail_after": 0}]})
    context = make_context()
    assert context.gateway.caller_identity() is None and context.caller is None
    assert sandbox.counters().get("sts:GetCallerIdentity") == 1

"""The stop signal (and a lost lease, its guard) is checked once more just before a request is
sent: a process stopped or paused while a request was being built sends nothing when it wakes."""

from __future__ import annotations

import pytest

from awsideman.core.exceptions import LeaseLostError, Terminated
from tests.helpers import make_context


def _armed_while_signing(context, trigger) -> None:
    """Fire `trigger` after the retry policy's own check, while botocore signs the request."""
    context.gateway.client("sso-admin").meta.events.register("before-sign", lambda **_: trigger())


def test_a_stop_requested_while_a_request_is_signed_sends_nothing(sandbox):
    context = make_context()
    _armed_while_signing(context, context.stop.request)
    sandbox.reset_counters()
    with pytest.raises(Terminated):
        context.gateway.call("sso-admin", "ListInstances")
    assert sandbox.counters() == {}


def test_a_lease_lost_while_a_change_is_signed_sends_nothing(sandbox):
    context = make_context()
    lost: list[bool] = []

    def guard() -> None:
        if lost:
            raise LeaseLostError("lost its lease (test)")

    context.stop.add_guard(guard)
    _armed_while_signing(context, lambda: lost.append(True))
    instance = sandbox.client("sso-admin").list_instances()["Instances"][0]["InstanceArn"]
    sandbox.reset_counters()
    with pytest.raises(LeaseLostError):
        context.gateway.call("sso-admin", "CreatePermissionSet", idempotent=False,
                             InstanceArn=instance, Name="NeverSent")
    assert sandbox.counters() == {}
    assert sandbox.client("sso-admin").list_permission_sets(InstanceArn=instance)["PermissionSets"] == []

"""The rule-file keys of the asynchronous requests and the injector's answers (no emulator)."""

from __future__ import annotations

from pathlib import Path

import pytest

from awsideman.sandbox.fault_rules import DEFAULT_FAILURE_REASON, FaultRules, FaultRulesError, OperationRule
from awsideman.sandbox.gapfills.async_policy import (
    DEFAULT_POLICY,
    AsyncPlan,
    current_policy,
    drop_policy,
    use_policy,
)
from awsideman.sandbox.injector import FaultInjector

CREATE = "CreateAccountAssignment"


def test_async_keys_parse_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("""
async_seconds: 1.5
async_max_outstanding: 10
rules:
  - operation: sso-admin:CreateAccountAssignment
    async_seconds: 3
    async_fail: 0.25
    async_fail_after: 4
    failure_reason: "Cannot exceed quota for RolesPerAccount: 1000"
  - operation: sso-admin:*
    throttle: 0.1
""")
    rules = FaultRules.from_file(path)
    assert (rules.async_seconds, rules.async_max_outstanding) == (1.5, 10)
    assert rules.rules[0] == OperationRule("sso-admin:CreateAccountAssignment", async_seconds=3, async_fail=0.25,
                                           async_fail_after=4,
                                           failure_reason="Cannot exceed quota for RolesPerAccount: 1000")
    assert rules.rules[1].async_seconds is None
    assert FaultRules.from_dict(rules.to_dict()) == rules
    assert FaultRules.from_dict({"async_max_outstanding": "off"}).async_max_outstanding is None
    assert FaultRules.from_dict({"async_max_outstanding": "off"}).to_dict()["async_max_outstanding"] == "off"
    assert (FaultRules().async_seconds, FaultRules().async_max_outstanding) == (0.0, 15)


@pytest.mark.parametrize(("text", "message"), [
    ("async_seconds: -1\n", "faults.yaml: async_seconds: must be a number >= 0"),
    ("async_max_outstanding: 0\n", "faults.yaml: async_max_outstanding: must be an integer >= 1 or 'off'"),
    ("async_max_outstanding: many\n", "faults.yaml: async_max_outstanding: must be an integer >= 1 or 'off'"),
    ("rules:\n  - {operation: CreateAccountAssignment, async_fail: 2}\n",
     "faults.yaml: rules[0].async_fail: must be a number between 0 and 1"),
    ("rules:\n  - {operation: CreateAccountAssignment, async_fail_after: -1}\n",
     "faults.yaml: rules[0].async_fail_after: must be an integer >= 0"),
    ("rules:\n  - {operation: CreateAccountAssignment, async_seconds: soon}\n",
     "faults.yaml: rules[0].async_seconds: must be a number >= 0"),
    ("rules:\n  - {operation: CreateAccountAssignment, failure_reason: boom}\n",
     "faults.yaml: rules[0].failure_reason: needs async_fail or async_fail_after"),
    ("rules:\n  - {operation: CreateAccountAssignment, async_fail: 1, failure_reason: ''}\n",
     "faults.yaml: rules[0].failure_reason: must be a non-empty string"),
    ("rules:\n  - {operation: ListUsers, async_fail: 0.5}\n",
     "faults.yaml: rules[0].async_fail: applies only to asynchronous operations (sso-admin "
     "CreateAccountAssignment, DeleteAccountAssignment, ProvisionPermissionSet); this rule matches 'ListUsers'"),
    ("rules:\n  - {operation: 'identitystore:*', async_seconds: 1}\n",
     "faults.yaml: rules[0].async_seconds: applies only to asynchronous operations"),
    ("rules:\n  - {operation: CreateAccountAssignment, async_fails: 1}\n",
     "faults.yaml: rules[0].async_fails: unknown key"),
])
def test_bad_async_keys_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(text)
    with pytest.raises(FaultRulesError) as caught:
        FaultRules.from_file(path)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("pattern", "operation"), [
    ("*", CREATE),
    ("sso-admin:*", "DeleteAccountAssignment"),
    (CREATE, CREATE),
    (f"sso-admin:{CREATE}", CREATE),
    ("ProvisionPermissionSet", "ProvisionPermissionSet"),
])
def test_async_keys_fit_any_pattern_that_can_match_an_async_operation(pattern: str, operation: str) -> None:
    rules = FaultRules.from_dict({"rules": [{"operation": pattern, "async_fail": 1}]})
    assert rules.rules == (OperationRule(pattern, async_fail=1.0),)  # accepted and kept, not dropped
    # ... and it takes effect on an asynchronous operation the pattern matches.
    assert FaultInjector(rules).plan_async("sso-admin", operation) == AsyncPlan(0.0, DEFAULT_FAILURE_REASON)


def test_plan_uses_first_matching_rule_then_top_level_time() -> None:
    injector = FaultInjector({"async_seconds": 2, "rules": [
        {"operation": "ProvisionPermissionSet", "async_seconds": 7},
        {"operation": CREATE, "async_fail_after": 1, "failure_reason": "quota"},
        {"operation": "*", "async_fail": 1},  # never reached for the two operations above
    ]})
    assert injector.plan_async("sso-admin", "ProvisionPermissionSet") == AsyncPlan(7)
    assert injector.plan_async("sso-admin", CREATE) == AsyncPlan(2)
    assert injector.plan_async("sso-admin", CREATE) == AsyncPlan(2, "quota")
    assert injector.plan_async("sso-admin", "DeleteAccountAssignment") == AsyncPlan(2, DEFAULT_FAILURE_REASON)
    assert injector.fault_counters() == {f"sso-admin:{CREATE}:async_failed": 1,
                                         "sso-admin:DeleteAccountAssignment:async_failed": 1}
    injector.reset_counters()  # async_fail_after counts from the last reset, like fail_after
    assert injector.plan_async("sso-admin", CREATE) == AsyncPlan(2)


def test_async_failures_do_not_shift_with_call_faults() -> None:
    async_rule = {"operation": CREATE, "async_fail": 0.5}
    plain = FaultInjector({"seed": 9, "rules": [async_rule]})
    noisy = FaultInjector({"seed": 9, "rules": [async_rule, {"operation": "ListUsers", "throttle": 0.5}]})
    for _ in range(50):
        noisy.decide("identitystore", "ListUsers")  # draws from the call-fault stream only
    assert [plain.plan_async("sso-admin", CREATE) for _ in range(40)] == \
        [noisy.plan_async("sso-admin", CREATE) for _ in range(40)]


def test_clock_advances_without_sleeping() -> None:
    injector = FaultInjector(clock=lambda: 100.0)
    assert injector.now() == 100.0
    injector.advance(2.5)
    assert injector.now() == 102.5
    with pytest.raises(ValueError, match="forward"):
        injector.advance(-1)


def test_advancing_refills_quota_buckets() -> None:
    injector = FaultInjector({"quotas": {"sso-admin": {"rate": 1, "burst": 1}}}, clock=lambda: 0.0)
    assert injector.decide("sso-admin", "ListInstances") is None
    assert injector.decide("sso-admin", "ListInstances").kind == "throttle"
    injector.advance(1)
    assert injector.decide("sso-admin", "ListInstances") is None


def test_policy_registry_is_a_stack() -> None:
    first, second = FaultInjector(), FaultInjector()
    assert current_policy() is not first
    use_policy(first)
    use_policy(second)
    try:
        assert current_policy() is second
        drop_policy(second)
        assert current_policy() is first
        drop_policy(second)  # not registered: nothing happens
        assert current_policy() is first
    finally:
        drop_policy(first)
        drop_policy(second)
    assert DEFAULT_POLICY.async_limit() == 15 and DEFAULT_POLICY.plan_async("sso-admin", CREATE) == AsyncPlan()

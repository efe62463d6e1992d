"""Recovery policies (core/recovery.py): parsing, and who decides (handler, rule, built-in)."""

from __future__ import annotations

import pytest

from awsideman.core.recovery import DEFAULT_RULE, ErrorFacts, RecoveryPolicy, parse_recovery

CONFLICT = ErrorFacts(category="resource_conflict", code="ConflictException", message="busy", recoverable=True,
                      resource="assignment")
DENIED = ErrorFacts(category="authorization", code="AccessDeniedException", message="no", resource="user")


def test_no_policy_is_todays_behaviour() -> None:
    policy = RecoveryPolicy()
    assert not policy.configured
    assert policy.decide(CONFLICT).action == "retry" and policy.decide(CONFLICT).rule == DEFAULT_RULE
    assert policy.decide(DENIED).action == "fail"


def test_the_first_rule_that_matches_the_resource_kind_decides() -> None:
    rules = parse_recovery({"resource_conflict": [{"resources": ["users"], "action": "fail"},
                                                  {"resources": ["assignments"], "action": "skip"},
                                                  {"action": "pause"}]})
    policy = RecoveryPolicy(rules=rules)
    decision = policy.decide(CONFLICT)
    assert (decision.action, decision.rule) == ("skip", "recovery.resource_conflict[1] (resources: assignments): skip")
    membership = ErrorFacts(**{**CONFLICT.__dict__, "resource": "membership"})
    assert policy.decide(membership).action == "pause"
    assert policy.decide(DENIED).action == "fail"  # no rule for the category: built-in


def test_a_retry_rule_makes_a_permanent_error_of_its_category_retryable_within_its_limits() -> None:
    rules = parse_recovery({"resource_not_found": {"action": "retry", "max_attempts": 4, "base_delay": 0.5}})
    policy = RecoveryPolicy(rules=rules)
    missing = ErrorFacts(category="resource_not_found", code="ResourceNotFoundException", message="lag")
    assert policy.retryable(missing)
    assert policy.retry_limits(missing).max_attempts == 4
    assert not policy.retryable(DENIED)


def test_a_handler_decides_before_the_rules_and_may_reclassify() -> None:
    rules = parse_recovery({"validation": {"action": "skip"}})
    seen = []

    def handler(facts):
        seen.append(facts.address)
        return {"category": "validation"} if facts.code == "AccessDeniedException" else None

    policy = RecoveryPolicy(rules=rules, handlers=[("mine", handler)])
    decision = policy.decide(DENIED)
    assert (decision.action, decision.category) == ("skip", "validation")  # reclassified, then the rule
    assert policy.decide(CONFLICT).rule == DEFAULT_RULE  # no opinion: the built-in answer


@pytest.mark.parametrize("answer, problem", [
    (RuntimeError("boom"), "raised RuntimeError: boom"),
    ("skip", "returned a str"),
    ({"action": "explode"}, "action 'explode'"),
    ({"colour": "red"}, "unknown key 'colour'"),
])
def test_a_bad_handler_is_warned_about_once_and_ignored(answer, problem) -> None:
    warnings: list[str] = []

    def handler(_facts):
        if isinstance(answer, Exception):
            raise answer
        return answer

    policy = RecoveryPolicy(handlers=[("bad", handler)], warn=warnings.append)
    assert policy.decide(DENIED).action == "fail" and policy.decide(DENIED).action == "fail"
    assert len(warnings) == 1 and problem in warnings[0] and "'bad'" in warnings[0]


@pytest.mark.parametrize("config, message", [
    ({"weather": {"action": "skip"}}, "weather: unknown error category"),
    ({"validation": {"action": "later"}}, "validation.action: must be one of retry, fail, skip, pause"),
    ({"validation": {"action": "retry"}}, "retry does not apply to validation"),
    ({"authorization": {"action": "fail", "max_attempts": 3}}, "retry limits do not apply to authorization"),
    ({"network": [{"action": "skip", "resources": ["printers"]}]}, "network[0].resources: unknown resource kind"),
    ({"network": {"action": "skip", "colour": 1}}, "network.colour: unknown key"),
    ({"network": {"action": "retry", "base_delay": 5, "max_delay": 1}}, "network.max_delay: must be >= base_delay"),
])
def test_a_bad_rule_is_refused_naming_the_key(config, message) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_recovery(config)

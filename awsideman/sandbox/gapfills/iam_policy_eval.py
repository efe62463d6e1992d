"""Identity-based policy evaluation for the IAM policy simulator, on moto's own statement matcher.

moto's ``IAMPolicyStatement.is_action_permitted`` (moto/iam/access_control.py) decides whether a
statement allows, denies or ignores an (action, resource) pair; this module only combines its
answers across the principal's policies the way IAM does (an explicit Deny wins, then any
Allow, else an implicit deny) and keeps which statements decided.

Implementation note: moto's matcher was written for its request authoriser and trust
policies, and differs from IAM in three places that the simulator must get right, so each
statement is adjusted before moto sees it:

- actions are case-insensitive in IAM (``sso:createaccountassignment`` is the same action), but
  moto compares them as written: both sides are lower-cased;
- moto ignores ``NotResource`` (a statement without ``Resource`` counts as "matches every
  resource", so a ``Deny`` with ``NotResource`` would deny everything): the exclusion is checked
  here, again with moto's matcher, and the statement goes on with ``Resource: "*"``;
- moto treats a ``Condition`` it cannot evaluate as a deny, even on an ``Allow``; IAM leaves a
  statement whose context keys are missing out of the decision and names those keys in
  ``MissingContextValues``, which is what happens here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from moto.iam.access_control import IAMPolicyStatement, PermissionResult

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"


@dataclass(frozen=True)
class PolicySource:
    """One policy in the simulation: its id and type as the API reports them, and its document."""

    policy_id: str
    policy_type: str  # user | group | role | aws-managed | user-managed | none
    document: str

    def statements(self) -> list[dict[str, Any]]:
        found = json.loads(self.document).get("Statement", [])
        return [found] if isinstance(found, dict) else list(found)


@dataclass
class Evaluation:
    """The simulator's answer for one (action, resource) pair."""

    decision: str
    matched: list[PolicySource] = field(default_factory=list)
    missing_context: list[str] = field(default_factory=list)


def evaluate(sources: list[PolicySource], action: str, resource: str) -> Evaluation:
    """Decide ``action`` on ``resource`` from every statement of ``sources``."""
    allows: list[PolicySource] = []
    denies: list[PolicySource] = []
    missing: set[str] = set()
    for source in sources:
        for statement in source.statements():
            if "Condition" in statement:
                if _concerns(statement, action, resource):
                    missing.update(_context_keys(statement["Condition"]))
                continue
            result = _decide(statement, action, resource)
            if result == PermissionResult.DENIED:
                denies.append(source)
            elif result == PermissionResult.PERMITTED:
                allows.append(source)
    if denies:
        return Evaluation(EXPLICIT_DENY, _unique(denies), sorted(missing))
    if allows:
        return Evaluation(ALLOWED, _unique(allows), sorted(missing))
    return Evaluation(IMPLICIT_DENY, [], sorted(missing))


def _decide(statement: dict[str, Any], action: str, resource: str) -> PermissionResult:
    """moto's verdict on one statement, after the adjustments in the module's note."""
    if "NotResource" in statement:
        if _matches_resource(statement["NotResource"], resource):
            return PermissionResult.NEUTRAL
        statement = {k: v for k, v in statement.items() if k != "NotResource"} | {"Resource": "*"}
    if not statement.get("Resource"):
        return PermissionResult.NEUTRAL  # an identity policy statement names its resources
    return IAMPolicyStatement(_lowered(statement)).is_action_permitted(action.lower(), resource)


def _concerns(statement: dict[str, Any], action: str, resource: str) -> bool:
    """Would the statement apply to the pair, were its condition true?"""
    unconditional = {k: v for k, v in statement.items() if k != "Condition"}
    return _decide(unconditional, action, resource) != PermissionResult.NEUTRAL


def _matches_resource(patterns: Any, resource: str) -> bool:
    probe = {"Effect": "Allow", "Action": "*", "Resource": patterns}
    return IAMPolicyStatement(probe).is_action_permitted("probe", resource) == PermissionResult.PERMITTED


def _lowered(statement: dict[str, Any]) -> dict[str, Any]:
    copy = dict(statement)
    for key in ("Action", "NotAction"):
        if key in copy:
            value = copy[key]
            copy[key] = value.lower() if isinstance(value, str) else [str(v).lower() for v in value]
    return copy


def _context_keys(condition: dict[str, Any]) -> set[str]:
    return {key for operands in condition.values() if isinstance(operands, dict) for key in operands}


def _unique(sources: list[PolicySource]) -> list[PolicySource]:
    return list(dict.fromkeys(sources))

"""IAM's policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy), which moto 5.2.5 lacks.

A restore's preflight asks ``SimulatePrincipalPolicy`` for the caller before its first write;
the sandbox must answer as IAM does, from the principal's identity-based policies: a user's
inline and attached policies and those of its groups, a role's inline and attached policies,
a group's own. ``PolicyInputList`` adds policies to them (``SimulateCustomPolicy``: only those).
One result per (action, resource) pair, ``ResourceArns`` defaulting to ``["*"]``, paged by
``MaxItems`` (default 100, as IAM) and ``Marker``. The decision comes from `iam_policy_eval`.

Not simulated: permissions boundaries, resource policies, SCPs, ``ContextEntries`` (a
statement with a ``Condition`` is left out and its keys are listed as missing context), and
statement positions in ``MatchedStatements``.
"""

from __future__ import annotations

import base64
from typing import Any

from moto.core.responses import ActionResult
from moto.iam.exceptions import InvalidInput, NoSuchEntity
from moto.iam.models import IAMBackend
from moto.iam.responses import IamResponse

from ._common import install
from .iam_policy_eval import PolicySource, evaluate

DEFAULT_MAX_ITEMS = 100


def simulate_principal_policy(self: IamResponse) -> ActionResult:
    sources = principal_policies(self.backend, self._get_param("PolicySourceArn"))
    return _simulate(self, sources + _input_policies(self))


def simulate_custom_policy(self: IamResponse) -> ActionResult:
    return _simulate(self, _input_policies(self))


def principal_policies(backend: IAMBackend, arn: str) -> list[PolicySource]:
    """The identity-based policies of the user, role or group ``arn`` (NoSuchEntity if none)."""
    kind, name = _entity(backend, arn)
    if kind == "user":
        user = _found(backend.users.get(name), arn, "user", name)
        groups = [g for g in list(backend.groups.values()) if user in g.users]
        return _own(user, "user") + [s for g in groups for s in _own(g, "group")]
    if kind == "role":
        role = _found(next((r for r in list(backend.roles.values()) if r.name == name), None), arn, "role", name)
        return _own(role, "role")
    return _own(_found(backend.groups.get(name), arn, "group", name), "group")


def _entity(backend: IAMBackend, arn: str) -> tuple[str, str]:
    parts = (arn or "").split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    kind, _, path_and_name = resource.partition("/")
    if parts[:3] != ["arn", backend.partition, "iam"] or kind not in ("user", "role", "group") \
            or not path_and_name:
        # what IAM answers for an sts assumed-role ARN, or anything but a user, role or group
        raise InvalidInput(f"Invalid Entity Arn: {arn} does not clearly define entity type and name.")
    return kind, path_and_name.rsplit("/", 1)[-1]


def _found(entity: Any, arn: str, kind: str, name: str) -> Any:
    if entity is None or entity.arn != arn:  # a wrong account or path is no such entity either
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    return entity


def _own(entity: Any, kind: str) -> list[PolicySource]:
    inline = [PolicySource(name, kind, document) for name, document in list(entity.policies.items())]
    return inline + [_managed(policy) for policy in list(entity.managed_policies.values())]


def _managed(policy: Any) -> PolicySource:
    version = next(v for v in policy.versions if v.is_default)
    kind = "aws-managed" if policy.arn.split(":")[4] == "aws" else "user-managed"
    return PolicySource(policy.name, kind, version.document)


def _input_policies(self: IamResponse) -> list[PolicySource]:
    documents = self._get_param("PolicyInputList") or []
    return [PolicySource(f"PolicyInputList.{n}", "none", doc) for n, doc in enumerate(documents, start=1)]


def _simulate(self: IamResponse, sources: list[PolicySource]) -> ActionResult:
    actions = self._get_param("ActionNames") or []
    resources = self._get_param("ResourceArns") or ["*"]
    pairs = [(action, resource) for action in actions for resource in resources]
    start = _offset(self._get_param("Marker"))
    size = int(self._get_param("MaxItems") or DEFAULT_MAX_ITEMS)
    results = [_result(sources, action, resource) for action, resource in pairs[start:start + size]]
    more = start + size < len(pairs)
    answer: dict[str, Any] = {"EvaluationResults": results, "IsTruncated": more}
    if more:
        answer["Marker"] = base64.urlsafe_b64encode(f"sim:{start + size}".encode()).decode()
    return ActionResult(answer)


def _result(sources: list[PolicySource], action: str, resource: str) -> dict[str, Any]:
    found = evaluate(sources, action, resource)
    return {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": found.decision,
        "MatchedStatements": [{"SourcePolicyId": s.policy_id, "SourcePolicyType": s.policy_type}
                              for s in found.matched],
        "MissingContextValues": found.missing_context,
    }


def _offset(marker: str | None) -> int:
    if not marker:
        return 0
    try:
        prefix, _, number = base64.urlsafe_b64decode(marker.encode()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        prefix, number = "", ""
    if prefix != "sim" or not number.isdigit():
        raise InvalidInput("Invalid Marker.")
    return int(number)


def install_responses() -> None:
    """Add the simulator's actions to moto's IAM responses (dispatched by action name)."""
    install(IamResponse, "simulate_principal_policy", simulate_principal_policy)
    install(IamResponse, "simulate_custom_policy", simulate_custom_policy)

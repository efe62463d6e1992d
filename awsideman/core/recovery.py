"""Recovery policies: what a restore does with a change whose call failed, per error category.

Config (``recovery:``; README "Recovery policies")::

    recovery:
      resource_conflict:                 # one rule, or a list of rules (first match wins)
        - {resources: [assignments], action: skip}
        - {action: fail}
      rate_limiting: {action: pause, max_attempts: 3}

Each rule says, for errors of its category (optionally only for changes of the resource kinds
named in ``resources``):

- ``action``: ``retry`` (retry every error of the category, also those the table calls
  permanent, within the limits; then the change fails), ``fail`` (the change fails: the run
  stops and, with auto-rollback, is rolled back), ``skip`` (the change is left out, the run goes
  on and finishes ``partial``), ``pause`` (the run stops, is journaled and can be resumed).
- retry limits (``max_attempts``, ``base_delay``, ``max_delay``, ``give_up_after``): how long
  the one retry owner (``core/retry.py``) retries the category's retryable errors before the
  action applies; unset ones are the ``retry:`` section's.

No rule for a category (the default, and anything a rule does not match) is today's behaviour:
errors the table calls recoverable are retried with the ``retry:`` limits, the rest fail.

Before any rule, the installed error handlers (``awsideman.error_handlers`` entry points,
loaded by ``services/error_handlers.py``) may reclassify the error or choose the action: each
is called with a read-only ``ErrorFacts`` and returns None (no opinion) or a mapping with
``category`` and/or ``action`` (and an optional ``reason``). A handler that raises or answers
something else is warned about and ignored; it never stops the run. Handlers and rules may be
asked more than once about one error (once per failed attempt): they must not keep state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from awsideman.core.config_section import is_integer, is_number
from awsideman.core.error_table import CATEGORIES

__all__ = ["ACTIONS", "RESOURCE_NAMES", "RETRYABLE_CATEGORIES", "ErrorFacts", "Decision", "RecoveryRule",
           "RecoveryPolicy", "Handler", "parse_recovery", "resource_of_operation", "is_change_call"]

RETRY, FAIL, SKIP, PAUSE = "retry", "fail", "skip", "pause"
ACTIONS = (RETRY, FAIL, SKIP, PAUSE)
LIMIT_KEYS = ("max_attempts", "base_delay", "max_delay", "give_up_after")
RULE_KEYS = ("action", "resources", *LIMIT_KEYS)
# Where waiting can change the answer. Credentials, permissions, bad values, configuration and
# local storage stay as they are however often the call is repeated: retrying them is refused.
RETRYABLE_CATEGORIES = ("network", "rate_limiting", "resource_conflict", "resource_not_found", "encryption")
# The config's resource names (plural, as --resources spells them) -> the change's resource.
RESOURCE_NAMES: dict[str, str] = {
    "users": "user", "groups": "group", "memberships": "membership", "permission_sets": "permission_set",
    "assignments": "assignment", "provisioning": "provision",
}
# The services whose writes make a restore's changes (the policy governs only those calls).
CHANGE_SERVICES = ("sso-admin", "identitystore")
_MUTATING = ("Create", "Update", "Delete", "Put", "Attach", "Detach", "Tag", "Untag", "Provision")
DEFAULT_RULE = "built-in default"


@dataclass(frozen=True)
class ErrorFacts:
    """What a handler or rule sees of one failed call (read-only).

    ``category``/``severity``/``recoverable``/``code``/``message`` are the built-in table's
    classification (sanitised); ``resource`` is the change's kind (``assignment``, ``user``, ...,
    None for a call that makes no change), ``address`` the change (``assignment:USER:alice:...``).
    """

    category: str
    code: str
    message: str
    severity: str = "medium"
    recoverable: bool = False
    service: str | None = None
    operation: str | None = None
    http_status: int | None = None
    resource: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Decision:
    """What happens to a failed change, and which rule (or handler) said so."""

    action: str
    rule: str
    category: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"action": self.action, "rule": self.rule, "category": self.category}
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass(frozen=True)
class RecoveryRule:
    """One rule of a category (see the module docstring); ``resources`` empty: every kind."""

    category: str
    action: str
    resources: tuple[str, ...] = ()
    max_attempts: int | None = None
    base_delay: float | None = None
    max_delay: float | None = None
    give_up_after: float | None = None
    index: int | None = None  # its place in a list of rules (for the name the report shows)

    def matches(self, resource: str | None) -> bool:
        return not self.resources or resource in {RESOURCE_NAMES[name] for name in self.resources}

    @property
    def name(self) -> str:
        where = f"[{self.index}]" if self.index is not None else ""
        only = f" (resources: {', '.join(self.resources)})" if self.resources else ""
        return f"recovery.{self.category}{where}{only}: {self.action}"


Handler = Callable[[ErrorFacts], Any]


@dataclass
class RecoveryPolicy:
    """The rules by category and the installed handlers; ``decide`` is all that is asked of it.

    ``warn(message)`` receives each handler problem once (a bad plugin never stops a run).
    """

    rules: Mapping[str, tuple[RecoveryRule, ...]] = field(default_factory=dict)
    handlers: Sequence[tuple[str, Handler]] = ()
    warn: Callable[[str], None] = lambda _message: None
    # Finding installed handlers scans every installed package (tens of ms): a command that never
    # fails never pays for it. Called once, on the first question, when given.
    load_handlers: Callable[[], Sequence[tuple[str, Handler]]] | None = None
    _warned: set[str] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def configured(self) -> bool:
        """Any rule or handler (asking loads the handlers): with neither, the built-in table decides."""
        return bool(self.rules or self._handlers())

    def _handlers(self) -> Sequence[tuple[str, Handler]]:
        with self._lock:
            if self.load_handlers is not None:
                loader, self.load_handlers = self.load_handlers, None
                self.handlers = [*self.handlers, *loader()]
            return self.handlers

    def decide(self, facts: ErrorFacts) -> Decision:
        """The action for this failed call: a handler's, else the first matching rule's, else built-in."""
        facts, decision = self._ask_handlers(facts)
        if decision is not None:
            return decision
        rule = self.rule_for(facts.category, facts.resource)
        if rule is not None:
            return Decision(rule.action, rule.name, facts.category)
        return Decision(RETRY if facts.recoverable else FAIL, DEFAULT_RULE, facts.category)

    def rule_for(self, category: str, resource: str | None) -> RecoveryRule | None:
        return next((r for r in self.rules.get(category, ()) if r.matches(resource)), None)

    def retry_limits(self, facts: ErrorFacts) -> RecoveryRule | None:
        """The rule whose retry limits apply to this error (None: the ``retry:`` section's)."""
        facts, _ = self._ask_handlers(facts)
        return self.rule_for(facts.category, facts.resource)

    def retryable(self, facts: ErrorFacts) -> bool:
        """Worth another attempt: a handler said ``retry``; or no handler chose, and the error is
        transient (any rule's action applies once its attempts are spent) or its rule says ``retry``."""
        facts, decision = self._ask_handlers(facts)
        if decision is not None:
            return decision.action == RETRY
        rule = self.rule_for(facts.category, facts.resource)
        return facts.recoverable or (rule is not None and rule.action == RETRY)

    # -- handlers -------------------------------------------------------------------------------
    def _ask_handlers(self, facts: ErrorFacts) -> tuple[ErrorFacts, Decision | None]:
        for name, handler in self._handlers():
            try:
                verdict = handler(facts)
            except Exception as exc:  # a plugin's bug must not become ours
                self._warn_once(name, f"error handler {name!r} raised {type(exc).__name__}: {exc}; ignored")
                continue
            if verdict is None:
                continue
            checked = _verdict(verdict)
            if isinstance(checked, str):
                self._warn_once(name, f"error handler {name!r} returned {checked}; ignored")
                continue
            category, action, reason = checked
            if category is not None and category != facts.category:
                facts = replace(facts, category=category, recoverable=category in RETRYABLE_CATEGORIES
                                and facts.recoverable)
            if action is not None:
                return facts, Decision(action, f"error handler {name}", facts.category, reason)
        return facts, None

    def _warn_once(self, name: str, message: str) -> None:
        with self._lock:
            if name in self._warned:
                return
            self._warned.add(name)
        self.warn(message)


def _verdict(value: Any) -> tuple[str | None, str | None, str | None] | str:
    """(category, action, reason) of a handler's answer, or what is wrong with it."""
    if not isinstance(value, Mapping):
        return f"a {type(value).__name__}, not None or a mapping with category/action"
    unknown = sorted(str(k) for k in value if k not in ("category", "action", "reason"))
    if unknown:
        return f"unknown key {unknown[0]!r} (known: action, category, reason)"
    category, action, reason = value.get("category"), value.get("action"), value.get("reason")
    if category is not None and category not in CATEGORIES:
        return f"category {category!r} (known: {', '.join(CATEGORIES)})"
    if action is not None and action not in ACTIONS:
        return f"action {action!r} (known: {', '.join(ACTIONS)})"
    if category is None and action is None:
        return "a mapping with neither category nor action"
    return category, action, None if reason is None else str(reason)[:200]


# -- what a call is ----------------------------------------------------------------------------
def is_change_call(service: str, operation: str) -> bool:
    """A write of Identity Center (the calls a restore's changes are made of)."""
    return service in CHANGE_SERVICES and operation.startswith(_MUTATING)


def resource_of_operation(operation: str) -> str | None:
    """The change kind an API write belongs to (``CreateAccountAssignment`` -> ``assignment``)."""
    if "AccountAssignment" in operation:
        return "assignment"
    if operation == "ProvisionPermissionSet":
        return "provision"
    if "GroupMembership" in operation:
        return "membership"
    if "PermissionSet" in operation or "PermissionsBoundary" in operation or "Policy" in operation:
        return "permission_set"
    if operation.endswith(("User", "Users")):
        return "user"
    if operation.endswith(("Group", "Groups")):
        return "group"
    return "permission_set" if operation in ("TagResource", "UntagResource") else None


# -- parsing (the schema checks the shape; this checks what a schema cannot say) ---------------
def parse_recovery(data: Mapping[str, Any] | None) -> dict[str, tuple[RecoveryRule, ...]]:
    """The ``recovery:`` mapping as rules by category; ValueError naming the key on a bad one."""
    rules: dict[str, tuple[RecoveryRule, ...]] = {}
    for category, value in (data or {}).items():
        if category not in CATEGORIES:
            raise ValueError(f"{category}: unknown error category (known: {', '.join(CATEGORIES)})")
        items = value if isinstance(value, list) else [value]
        listed = isinstance(value, list)
        rules[category] = tuple(_rule(category, item, i if listed else None) for i, item in enumerate(items))
    return rules


def _rule(category: str, item: Any, index: int | None) -> RecoveryRule:
    where = f"{category}[{index}]" if index is not None else category
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: expected a mapping with action (and resources, retry limits), got {item!r}")
    unknown = sorted(str(k) for k in item if k not in RULE_KEYS)
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(RULE_KEYS))})")
    action = item.get("action")
    if action not in ACTIONS:
        raise ValueError(f"{where}.action: must be one of {', '.join(ACTIONS)}, got {action!r}")
    if action == RETRY and category not in RETRYABLE_CATEGORIES:
        raise ValueError(f"{where}.action: retry does not apply to {category} (waiting does not change its "
                         f"answer); retry applies to {', '.join(RETRYABLE_CATEGORIES)}")
    resources = item.get("resources") or []
    if not isinstance(resources, list) or any(r not in RESOURCE_NAMES for r in resources):
        bad = next((r for r in resources if r not in RESOURCE_NAMES), resources) if isinstance(
            resources, list) else resources
        raise ValueError(f"{where}.resources: unknown resource kind {bad!r} (known: {', '.join(RESOURCE_NAMES)})")
    limits = {key: item[key] for key in LIMIT_KEYS if item.get(key) is not None}
    if limits and category not in RETRYABLE_CATEGORIES:
        raise ValueError(f"{where}.{next(iter(limits))}: retry limits do not apply to {category} (its errors are "
                         f"never retried); they apply to {', '.join(RETRYABLE_CATEGORIES)}")
    _check_limits(where, limits)
    return RecoveryRule(category, action, tuple(resources), index=index, **limits)


def _check_limits(where: str, limits: Mapping[str, Any]) -> None:
    attempts = limits.get("max_attempts")
    if attempts is not None and (not is_integer(attempts) or attempts < 1):
        raise ValueError(f"{where}.max_attempts: must be an integer >= 1, got {attempts!r}")
    for key in ("base_delay", "max_delay", "give_up_after"):
        value = limits.get(key)
        if value is not None and (not is_number(value) or value < 0):
            raise ValueError(f"{where}.{key}: must be a number >= 0, got {value!r}")
    low, high = limits.get("base_delay"), limits.get("max_delay")
    if low is not None and high is not None and high < low:
        raise ValueError(f"{where}.max_delay: must be >= base_delay ({low}), got {high!r}")

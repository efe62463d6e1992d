"""`rollback:` in the config (and the restore's `--rollback-*` flags): when a failed restore is
undone automatically, what that undo keeps, how long it may take, and how long the inverses live.

- ``when``: ``on_failure`` (the default: a failed restore is compensated), ``never`` (nothing
  is undone automatically; the restore stops ``failed`` with what it applied listed, like
  ``--no-auto-rollback``), ``on_partial`` (a restore that finished ``partial`` is undone too);
- ``keep``: resource kinds whose applied changes an automatic rollback leaves in effect (the
  rest are reverted); ``awsideman rollback OP`` later reverts them too, it knows no policy;
- ``time_budget``: seconds the automatic compensation may take; once spent, nothing new is
  started, what is in flight finishes, and what is left is reported and journaled open, so
  ``awsideman rollback OP`` finishes it;
- ``inverse_retention_days``: inverse records hold the previous attribute values (personal
  data); the retention pass purges them (and the previous values in the forward records) once
  a restore ended this long ago. The audit trail (names, actions, request ids) stays.

Pure: the reasons a report gives for what the policy kept are written here once, so the
command's summary and ``report show`` (both from the journal) say the same words.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from awsideman.core.config_section import ConfigSection, is_number

WHEN = ("on_failure", "never", "on_partial")
KEEP_KINDS = ("users", "groups", "memberships", "permission-sets", "assignments")
# A journaled change's resource (core.changes.RESOURCES) -> the kind `keep` names it by.
KIND_OF_RESOURCE = {"user": "users", "group": "groups", "membership": "memberships",
                    "permission_set": "permission-sets", "provision": "permission-sets",
                    "assignment": "assignments"}
MAX_BUDGET = 86400.0
MAX_RETENTION_DAYS = 36500.0


@dataclass(frozen=True)
class RollbackPolicy(ConfigSection):
    """``rollback:`` (see the module docstring); the defaults are the behaviour without it."""

    section = "rollback"

    when: str = "on_failure"
    keep: tuple[str, ...] = ()
    time_budget: float | None = None
    inverse_retention_days: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.keep, list):  # YAML gives a list; the frozen policy holds a tuple
            object.__setattr__(self, "keep", tuple(self.keep))
        super().__post_init__()

    def _problems(self) -> list[str]:
        problems = []
        if self.when not in WHEN:
            problems.append(f"when must be one of {', '.join(WHEN)}, not {self.when!r}")
        if not isinstance(self.keep, tuple) or not all(isinstance(k, str) for k in self.keep):
            problems.append(f"keep must be a list of {', '.join(KEEP_KINDS)}, not {self.keep!r}")
        else:
            unknown = [k for k in self.keep if k not in KEEP_KINDS]
            if unknown:
                problems.append(f"keep: unknown resource kind {unknown[0]!r} (known: {', '.join(KEEP_KINDS)})")
        if self.time_budget is not None and not _within(self.time_budget, MAX_BUDGET):
            problems.append(f"time_budget must be a number of seconds >= 0 and <= {MAX_BUDGET:g}, "
                            f"not {self.time_budget!r}")
        if self.inverse_retention_days is not None and not _within(self.inverse_retention_days, MAX_RETENTION_DAYS):
            problems.append(f"inverse_retention_days must be a number of days >= 0 and <= {MAX_RETENTION_DAYS:g}, "
                            f"not {self.inverse_retention_days!r}")
        return problems

    def merged(self, *, when: str | None = None, keep: list[str] | None = None,
               time_budget: float | None = None) -> RollbackPolicy:
        """This policy with what the restore's flags say instead (flags win over the file)."""
        return RollbackPolicy(when=when if when is not None else self.when,
                              keep=tuple(keep) if keep is not None else self.keep,
                              time_budget=time_budget if time_budget is not None else self.time_budget,
                              inverse_retention_days=self.inverse_retention_days)

    def params(self) -> dict[str, Any]:
        """What a restore journals of the policy it ran under (the account reads it back)."""
        return {"when": self.when, "keep": list(self.keep), "time_budget": self.time_budget}

    @classmethod
    def from_params(cls, data: Mapping[str, Any] | None) -> RollbackPolicy:
        """The policy a restore journaled (``params``); a restore from before policies: the default."""
        data = data or {}
        return cls(when=str(data.get("when") or "on_failure"), keep=tuple(data.get("keep") or ()),
                   time_budget=data.get("time_budget"))

    def keeps(self, resource: str | None) -> bool:
        """Does an automatic rollback under this policy keep a change of ``resource`` (``user``, ...)?"""
        return KIND_OF_RESOURCE.get(str(resource)) in self.keep


def _within(value: Any, high: float) -> bool:
    return is_number(value) and math.isfinite(value) and 0 <= value <= high


def parse_keep(text: str) -> list[str]:
    """``--rollback-keep users,groups`` (``none``: keep nothing); ValueError naming a bad kind."""
    kinds = [part.strip() for part in text.split(",") if part.strip()]
    if kinds == ["none"]:
        return []
    unknown = [k for k in kinds if k not in KEEP_KINDS]
    if unknown or not kinds:
        raise ValueError(f"--rollback-keep takes a comma-separated list of {', '.join(KEEP_KINDS)} (or none), "
                         f"not {text!r}")
    return kinds


# -- the reasons a report gives (the command's summary and `report show` share them) ---------------
def kept_reason(resource: str | None) -> str:
    kind = KIND_OF_RESOURCE.get(str(resource), str(resource))
    return f"kept by policy: rollback.keep lists {kind}, so the automatic rollback left it in effect"


NEVER_REASON = "kept by policy: rollback.when is never, so nothing was rolled back automatically"


def budget_reason(budget: float | None) -> str:
    return (f"not reverted: the automatic rollback's time budget (rollback.time_budget: {budget:g} s) was spent "
            "before it")


def needs_kept_reason(needed: str) -> str:
    return f"kept by policy: its revert needs {needed} reverted, which rollback.keep keeps"


def kept_with_dependents(inverses: Iterable[Any], kept: set[str]) -> dict[str, str]:
    """The addresses an automatic rollback keeps, each with its reason: those of the kinds
    ``rollback.keep`` names (``kept``), and every revert that needs one of them reverted first
    (``depends_on`` of the ordered inverses: re-creating a deleted user's memberships needs the
    user back), transitively. Such a revert would only fail; keeping it says why instead."""
    reasons: dict[str, str] = {}
    held = set(kept)
    changed = True
    while changed:
        changed = False
        for inverse in inverses:
            if inverse.address in held:
                continue
            needed = next((d for d in inverse.depends_on if d in held), None)
            if needed is not None:
                held.add(inverse.address)
                reasons[inverse.address] = needs_kept_reason(needed)
                changed = True
    return reasons


def policy_reason(policy: RollbackPolicy, resource: str | None, *, budget_spent: bool, never: bool) -> str | None:
    """Why the policy left a change of ``resource`` in effect (None: the policy did not keep it)."""
    if never:
        return NEVER_REASON
    if policy.keeps(resource):
        return kept_reason(resource)
    if budget_spent:
        return budget_reason(policy.time_budget)
    return None


def purged_message(operation_id: str, purged_at: str, days: Any) -> str:
    """What `rollback OP` says once the inverses of ``operation_id`` are gone."""
    window = f" (rollback.inverse_retention_days: {days:g})" if is_number(days) else ""
    return (f"The inverses of {operation_id} were purged on {purged_at[:10]} by policy{window}: it can no longer "
            "be rolled back from the journal")

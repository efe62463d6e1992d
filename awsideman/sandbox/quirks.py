"""Real-AWS behaviours the emulator leaves out unless the fault rules' ``quirks:`` ask for them.

The fault rule file validates the section (``fault_rules.py``); the gap fills read it through
``current_policy().quirks()``. Kept apart from the rule file so the models need not import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AccountDenial:
    """AccessDeniedException for `operation` whenever its target account is one of `accounts`."""

    accounts: frozenset[str]
    operation: str = "CreateAccountAssignment"

    def to_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "accounts": sorted(self.accounts)}


@dataclass(frozen=True)
class Quirks:
    """Real-AWS behaviours, each off by default (the module docstring lists them)."""

    propagation_lag_seconds: float = 0.0
    provisioning_conflicts: bool = False
    orphan_assignments: bool = False
    credentials_expire_after_seconds: float | None = None
    credentials_expire_after_calls: int | None = None
    deny_accounts: tuple[AccountDenial, ...] = ()
    case_insensitive_user_names: bool = False

    def denied(self, operation: str, account: str | None) -> bool:
        """Whether an SCP-like denial covers `operation` in target `account`."""
        return account is not None and any(d.operation == operation and account in d.accounts
                                           for d in self.deny_accounts)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, default in _QUIRK_DEFAULTS.items():
            value = getattr(self, name)
            if value != default:
                data[name] = [d.to_dict() for d in value] if name == "deny_accounts" else value
        return data


_QUIRK_DEFAULTS = {name: getattr(Quirks(), name) for name in Quirks.__dataclass_fields__}


def parse_quirks(value: Mapping[str, Any] | None) -> Quirks:
    if not value:
        return Quirks()
    fields: dict[str, Any] = {k: v for k, v in value.items() if k != "deny_accounts"}
    fields["deny_accounts"] = tuple(AccountDenial(frozenset(d["accounts"]), d.get("operation", AccountDenial.operation))
                                    for d in value.get("deny_accounts") or [])
    if "propagation_lag_seconds" in fields:
        fields["propagation_lag_seconds"] = float(fields["propagation_lag_seconds"])
    if fields.get("credentials_expire_after_seconds") is not None:
        fields["credentials_expire_after_seconds"] = float(fields["credentials_expire_after_seconds"])
    return Quirks(**fields)

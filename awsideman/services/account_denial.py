"""A change denied in one account says which account, by id and (where known) by name.

An organization's SCP, or an account whose provisioning role is missing, makes
CreateAccountAssignment (or a deletion, or a provisioning) fail in that account while every
other account works. The service's message may name only a permission set or nothing at all,
so the apply engine puts the account in front of it; the report and the run's errors then show
which account to look at. The names come from the organization's account list, read once and
only when a denial happens (a clean run makes no extra call).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from awsideman.adapters.organization import account_names
from awsideman.core.changes import Change
from awsideman.core.error_table import AUTHORIZATION
from awsideman.core.errors import ErrorInfo
from awsideman.core.sanitize import sanitize

_OPERATIONS = {("assignment", "create"): "CreateAccountAssignment",
               ("assignment", "delete"): "DeleteAccountAssignment",
               ("provision", "provision"): "ProvisionPermissionSet"}


def target_account(change: Change) -> str | None:
    """The account an assignment or a provisioning acts in."""
    if change.resource == "assignment":
        return change.key[0]
    if change.resource == "provision":
        return change.key[1]
    return None


class AccountNames:
    """The organization's account names, listed on first use (thread-safe; empty when not listable)."""

    def __init__(self, gateway: Any) -> None:
        self._gateway = gateway
        self._lock = threading.Lock()
        self._names: dict[str, str] | None = None

    def label(self, account_id: str) -> str:
        """``111122223333 (prod)``, or the bare id when its name is unknown."""
        with self._lock:
            if self._names is None:
                self._names = account_names(self._gateway)
            name = self._names.get(account_id)
        return f"{account_id} ({sanitize(name)})" if name else account_id


def name_the_account(change: Change, info: ErrorInfo, names: AccountNames | None) -> ErrorInfo:
    """``info`` with the denied account in front of its message (other errors unchanged)."""
    account = target_account(change)
    if account is None or info.category != AUTHORIZATION:
        return info
    label = names.label(account) if names is not None else account
    operation = _OPERATIONS.get((change.resource, change.action), change.action)
    return replace(info, message=f"{change.address}: {operation} denied in account {label}: {info.message}")

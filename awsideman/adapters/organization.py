"""The accounts of the organization: a restore assigns permission sets only in accounts that exist,
and a message about one account can name it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from awsideman.adapters.aws import client_error_code
from awsideman.core.sanitize import sanitize


def _listed(gateway: Any) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        page = gateway.call("organizations", "ListAccounts", **({"NextToken": token} if token else {}))
        yield from page.get("Accounts") or []
        token = page.get("NextToken")
        if not token:
            return


def active_accounts(gateway: Any) -> tuple[set[str] | None, str | None]:
    """(ids of the organization's ACTIVE accounts, None) or (None, why they cannot be listed)."""
    try:
        return {str(a["Id"]) for a in _listed(gateway) if a.get("Status", "ACTIVE") == "ACTIVE"}, None
    except Exception as exc:  # noqa: BLE001 - a check that cannot run is reported, not fatal
        return None, client_error_code(exc) or sanitize(str(exc))[:120] or type(exc).__name__


def account_names(gateway: Any) -> dict[str, str]:
    """Account id -> name for every account of the organization; empty when they cannot be listed
    (not the management or a delegated administrator account, denied): names are a courtesy."""
    try:
        return {str(a["Id"]): str(a["Name"]) for a in _listed(gateway) if a.get("Name")}
    except Exception:  # noqa: BLE001 - a message without the name is still a message
        return {}

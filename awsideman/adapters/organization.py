"""The accounts of the organization: a restore assigns permission sets only in accounts that exist."""

from __future__ import annotations

from typing import Any

from awsideman.adapters.aws import client_error_code
from awsideman.core.sanitize import sanitize


def active_accounts(gateway: Any) -> tuple[set[str] | None, str | None]:
    """(ids of the organization's ACTIVE accounts, None) or (None, why they cannot be listed)."""
    found: set[str] = set()
    token = None
    try:
        while True:
            page = gateway.call("organizations", "ListAccounts", **({"NextToken": token} if token else {}))
            found |= {str(a["Id"]) for a in page.get("Accounts") or [] if a.get("Status", "ACTIVE") == "ACTIVE"}
            token = page.get("NextToken")
            if not token:
                return found, None
    except Exception as exc:  # noqa: BLE001 - a check that cannot run is reported, not fatal
        return None, client_error_code(exc) or sanitize(str(exc))[:120] or type(exc).__name__

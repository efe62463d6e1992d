"""Organizations accounts with the ids a seeded instance assigns to (moto draws random ids).

The seeder creates each account it assigns permission sets in with the tag ``awsideman:account-id``;
``CreateAccount`` then gives the account that id, so ``ListAccounts`` knows the accounts the
instance's assignments target, as a real organization does (a restore's preflight checks them).
Without an organization ``ListAccounts`` is AWSOrganizationsNotInUseException, as in AWS.
"""

from __future__ import annotations

import re
from typing import Any

from moto.organizations import utils
from moto.organizations.models import FakeAccount, OrganizationsBackend, organizations_backends

ACCOUNT_ID_TAG = "awsideman:account-id"
_ID = re.compile(r"^\d{12}$")


def _create_account(self: OrganizationsBackend, **kwargs: Any) -> dict[str, Any]:
    if self.org is None:
        from moto.organizations.exceptions import AWSOrganizationsNotInUseException

        raise AWSOrganizationsNotInUseException
    wanted = {t["Key"]: t["Value"] for t in kwargs.get("Tags") or []}.get(ACCOUNT_ID_TAG)
    account = FakeAccount(self.org, **kwargs)  # type: ignore[arg-type]
    if wanted and _ID.match(wanted) and all(a.id != wanted for a in self.accounts):
        account.id = wanted
    self.accounts.append(account)
    for policy_id in (utils.DEFAULT_SCP_POLICY_ID, utils.DEFAULT_RCP_POLICY_ID):
        self.attach_policy(PolicyId=policy_id, TargetId=account.id)
    organizations_backends.master_accounts[account.id] = (self.account_id, self.partition)
    return account.create_account_status


_list_accounts = OrganizationsBackend.list_accounts


def _list_accounts_in_use(self: OrganizationsBackend, *args: Any, **kwargs: Any) -> Any:
    """As AWS: listing the accounts of no organization is AWSOrganizationsNotInUseException
    (moto answers an empty list)."""
    if self.org is None:
        from moto.organizations.exceptions import AWSOrganizationsNotInUseException

        raise AWSOrganizationsNotInUseException
    return _list_accounts(self, *args, **kwargs)


def install_models() -> None:
    OrganizationsBackend.create_account = _create_account  # type: ignore[method-assign]
    OrganizationsBackend.list_accounts = _list_accounts_in_use  # type: ignore[method-assign]

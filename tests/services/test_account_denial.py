"""A change denied in one account names it: by id always, by name when the organization lists it
(read once, only when a denial happens); other errors and other changes are left as they are."""

from __future__ import annotations

from botocore.exceptions import ClientError

from awsideman.core.changes import Change
from awsideman.core.errors import ErrorAnalyzer
from awsideman.services.account_denial import AccountNames, name_the_account

DENIED = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "explicit deny in a service control "
                                "policy"}}, "CreateAccountAssignment")
ASSIGNMENT = Change("assignment", "create", ("111111111111", "Admin", "USER", "ada"), after={})


class Organization:
    """The one call AccountNames makes, answered from a list (or refused)."""

    def __init__(self, accounts: list[dict[str, str]] | None) -> None:
        self.accounts, self.calls = accounts, 0

    def call(self, service: str, operation: str, **_: str) -> dict:
        assert (service, operation) == ("organizations", "ListAccounts")
        self.calls += 1
        if self.accounts is None:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListAccounts")
        return {"Accounts": self.accounts}


def test_a_denied_assignment_names_its_account_by_id_and_name_listed_once():
    org = Organization([{"Id": "111111111111", "Name": "prod"}])
    names = AccountNames(org)
    info = name_the_account(ASSIGNMENT, ErrorAnalyzer().analyze(DENIED), names)
    assert info.message.startswith("assignment:111111111111/Admin/USER/ada: CreateAccountAssignment denied in "
                                   "account 111111111111 (prod): ")
    assert "service control policy" in info.message
    provision = Change("provision", "provision", ("Admin", "222222222222"))
    assert "denied in account 222222222222: " in name_the_account(provision, ErrorAnalyzer().analyze(DENIED),
                                                                  names).message
    assert org.calls == 1


def test_names_are_a_courtesy_and_other_errors_are_untouched():
    org = Organization(None)
    denied = name_the_account(ASSIGNMENT, ErrorAnalyzer().analyze(DENIED), AccountNames(org))
    assert "denied in account 111111111111: " in denied.message
    other = ErrorAnalyzer().analyze(ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "X"))
    assert name_the_account(ASSIGNMENT, other, AccountNames(org)) == other
    group = Change("group", "create", ("ops",), after={})
    assert name_the_account(group, ErrorAnalyzer().analyze(DENIED), AccountNames(org)) == ErrorAnalyzer().analyze(
        DENIED)
    assert org.calls == 1  # only the one denial asked

"""Permission sets by name, every attribute; and the re-provisioning their updates need.

A permission set's policies reach an account only when it is provisioned there. After an
update of a `PROVISIONED_ATTRIBUTES` attribute, every account the permission set is already
provisioned to (and stays provisioned to) gets a `provision` change. Accounts that get their
first assignment from this plan need none: creating an assignment provisions the account.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from awsideman.core.attributes import PROVISIONED_ATTRIBUTES, permission_set_record, provision_record
from awsideman.core.changes import Change
from awsideman.core.model import PermissionSet, Snapshot
from awsideman.core.planner.draft import Draft, Key, Kind, compare

RESOURCE = "permission_set"


def _hints(_key: Key, live: PermissionSet | None) -> dict[str, str]:
    return {"permission_set_arn": live.arn} if live is not None else {}


def plan_permission_sets(draft: Draft, desired: Snapshot, live: Snapshot) -> None:
    """Creates, attribute updates and (with prune) deletes of permission sets, by name."""
    compare(draft, Kind(RESOURCE, permission_set_record, _hints), desired.permission_sets, live.permission_sets)


def provisioned_accounts(live: Snapshot, provisioned: Mapping[str, Iterable[str]] | None) -> dict[str, set[str]]:
    """Permission set name -> accounts it is provisioned to: as given, or where it is assigned."""
    if provisioned is not None:
        return {name: set(accounts) for name, accounts in provisioned.items()}
    found: dict[str, set[str]] = {}
    for assignment in live.assignments:
        found.setdefault(assignment.permission_set_name, set()).add(assignment.account_id)
    return found


def _assignments_left(draft: Draft, live: Snapshot) -> tuple[Counter[tuple[str, str]], set[tuple[str, str]]]:
    """(permission set, account) -> assignments after the plan; and the pairs assigned before it."""
    before = {(a.permission_set_name, a.account_id) for a in live.assignments}
    left = Counter((a.permission_set_name, a.account_id) for a in live.assignments)
    for change in draft.changes.values():
        if change.resource == "assignment":
            left[(change.key[1], change.key[0])] += 1 if change.action == "create" else -1
    return left, before


def provision_changes(draft: Draft, live: Snapshot,
                      provisioned: Mapping[str, Iterable[str]] | None) -> list[Change]:
    """One provision per (updated permission set, account it stays provisioned to)."""
    accounts = provisioned_accounts(live, provisioned)
    left, assigned_before = _assignments_left(draft, live)
    result = []
    for change in list(draft.changes.values()):
        if change.resource != RESOURCE or change.action != "update":
            continue
        if not any(name in change.diff for name in PROVISIONED_ATTRIBUTES):
            continue
        name = change.key[0]
        for account in sorted(accounts.get(name, ())):
            # The last assignment's delete deprovisions the account: nothing left to refresh.
            if (name, account) in assigned_before and left[(name, account)] <= 0:
                continue
            record = provision_record(name, account)
            result.append(Change("provision", "provision", (name, account), before=record, after=dict(record),
                                 hints=dict(change.hints)))
    return result

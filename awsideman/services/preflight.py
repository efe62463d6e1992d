"""Before a restore's or rollback's first write: may the caller make every write it plans, and
every write that would undo them? Is this machine's clock within 5 minutes of the service's?
(``--preflight auto|require|off``)

``auto`` (the default) refuses a run whose permissions are denied and goes on, with one line
saying so, when the check cannot run (simulation itself denied, a root or federated caller);
``require`` refuses then too; ``off`` skips the check.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from email.utils import parsedate_to_datetime
from typing import Any

from awsideman.adapters import access_check
from awsideman.adapters.organization import active_accounts
from awsideman.core.changes import Change
from awsideman.core.exceptions import ClockSkewError, PreflightDeniedError, UnknownAccountError, UsageError
from awsideman.core.sanitize import sanitize

MODES = ("auto", "require", "off")
_SHOWN = 10
MAX_SKEW_SECONDS = 300  # request signing allows 5 minutes; the shared state's leases need less


def clock_skew(gateway: Any) -> float | None:
    """This machine's clock minus the service's (seconds), from the last answer's Date header;
    None when no answer carried a readable one. The header has whole seconds: +-1 s is noise."""
    seen = getattr(gateway, "server_date", None)
    if not seen:
        return None
    header, arrived = seen
    try:
        return float(arrived - parsedate_to_datetime(header).timestamp())
    except (TypeError, ValueError):
        return None


def check_clock(gateway: Any) -> None:
    """Refuse (``ClockSkewError``, nothing changed) when the clock is more than 5 minutes off."""
    skew = clock_skew(gateway)
    if skew is not None and abs(skew) > MAX_SKEW_SECONDS:
        raise ClockSkewError(
            f"This machine's clock is {skew:+.0f} s off the service's: "
            "signed requests are refused beyond 5 minutes and the shared state's leases assume agreeing clocks; "
            "nothing was changed.")


def check_accounts(gateway: Any, changes: list[Change], *, mode: str, refuse: bool) -> str | None:
    """Every account a planned assignment is created in belongs to the organization (ACTIVE).

    Refuses (``UnknownAccountError``, nothing changed) when one does not; when the accounts
    cannot be listed (not the management or a delegated administrator account, denied), says
    so (``None`` when there is nothing to check) and refuses only under ``require``."""
    wanted: dict[str, list[str]] = {}
    for change in changes:
        if change.resource == "assignment" and change.action == "create":
            wanted.setdefault(change.key[0], []).append(change.address)
    if not wanted:
        return None
    known, why = active_accounts(gateway)
    if known is None:
        note = (f"Preflight could not list the organization's accounts ({why}): the {len(wanted)} target "
                "account(s) are not checked.")
        if mode == "require" and refuse:
            raise PreflightDeniedError(f"{note} --preflight require refuses to go on; nothing was changed.",
                                       remediation=["Allow organizations:ListAccounts to the caller (the "
                                                    "organization's management or a delegated administrator "
                                                    "account), or run with --preflight auto."])
        return note
    missing = {account: addresses for account, addresses in wanted.items() if account not in known}
    if missing and refuse:
        lines = [f"{account} (for {', '.join(addresses[:3])})" for account, addresses in sorted(missing.items())]
        raise UnknownAccountError(
            f"{len(missing)} target account(s) are not active accounts of the organization; nothing was changed: "
            + "; ".join(lines), remediation=[
                "Restore into the organization the backup was taken from, or leave those assignments out "
                "(--resources without assignments), or create the accounts first."])
    if missing:
        return f"{len(missing)} target account(s) are not in the organization: {', '.join(sorted(missing))}."
    return f"All {len(wanted)} target account(s) are active accounts of the organization."


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise UsageError(f"--preflight must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def prove_access(context: Any, changes: Iterable[Change], *, command: str, compensate: bool, mode: str,
                 refuse: bool = True) -> dict[str, Any] | None:
    """The preflight's report (None when ``off``); raises ``PreflightDeniedError`` (exit 1, nothing
    changed) for a denial, or for a check that could not run under ``require``. ``refuse=False``
    (a dry run) only reports."""
    if check_mode(mode) == "off":
        return None
    changes = list(changes)
    if not changes:
        return None
    if refuse:
        check_clock(context.gateway)
    accounts = check_accounts(context.gateway, changes, mode=mode, refuse=refuse)
    summary = _permissions(context, changes, command=command, compensate=compensate, mode=mode, refuse=refuse)
    summary["accounts"] = accounts
    if accounts:
        summary["note"] += f" {accounts}"
    return summary


def _journal_needs(context: Any) -> list[access_check.Need]:
    """With shared state, every change is journaled in the table (and large values in S3) first."""
    from awsideman.services.iam_policy import setup_scope

    commands, scope, _ = setup_scope(context.settings, for_="restore")
    if "state" not in commands:
        return []
    scope = scope.with_(region=context.gateway.region, caller_account=context.instance.account_id)
    return access_check.command_needs("state", scope, label="the shared journal")


def _permissions(context: Any, changes: list[Change], *, command: str, compensate: bool, mode: str,
                 refuse: bool) -> dict[str, Any]:
    report = access_check.preflight(context.gateway, changes, instance_arn=context.instance.instance_arn,
                                    identity_store_id=context.instance.identity_store_id, compensate=compensate,
                                    forward=f"the {command}", also=_journal_needs(context))
    summary = report.to_dict()
    summary["mode"] = mode
    if not report.verified:
        summary["note"] = f"Preflight could not verify the permissions: {report.unverified}."
        if mode == "require" and refuse:
            raise PreflightDeniedError(
                f"{summary['note']} --preflight require refuses to go on; nothing was changed.",
                remediation=["Allow iam:SimulatePrincipalPolicy (and iam:GetRole) to the caller, or run with "
                             "--preflight auto to go on without the check."])
        return summary
    if not report.denied:
        summary["note"] = f"Preflight: {report.checked} permission(s) checked for {report.principal}: all allowed."
        return summary
    lines = [_line(denial.to_dict()) for denial in report.denied[:_SHOWN]]
    more = len(report.denied) - _SHOWN
    summary["note"] = (f"Preflight: {len(report.denied)} of {report.checked} permission(s) denied for "
                       f"{report.principal}.")
    if not refuse:
        return summary
    only_rollback = all(d.needed_for == [access_check.ROLLBACK] for d in report.denied)
    remediation = [f"Add to the policy of {report.principal}: {sanitize(json.dumps(report.statement()))}",
                   f"Or print the whole policy: awsideman iam-policy --for {command} --instance "
                   f"{context.instance.instance_arn}"]
    if only_rollback and compensate:
        remediation.append("Only the automatic rollback needs these: --no-auto-rollback goes on without it "
                           "(a failure then leaves what was applied).")
    raise PreflightDeniedError(
        f"The {command} needs permissions {report.principal} lacks; nothing was changed:\n"
        + "\n".join(f"  - {line}" for line in lines) + (f"\n  - and {more} more" if more > 0 else ""),
        remediation=remediation, denied=[d.to_dict() for d in report.denied])


def _line(denial: dict[str, Any]) -> str:
    why = " and ".join(denial["needed_for"])
    by = f"; denied by {denial['denied_by']}" if denial["denied_by"] else ""
    changes = ", ".join(denial["changes"][:3])
    return f"{denial['action']} on {denial['resource']} (needed by {why}: {changes}){by}"

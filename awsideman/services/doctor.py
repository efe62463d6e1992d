"""`awsideman doctor`: can this setup back up, restore and roll back, before the bad day?

Each check is independent: one that fails (or cannot run) does not stop the others, and says
how to fix it. Nothing in AWS is changed: the permissions are simulated, the store and the
state backend are only read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from awsideman.adapters import access_check, crypto, permissions
from awsideman.core.command_scopes import FOR
from awsideman.core.errors import ErrorAnalyzer, is_expected
from awsideman.services.iam_policy import setup_scope
from awsideman.services.preflight import MAX_SKEW_SECONDS, clock_skew

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: list[str] = field(default_factory=list)


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.status != FAIL for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}


def diagnose(context: Any, *, for_: str = "all") -> DoctorReport:
    """Run every check for ``for_`` (backup, restore, rollback or all)."""
    commands, scope, skip = setup_scope(context.settings, for_=for_)
    report = DoctorReport()
    analyzer = ErrorAnalyzer()

    def attempt(name: str, run: Any, fix_default: list[str]) -> Any:
        try:
            return run()
        except Exception as exc:
            if not is_expected(exc):
                raise
            info = analyzer.analyze(exc)
            report.checks.append(Check(name, FAIL, info.message, list(info.remediation) or fix_default))
            return None

    identity = attempt("credentials", lambda: context.gateway.call("sts", "GetCallerIdentity"),
                       ["Set AWS_PROFILE / --profile, or export AWS credentials."])
    if identity is None:
        for name in ("region", "instance", "permissions", "store", "state", "clock"):
            report.checks.append(Check(name, SKIPPED, "needs credentials"))
        return report
    report.checks.append(Check("credentials", PASS, f"calling as {identity.get('Arn')}"))
    report.checks.append(Check("region", PASS, f"region {context.gateway.region}"))
    _clock(report, context.gateway)
    instance = attempt("instance", lambda: context.instance, ["Set `instance_arn` and `identity_store_id`."])
    if instance is not None:
        report.checks.append(Check("instance", PASS, f"{instance.instance_arn} ({instance.identity_store_id})"))
        scope = scope.with_(instance_id=instance.instance_arn.rsplit("/", 1)[-1],
                            identity_store_id=instance.identity_store_id, caller_account=identity.get("Account"))
    _permissions(report, context, commands, scope, skip)
    _kms(report, context, attempt)
    url = context.settings.default_store
    if attempt("store", lambda: context.store(None).preflight() or True, [f"Check the store {url}."]):
        report.checks.append(Check("store", PASS, f"{url} is readable"))
    if attempt("state", lambda: context.journal is not None, ["Check `state:` and the journal named."]):
        report.checks.append(Check("state", PASS, f"the journal {context.journal.path} opens"))
    return report


def _kms(report: DoctorReport, context: Any, attempt: Any) -> None:
    key = context.settings.kms_key
    if not key:
        report.checks.append(Check("kms", SKIPPED, "no kms_key configured: backups are not encrypted"))
        return
    state = attempt("kms", lambda: crypto.key_state(context.gateway, key), [f"Check the KMS key {key}."])
    if state == "Enabled":
        report.checks.append(Check("kms", PASS, f"the key {key} is enabled"))
    elif state is not None:
        report.checks.append(Check("kms", FAIL, f"the key {key} is {state}: backups cannot be written or read",
                                   [f"Enable it (`aws kms enable-key --key-id {key}`) or configure another kms_key."]))


def _clock(report: DoctorReport, gateway: Any) -> None:
    skew = clock_skew(gateway)
    if skew is None:
        report.checks.append(Check("clock", SKIPPED, "the service sent no readable Date header"))
    elif abs(skew) > MAX_SKEW_SECONDS:
        report.checks.append(Check("clock", FAIL, f"this machine's clock is {skew:+.0f} s off the service's",
                                   ["Synchronise the clock (NTP): requests are refused beyond 5 minutes, and the "
                                    "shared state's leases assume clocks within a few seconds."]))
    else:
        report.checks.append(Check("clock", PASS, f"within {abs(skew):.0f} s of the service's"))


def _permissions(report: DoctorReport, context: Any, commands: list[str], scope: permissions.Scope,
                 skip: frozenset[str]) -> None:
    for command in commands:
        needed = access_check.command_needs(command, scope, label=command, skip=skip)
        found = access_check.check_needs(context.gateway, needed)
        name = f"permissions: {command}"
        if not found.verified:
            report.checks.append(Check(name, SKIPPED, f"could not verify: {found.unverified}",
                                       ["Allow iam:SimulatePrincipalPolicy (and iam:GetRole) to check this."]))
        elif found.denied:
            actions = sorted({d.action for d in found.denied})
            report.checks.append(Check(name, FAIL, f"{len(actions)} action(s) denied: {', '.join(actions)}", [
                f"Add them to {found.principal}; the whole policy: awsideman iam-policy --for {command}"]))
        else:
            report.checks.append(Check(name, PASS, f"{found.checked} action(s) allowed for {found.principal}"))


__all__ = ["FOR", "diagnose", "DoctorReport", "Check"]

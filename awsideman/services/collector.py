"""Collects an instance's raw state in checkpointed steps, with bounded concurrency.

Each step is one unit of resumable work (users, groups, one group's memberships, one
permission set, one permission set's accounts, one (permission set, account) or one
principal's assignments). A step that still fails after retries is recorded as missing and
the rest carries on, so a partial backup holds everything that could be read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Any

from awsideman.adapters.identity_center import IdentityCenterReader
from awsideman.core.cancel import StopSignal
from awsideman.core.compact import compact
from awsideman.core.errors import ErrorAnalyzer, ErrorInfo, is_expected
from awsideman.core.exceptions import InternalError
from awsideman.core.progress import open_phase
from awsideman.core.route_price import PERMISSION_SET, PRINCIPAL, choose, next_sample, sample_order
from awsideman.services.checkpoints import Checkpoints

# Errors after which every further call would fail the same way: stop at once, keep checkpoints.
FATAL_CATEGORIES = frozenset({"authentication", "configuration"})
# Cheap listings re-read by a resumed run, so it never builds on a stale list of principals
# or permission sets; memberships are re-read too (one call per group) because a membership
# added meanwhile shows in no listing.
REFRESHED_STEPS = ("users", "groups", "permission_sets")
REFRESHED_PREFIXES = ("memberships:",)
# Steps read from identitystore; every other step reads sso-admin. Each service has its own
# quota and its own workers, so a backlog in one never idles the other's budget.
IDENTITYSTORE_STEPS = frozenset({"users", "groups", "memberships"})
WINDOW = 1000  # steps submitted at a time by `_run` (two windows are in flight)


@dataclass(frozen=True)
class Missing:
    """A step that could not be read: what, and the analysed error saying why."""

    resource: str
    step: str
    error: ErrorInfo


def missing_report(missing: list[Missing]) -> list[dict[str, Any]]:
    """Missing steps grouped by resource and error: what, why, remediation, and every step."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for item in sorted(missing, key=lambda m: m.step):
        entry = groups.setdefault((item.resource, item.error.code), {
            "resource": item.resource, "code": item.error.code, "category": item.error.category,
            "severity": item.error.severity, "recoverable": item.error.recoverable,
            "reason": item.error.message, "remediation": list(item.error.remediation), "steps": []})
        entry["steps"].append(item.step)
    return [dict(entry, count=len(entry["steps"])) for _, entry in sorted(groups.items())]


# (step name, resource kind it belongs to, the call that reads it)
Step = tuple[str, str, Callable[[], Any]]
Submitted = tuple[str, str, "Future[Any]"]


@dataclass
class Collected:
    """Raw step results by step name, and what could not be read."""

    steps: dict[str, Any] = field(default_factory=dict)
    missing: list[Missing] = field(default_factory=list)
    strategy: str | None = None
    reused: dict[str, int] = field(default_factory=dict)  # checkpointed steps used, by step kind


class Collector:
    """Runs the steps needed for the chosen resources."""

    def __init__(self, reader: IdentityCenterReader, checkpoints: Checkpoints, *,
                 resources: Iterable[str], concurrency: int = 8, strategy: str = "auto",
                 analyzer: ErrorAnalyzer | None = None,
                 progress: Callable[[str], None] | None = None, stop: StopSignal | None = None,
                 refresh: bool = False) -> None:
        self.reader = reader
        self.checkpoints = checkpoints
        self.resources = set(resources)
        self.concurrency = concurrency
        self.strategy = strategy
        self.analyzer = analyzer or ErrorAnalyzer()
        self.progress = progress or (lambda _msg: None)
        self.stop = stop or StopSignal()
        self.refresh = refresh
        self.result = Collected()
        self._shared_members: dict[str, Any] = {}  # see `compact`: one member dict per user
        self._fatal_error: BaseException | None = None
        self._fatal_info: ErrorInfo | None = None
        self._phase: Any = open_phase(None, "reading")

    # -- the plan -------------------------------------------------------------------------------
    def run(self) -> Collected:
        wants_assignments = "assignments" in self.resources
        need_principals = wants_assignments or bool(self.resources & {"users", "groups"})
        self._pools = {service: ThreadPoolExecutor(max_workers=self.concurrency,
                                                   thread_name_prefix=f"collect-{service}")
                       for service in ("identitystore", "sso-admin")}
        # One unit per step; the total grows as each listing reveals the steps that need it.
        self._phase = open_phase(self.progress, "reading")
        with self._phase:
            return self._run_steps(wants_assignments, need_principals)

    def _run_steps(self, wants_assignments: bool, need_principals: bool) -> Collected:
        try:
            # Implementation note: no phase waits for another phase's stragglers. Each list starts
            # the steps that need it as soon as it is in, and the provisioned-account listings
            # that price the assignment routes go first, so the route is chosen while permission
            # sets are still being read: the quota buckets stay busy from the first call to the last.
            # The listings come a page at a time, compacted as they come (see `_step`).
            principals = self._submit([("users", "users", self.reader.each_user),
                                       ("groups", "groups", self.reader.each_group)] if need_principals else [])
            provisioned: list[Submitted] = []
            details: list[Submitted] = []
            if wants_assignments or "permission-sets" in self.resources:
                self._collect(self._submit([("permission_sets", "permission-sets", self.reader.permission_set_arns)]))
                provisioned = self._submit(self._provisioned_account_steps(self._first_priced()))
                details = self._submit(self._permission_set_steps())
            self._collect(principals)
            self.progress("Read users, groups and the permission set list")
            members = self._submit(self._membership_steps())
            if wants_assignments:
                self._collect(provisioned)
                self._collect_assignments()
                self.progress("Read account assignments")
            self._collect(details + members)
            self.progress("Read memberships and permission sets")
        except BaseException:
            # Interrupted or aborted: drop queued steps, and join the ones in flight (they stop
            # at their next check) before anyone records the operation's end.
            for pool in self._pools.values():
                pool.shutdown(wait=True, cancel_futures=True)
            raise
        for pool in self._pools.values():
            pool.shutdown(wait=True)
        return self.result

    def _membership_steps(self) -> list[Step]:
        groups = self.result.steps.get("groups")
        if not {"users", "groups"} <= self.resources or groups is None:
            return []
        return [(f"memberships:{g['GroupId']}", "memberships",
                 partial(self.reader.group_memberships, g["GroupId"])) for g in groups]

    def _permission_set_steps(self) -> list[Step]:
        arns = self.result.steps.get("permission_sets") or []
        return [(f"permission_set:{arn}", "permission-sets",
                 partial(self.reader.permission_set, arn)) for arn in arns]

    def _first_priced(self) -> int | None:
        """How many permission sets' accounts to list up front (None: all of them)."""
        if "assignments" not in self.resources or self.strategy == PRINCIPAL:
            return 0
        if self.strategy == PERMISSION_SET:
            return None
        return next_sample(len(self.result.steps.get("permission_sets") or []), 0)

    def _provisioned_account_steps(self, count: int | None = None) -> list[Step]:
        """Account listings of the next `count` permission sets not yet listed nor failed (None: all)."""
        failed = {m.step for m in self.result.missing}
        arns = [arn for arn in sample_order(self.result.steps.get("permission_sets") or [])
                if f"provisioned_accounts:{arn}" not in self.result.steps
                and f"provisioned_accounts:{arn}" not in failed]
        return [(f"provisioned_accounts:{arn}", "assignments",
                 partial(self.reader.accounts_for_permission_set, arn)) for arn in arns[:count]]

    # -- assignments: choose the cheaper listing, fall back when one is denied -------------------
    def _collect_assignments(self) -> None:
        principals = self._principals()
        strategy = self.checkpoints.get("assignments:strategy") or self._choose(principals)
        self.checkpoints.put("assignments:strategy", strategy)
        self.result.strategy = strategy
        if strategy == PRINCIPAL:
            # Without the list of users and groups this route cannot be complete.
            failed = principals is None or self._run(self._principal_steps(principals), record_missing=False)
            if not failed:
                self._forget_missing("provisioned_accounts:")  # pricing only: every assignment is read
                return
            self._forget_steps("assignments:principal:")
            self.result.strategy = PERMISSION_SET
            self.checkpoints.put("assignments:strategy", PERMISSION_SET)
            self._forget_missing("provisioned_accounts:")  # the fallback gives a failed listing another try
        self._run(self._provisioned_account_steps())
        pairs = self._provisioned_pairs()
        if pairs is None:
            return
        self._run((f"assignments:{arn}:{account}", "assignments",
                   partial(self.reader.account_assignments, account, arn))
                  for arn, account in pairs)

    def _choose(self, principals: list[tuple[str, str]] | None) -> str:
        """The forced route, or the cheaper one, listing more permission sets' accounts while
        the estimate is too uncertain to be worth its calls (`core.route_price`)."""
        if self.strategy != "auto":
            return self.strategy
        if principals is None:  # users or groups could not be listed: only one route is complete
            return PERMISSION_SET
        arns = self.result.steps.get("permission_sets")
        if arns is None:  # nor could the permission sets: read what can be read, by principal
            return PRINCIPAL
        while True:
            if any(m.step.startswith("provisioned_accounts:") for m in self.result.missing):
                return PRINCIPAL  # could not list provisioned accounts: the principal route is all we have
            counts = [len(self.result.steps[f"provisioned_accounts:{arn}"]) for arn in arns
                      if f"provisioned_accounts:{arn}" in self.result.steps]
            route = choose(len(principals), len(arns), counts)
            if route is not None:
                return route
            self._run(self._provisioned_account_steps(next_sample(len(arns), len(counts))))

    def _provisioned_pairs(self) -> list[tuple[str, str]] | None:
        arns = self.result.steps.get("permission_sets")
        if arns is None:
            return None
        pairs = []
        for arn in arns:
            accounts = self.result.steps.get(f"provisioned_accounts:{arn}")
            if accounts is None:
                return None
            pairs += [(arn, account) for account in accounts]
        return pairs

    def _principals(self) -> list[tuple[str, str]] | None:
        """Every user and group, or None when either list could not be read."""
        users = self.result.steps.get("users")
        groups = self.result.steps.get("groups")
        if users is None or groups is None:
            return None
        return [("USER", u["UserId"]) for u in users] + [("GROUP", g["GroupId"]) for g in groups]

    def _principal_steps(self, principals: list[tuple[str, str]]) -> Iterator[Step]:
        return ((f"assignments:principal:{ptype}:{pid}", "assignments",
                 partial(self.reader.assignments_for_principal, ptype, pid))
                for ptype, pid in principals)

    def _forget_steps(self, prefix: str) -> None:
        for step in [s for s in self.result.steps if s.startswith(prefix)]:
            del self.result.steps[step]

    def _forget_missing(self, prefix: str) -> None:
        self.result.missing = [m for m in self.result.missing if not m.step.startswith(prefix)]

    def _refreshed(self, name: str) -> bool:
        return self.refresh and (name in REFRESHED_STEPS or name.startswith(REFRESHED_PREFIXES))

    # -- running steps ---------------------------------------------------------------------------
    def _run(self, steps: Iterable[Step], record_missing: bool = True) -> bool:
        """Run steps concurrently; return True when any failed.

        A window of steps is submitted while the one before it is collected: 55,000 principals'
        listings as futures at once (each with its condition, lock and work item) were a hundred
        megabytes, and the workers never wait, as the next window is queued before the last ends."""
        failed = False
        pending: list[Submitted] = []
        steps = iter(steps)
        while window := list(islice(steps, WINDOW)):
            submitted = self._submit(window)
            failed = self._collect(pending, record_missing) or failed
            pending = submitted
        return self._collect(pending, record_missing) or failed

    def _submit(self, steps: list[Step]) -> list[Submitted]:
        self._phase.add_total(len(steps))
        return [(name, resource, self._pool_for(name).submit(self._counted_step, name, fn))
                for name, resource, fn in steps]

    def _counted_step(self, name: str, fn: Callable[[], Any]) -> Any:
        try:
            return self._step(name, fn)
        finally:
            self._phase.advance()

    def _pool_for(self, step: str) -> ThreadPoolExecutor:
        service = "identitystore" if step.split(":", 1)[0] in IDENTITYSTORE_STEPS else "sso-admin"
        return self._pools[service]

    def _collect(self, submitted: list[Submitted], record_missing: bool = True) -> bool:
        """Wait for submitted steps and record them (each once); return True when any failed."""
        failed = False
        for name, resource, future in submitted:
            outcome = future.result()
            if isinstance(outcome, ErrorInfo):
                failed = True
                if record_missing:
                    self.result.missing.append(Missing(resource, name, outcome))
            else:
                self.result.steps[name] = outcome
        if self._fatal_error is not None:
            raise self._fatal_error
        return failed

    def _step(self, name: str, fn: Callable[[], Any]) -> Any:
        done = None if self._refreshed(name) else self.checkpoints.get(name)
        if done is not None:
            kind = name.split(":", 1)[0]
            self.result.reused[kind] = self.result.reused.get(kind, 0) + 1
            return done
        if self._fatal_error is not None:  # queued behind a fatal error: every call would fail alike
            return self._fatal_info
        self.stop.check()
        try:
            # A step may give an iterator of pages' items: each is compacted as it comes and the
            # API's own dicts of a page are freed with it (50,000 users were held twice here).
            data = compact(name, fn(), self._shared_members)
        except Exception as exc:
            if not is_expected(exc):
                raise InternalError(f"Internal error (a bug in awsideman) while reading {name}: "
                                    f"{type(exc).__name__}: {exc}",
                                    remediation=["Run again with --debug for the stack trace, and report it.",
                                                 "The checkpoints are kept: a resume repeats only this step."]) from exc
            info = self.analyzer.analyze(exc)
            if info.category in FATAL_CATEGORIES:
                self._fatal_info = info
                self._fatal_error = exc
            return info
        self.checkpoints.put(name, data)
        return data

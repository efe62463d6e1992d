"""`awsideman rollback OP_ID`: revert a restore from its journal, also after a kill -9.

The work is `services.compensation` (shared with the automatic rollback of a failed restore):
settle asynchronous requests left running, check access, revert the open changes in reverse
dependency order, each journaled under this rollback operation. Running it again after it was
itself interrupted continues where it stopped; a rollback of a fully reverted restore makes
no mutating call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from awsideman.adapters.identity_center import IdentityCenterReader
from awsideman.adapters.identity_center_writes import IdentityCenterWriter
from awsideman.core.changes import Change
from awsideman.core.errors import ErrorAnalyzer
from awsideman.core.exceptions import JournalError, Terminated, UsageError
from awsideman.core.ids import validate_operation_id
from awsideman.core.model import Snapshot
from awsideman.core.rollback_policy import purged_message
from awsideman.journal import Operation
from awsideman.services.compensation import Compensator, inverses_of, open_changes, orphans_not_given_back
from awsideman.services.context import Context
from awsideman.services.lifecycle import OperationRun, OperationSpec, run_operation, takeover_note
from awsideman.services.preflight import check_mode, prove_access
from awsideman.services.resolver import Resolver
from awsideman.services.restore import LiveChangeResult

# From this many names of one kind, one listing (100 per call) beats a lookup per name.
PRIME_AT = 20


@dataclass
class RollbackResult(LiveChangeResult):
    """What `rollback` reports (DESIGN section 1): the restore it reverts and what it planned to revert."""

    restore_operation_id: str
    planned: list[dict[str, Any]] = field(default_factory=list)
    # applied/compensated/failed/leftover, as the operation's account counts them (services.account).
    counts: dict[str, int] = field(default_factory=lambda: {"applied": 0, "compensated": 0, "failed": 0,
                                                             "leftover": 0}, kw_only=True)


class RollbackService:
    """Reverts one restore operation of the configured instance."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.analyzer = ErrorAnalyzer()

    def run(self, operation_id: str, *, dry_run: bool = False, lock_timeout: float = 0.0,
            confirm: Any = None, preflight: str = "auto") -> RollbackResult:
        """Revert the restore's open changes; an operation from the first call on (DESIGN
        section 1), also when there is nothing to revert. A dry run that ends well, and a
        declined prompt, leave none."""
        ctx = self.context
        started = time.monotonic()
        check_mode(preflight)
        restore = ctx.journal.get_operation(validate_operation_id(operation_id))
        if restore.kind != "restore":
            raise UsageError(f"{restore.id} is a {restore.kind} operation; only a restore can be rolled back")
        purged_at = (restore.summary or {}).get("inverses_purged_at")
        if purged_at:  # rollback.inverse_retention_days: the previous values are gone, by design
            raise UsageError(purged_message(restore.id, str(purged_at),
                                            (restore.summary or {}).get("inverse_retention_days")),
                             remediation=[f"What it changed (the audit record stays): awsideman report audit "
                                          f"--operation {restore.id}",
                                          "Put the instance back from a backup instead: awsideman restore BACKUP_ID "
                                          "--dry-run (awsideman backup list)"])
        # A restore still running (its owner alive, or its lease live) is waited for, then refused
        # (exit 6, naming who runs it) before this rollback is an operation: it would revert nothing.
        restore = ctx.journal.wait_until_stopped(restore.id, timeout=lock_timeout, sleep=ctx.stop.sleep)
        spec = OperationSpec("rollback", params={"restore_operation_id": restore.id}, lock=True,
                             lock_timeout=lock_timeout, dry_run=dry_run,
                             next_command=lambda _op: f"awsideman rollback {restore.id}")
        with run_operation(ctx.journal, spec, stop=ctx.stop, analyzer=self.analyzer, phases=ctx.progress) as run:
            if restore.instance_arn and restore.instance_arn != ctx.instance.instance_arn:
                raise UsageError(f"{restore.id} changed {restore.instance_arn}, but the configured instance is "
                                 f"{ctx.instance.instance_arn}; run the rollback with the same profile and region")
            run.record_instance(ctx.instance.instance_arn, ctx.caller)
            inverses = inverses_of(open_changes(ctx.journal.changes(restore.id)))
            result = RollbackResult(None, "planned" if dry_run else "succeeded", restore.id, dry_run=dry_run,
                                    planned=[{"address": c.address, "action": c.action} for c in inverses])
            if not inverses:
                result.notes.append(f"Nothing to roll back: every change of {restore.id} is reverted or never applied.")
            kept = orphans_not_given_back(ctx.journal.changes(restore.id))
            if kept:
                result.notes.append(kept)
            if dry_run:
                self._preflight(result, inverses, preflight, refuse=False)
                return self._done(result, started)  # nothing happened: the operation is forgotten
            result.operation_id = run.id
            if inverses:
                self._revert(run, restore, inverses, result, confirm, lock_timeout, preflight)
            else:
                run.finish("succeeded", backup_id=restore.backup_id,
                           summary={"restore": restore.id, "compensated": 0, "leftover": []})
        return self._done(result, started)

    def _revert(self, run: OperationRun, restore: Operation, inverses: list[Change], result: RollbackResult,
                confirm: Any, lock_timeout: float, preflight: str) -> None:
        ctx = self.context
        ctx.journal.wait_until_free(ctx.instance.instance_arn, timeout=lock_timeout, sleep=ctx.stop.sleep)
        self._preflight(result, inverses, preflight)  # before the question: a denied rollback asks nothing
        run.ask(confirm, inverses, declined=f"Nothing changed: the rollback of {restore.id} was not confirmed.")
        run.take_lock()
        if run.stale_lock is not None:
            result.notes.append(takeover_note(run.stale_lock))
        writer = IdentityCenterWriter(ctx.gateway, ctx.instance)
        resolver = Resolver(writer, Snapshot())
        self._prime(resolver, inverses)
        undo = Compensator(ctx, writer, resolver, self.analyzer).run(restore.id, run.id)
        if undo.stopped:
            raise Terminated(ctx.stop.signum or 2)
        result.compensated, result.leftover, result.errors = undo.compensated, undo.leftover, undo.errors
        result.status = "succeeded" if not undo.leftover else "rollback_failed"
        run.finish(result.status, backup_id=restore.backup_id,
                   summary={"restore": restore.id, "compensated": len(result.compensated),
                            "leftover": result.leftover[:50]})
        try:  # the restore says it was reverted, and names this rollback (the link both ways)
            ctx.journal.record_rollback(restore.id, run.id, "rolled_back" if not undo.leftover
                                        else "rollback_failed")
        except JournalError as exc:  # the rollback's own work stands; `report show` derives the rest
            result.notes.append(f"{restore.id} could not be marked as rolled back: {exc.message}")

    def _preflight(self, result: RollbackResult, inverses: list[Change], mode: str, *, refuse: bool = True) -> None:
        result.preflight = prove_access(self.context, inverses, command="rollback", compensate=False, mode=mode,
                                        refuse=refuse)
        if result.preflight is not None:
            result.notes.append(result.preflight["note"])

    def _prime(self, resolver: Resolver, inverses: list[Change]) -> None:
        """Learn user and group ids: those the restore created from its journal (each create's
        answer), the rest from one listing when many are named (100 per call instead of one each)."""
        names: dict[str, set[str]] = {"user": set(), "group": set()}
        created = {(c.resource, c.key[0]): c.hints["created_id"] for c in inverses
                   if c.resource in ("user", "group", "permission_set") and c.hints.get("created_id")}
        for (resource, name), ident in created.items():
            resolver.learn(resource, name, ident)
        for change in inverses:
            if change.resource in names:
                names[change.resource].add(change.key[0])
            elif change.resource == "membership":
                names["group"].add(change.key[0])
                names["user"].add(change.key[1])
            elif change.resource == "assignment":
                names["user" if change.key[2] == "USER" else "group"].add(change.key[3])
        for (resource, name) in created:
            names.get(resource, set()).discard(name)
        reader = IdentityCenterReader(self.context.gateway, self.context.instance)
        if len(names["user"]) >= PRIME_AT:
            for user in reader.users():
                resolver.learn("user", str(user["UserName"]), str(user["UserId"]))
        if len(names["group"]) >= PRIME_AT:
            for group in reader.groups():
                resolver.learn("group", str(group["DisplayName"]), str(group["GroupId"]))

    def _done(self, result: RollbackResult, started: float) -> RollbackResult:
        result.api_calls = self.context.gateway.call_count() if "gateway" in self.context.__dict__ else 0
        result.duration_seconds = round(time.monotonic() - started, 3)
        return result


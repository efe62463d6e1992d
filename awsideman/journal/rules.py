"""The journal's rules, once, as pure functions: no file, no table, no clock of their own.

``journal/journal.py`` asks these what to write and then writes it through a store; so the
SQLite file and the shared DynamoDB table follow exactly the same rules (DESIGN section 5):

- ``claim``: who may continue an operation, and as what;
- ``interrupted``: a running operation whose owner is gone is ``interrupted``;
- ``take_lock``: one writer per instance, a dead (or expired) holder is taken over;
- ``fence``: every write of a lock holder requires the lock to still name it;
- ``transition_sources``: the moves a journaled change may make;
- ``retained``: what retention keeps (anything a rollback may still need);
- ``inverses_expired`` / ``redacted``: what the inverse retention (``rollback.inverse_retention_days``)
  purges, and what of a change is left once it did;
- ``rolled_back``: a later rollback's outcome on the restore it reverted;
- ``wait``: how waiting for a lock (or for a restore to stop) ends (``--lock-timeout``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from awsideman.core.exceptions import LockHeldError, OperationBusyError
from awsideman.journal.records import (
    FINISHED_STATUSES,
    INTERRUPTED,
    KINDS,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    RUNNING,
    TRANSITIONS,
    UNSETTLED_STATUSES,
    ChangeState,
    LockHolder,
    Operation,
    OperationStateError,
    timestamp_key,
    utc_timestamp,
)
from awsideman.journal.store import Check, OneOf

T = TypeVar("T")


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown operation kind {kind!r}; expected one of {', '.join(KINDS)}")


def check_final(status: str) -> None:
    if status not in FINISHED_STATUSES:
        raise ValueError(f"not a final status: {status!r}; expected one of {', '.join(FINISHED_STATUSES)}")


def claim(current: Operation, *, me: str, alive: bool, claimable: Iterable[str]) -> None:
    """May ``me`` continue ``current``? Raises ``OperationBusyError`` while another live owner runs
    it, ``OperationStateError`` when its status is not one of ``claimable``.

    A running operation whose owner is gone counts as ``interrupted``; our own running one may
    always be claimed again (a resume within the same process).
    """
    theirs = current.owner != me and alive
    if current.status == RUNNING and theirs:
        raise busy(current)
    ours = current.status == RUNNING and current.owner == me
    status = INTERRUPTED if current.status == RUNNING else current.status
    if status not in set(claimable) and not ours:
        raise OperationStateError(current, status)


def interrupted(op: Operation, *, alive: bool, ours: bool) -> bool:
    """A ``running`` operation that neither this journal runs nor a live owner holds is interrupted."""
    return op.status == RUNNING and not ours and not alive


def take_lock(lock: dict[str, Any] | None, *, me: str, operation_id: str, alive: bool) -> LockHolder | None:
    """Taking an instance's lock: returns the stale holder taken over (None if free or ours);
    raises ``LockHeldError`` naming a live holder."""
    if lock is None or not lock.get("owner"):
        return None
    if lock.get("owner") == me and lock.get("operation_id") == operation_id:
        return None
    holder = holder_of(lock, alive=alive)
    if holder.alive:
        raise held(holder)
    return holder


def fence(instance_arn: str, operation_id: str, me: str) -> Check:
    """What every write of the lock's holder requires: the lock still names it, for that operation."""
    return Check("lock", (instance_arn,), {"owner": me, "operation_id": operation_id})


def transition_sources(target: ChangeState) -> OneOf:
    """The states a change may move to ``target`` from (``TRANSITIONS``)."""
    return OneOf(tuple(s.value for s, targets in TRANSITIONS.items() if target in targets))


def retained(op: Operation, *, cutoff: str, open_changes: Callable[[], bool]) -> bool:
    """Retention keeps running operations, those ended after ``cutoff`` and any failed or
    interrupted one whose changes (INTENT or APPLIED) a rollback may still need."""
    if op.status not in FINISHED_STATUSES or ended_key(op) >= cutoff:
        return True
    return op.status in UNSETTLED_STATUSES and open_changes()


def inverses_expired(op: Operation, *, cutoff: str) -> bool:
    """A restore or rollback that ended before ``cutoff`` and still holds its inverses (the previous
    attribute values its changes recorded): the inverse retention purges them. Policy, not need:
    one a rollback could still use is purged too, which is what the window promises."""
    return (op.kind in ("restore", "rollback") and op.status in FINISHED_STATUSES and ended_key(op) < cutoff
            and not (op.summary or {}).get("inverses_purged_at"))


# What a purged change keeps of its forward record: which resource, what action, the names of the
# attributes an update changed (the audit trail's fields); never a value.
_KEPT_FIELDS = ("address", "resource", "action", "key", "depends_on", "is_async")


def redacted(forward: Any) -> dict[str, Any]:
    """A change's forward record without any attribute value (``before``, ``after``, the diff's values)."""
    forward = forward if isinstance(forward, dict) else {}
    kept = {name: forward[name] for name in _KEPT_FIELDS if name in forward}
    kept["diff"] = {str(name): None for name in (forward.get("diff") or {})}
    kept["purged"] = True
    return kept


def purged(op: Operation, *, at: str, days: float) -> dict[str, Any]:
    """The operation's summary once its inverses are gone: when, and by which window."""
    return {**(op.summary or {}), "inverses_purged_at": at, "inverse_retention_days": days}


def is_open(state: str) -> bool:
    return state in (ChangeState.INTENT.value, ChangeState.APPLIED.value)


def rolled_back(restore: Operation, rollback_id: str, status: str) -> dict[str, Any] | None:
    """The restore's new summary after a rollback of it ended as ``status``; None for a restore
    still running (its own run records its end)."""
    if status not in (ROLLED_BACK, ROLLBACK_FAILED):
        raise ValueError(f"not a rollback outcome: {status!r}")
    if restore.status == RUNNING:
        return None
    summary = dict(restore.summary or {})
    summary.setdefault("ended_as", restore.status)  # how the restore's own run ended, kept for its timeline
    rollbacks = [r for r in summary.get("rollbacks") or [] if r != rollback_id]
    summary["rollbacks"] = [*rollbacks, rollback_id]
    summary["rolled_back_by"] = rollback_id
    return summary


def wait(attempt: Callable[[], T], timeout: float, sleep: Callable[[float], None], poll: float) -> T:
    """``attempt()`` until it does not raise ``LockHeldError``, for up to ``timeout`` seconds."""
    waited = 0.0
    while True:
        try:
            return attempt()
        except LockHeldError:
            if waited >= timeout:
                raise
        step = min(poll, timeout - waited)
        sleep(step)
        waited += step


def holder_of(lock: dict[str, Any], *, alive: bool) -> LockHolder:
    return LockHolder(str(lock["instance_arn"]), str(lock.get("operation_id")), lock.get("pid"),
                      str(lock.get("acquired_at")), alive, host=lock.get("host"),
                      expires_at=epoch_stamp(lock.get("lease_until")))


def runner_of(op: Operation) -> LockHolder:
    """A running operation as the holder of what it changes (for ``held``)."""
    return LockHolder(op.instance_arn or "its instance", op.id, op.pid, op.started_at, True, host=op.host,
                      expires_at=epoch_stamp(op.lease_until))


def held(holder: LockHolder) -> LockHeldError:
    where = f"pid {holder.pid} on {holder.host}" if holder.host else f"pid {holder.pid}"
    lease = f", lease until {holder.expires_at}" if holder.expires_at else ""
    error = LockHeldError(
        f"Operation {holder.operation_id} ({where}, since {holder.acquired_at}{lease}) is changing "
        f"{holder.instance_arn}; only one restore or rollback may run per instance.",
        remediation=["Wait for it to finish (`awsideman report list`), or pass --lock-timeout SECONDS to wait.",
                     f"Its recorded errors: awsideman analyze-error --operation {holder.operation_id}"])
    error.holder = holder.operation_id  # type: ignore[attr-defined]
    return error


def busy(current: Operation) -> OperationBusyError:
    where = f"pid {current.pid} on {current.host}" if current.lease_until else f"pid {current.pid}"
    expires = f", lease until {epoch_stamp(current.lease_until)}" if current.lease_until else ""
    advice = ("Wait for it to finish, or stop that process; once its lease expires it can be continued."
              if current.lease_until else "Wait for it to finish, or stop that process and run the command again.")
    return OperationBusyError(f"Operation {current.id} is still running ({where}{expires}).", remediation=[advice])


def epoch_stamp(epoch: Any) -> str | None:
    """A lease's end (epoch seconds) as the journal's timestamp text."""
    return utc_timestamp(datetime.fromtimestamp(float(epoch), UTC)) if epoch else None


def ended_key(op: Operation) -> str:
    return timestamp_key(op.finished_at or op.updated_at or op.started_at)

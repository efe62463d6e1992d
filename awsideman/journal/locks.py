"""One writer per instance: the lock a restore or rollback holds while it changes live state.

Backups never take it. A lock whose holder process is dead is stale and is taken over, and
the taker is told so (the caller reports it), because a dead holder may have left changes
half-made that its journal can roll back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from awsideman.core.exceptions import LockHeldError
from awsideman.journal.db import Database
from awsideman.journal.liveness import owner_alive, this_process

T = TypeVar("T")


@dataclass(frozen=True)
class LockHolder:
    """Who holds an instance's lock."""

    instance_arn: str
    operation_id: str
    pid: int | None
    acquired_at: str
    alive: bool
    # Known for the shared (DynamoDB) journal, whose holders may be on other machines.
    host: str | None = None
    expires_at: str | None = None


class LockWaits(ABC):
    """Waiting for a lock, for any journal with ``acquire_lock`` and ``lock_holder``."""

    @abstractmethod
    def acquire_lock(self, instance_arn: str, operation_id: str) -> LockHolder | None: ...

    @abstractmethod
    def lock_holder(self, instance_arn: str) -> LockHolder | None: ...

    def wait_for_lock(self, instance_arn: str, operation_id: str, *, timeout: float,
                      sleep: Callable[[float], None], poll: float = 0.5) -> LockHolder | None:
        """``acquire_lock``, retrying for up to ``timeout`` seconds (``sleep`` may raise to stop)."""
        return _retrying(lambda: self.acquire_lock(instance_arn, operation_id), timeout, sleep, poll)

    def wait_until_free(self, instance_arn: str, *, timeout: float, sleep: Callable[[float], None],
                        poll: float = 0.5) -> None:
        """Return once no live process holds the lock (raise ``LockHeldError`` after ``timeout``).

        A restore waits here before it reads the instance, so its plan is computed against the
        state the previous holder left, not the state before it.
        """
        def free() -> None:
            holder = self.lock_holder(instance_arn)
            if holder is not None and holder.alive:
                raise _held(holder)

        _retrying(free, timeout, sleep, poll)


class LocksMixin(LockWaits, Database):
    """The ``locks`` table."""

    def lock_holder(self, instance_arn: str) -> LockHolder | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM locks WHERE instance_arn = ?", (instance_arn,)).fetchone()
        if row is None:
            return None
        return LockHolder(row["instance_arn"], row["operation_id"], row["pid"], row["acquired_at"],
                          owner_alive(row["owner"], row["pid"], row["pid_started"]))

    def acquire_lock(self, instance_arn: str, operation_id: str) -> LockHolder | None:
        """Take the instance's lock for ``operation_id``; return the stale holder taken over, if any.

        Raises ``LockHeldError`` (exit 6) naming the holder when a live process holds it.
        Re-acquiring a lock this process already holds for the same operation is allowed.
        """
        owner, pid, started = this_process()
        with self._write() as conn:
            row = conn.execute("SELECT * FROM locks WHERE instance_arn = ?", (instance_arn,)).fetchone()
            stale = None
            if row is not None:
                holder = LockHolder(row["instance_arn"], row["operation_id"], row["pid"], row["acquired_at"],
                                    owner_alive(row["owner"], row["pid"], row["pid_started"]))
                mine = row["owner"] == owner and row["operation_id"] == operation_id
                if holder.alive and not mine:
                    raise _held(holder)
                stale = None if mine else holder
            conn.execute(
                "INSERT INTO locks (instance_arn, operation_id, owner, pid, pid_started, acquired_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (instance_arn) DO UPDATE SET"
                " operation_id = excluded.operation_id, owner = excluded.owner, pid = excluded.pid,"
                " pid_started = excluded.pid_started, acquired_at = excluded.acquired_at",
                (instance_arn, operation_id, owner, pid, started, self._stamp()))
        return stale

    def release_lock(self, instance_arn: str, operation_id: str) -> None:
        """Release the lock if this process holds it for ``operation_id`` (idempotent)."""
        owner, _, _ = this_process()
        with self._write() as conn:
            conn.execute("DELETE FROM locks WHERE instance_arn = ? AND operation_id = ? AND owner = ?",
                         (instance_arn, operation_id, owner))


def _retrying(attempt: Callable[[], T], timeout: float, sleep: Callable[[float], None], poll: float) -> T:
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


def _held(holder: LockHolder) -> LockHeldError:
    where = f"pid {holder.pid} on {holder.host}" if holder.host else f"pid {holder.pid}"
    lease = f", lease until {holder.expires_at}" if holder.expires_at else ""
    error = LockHeldError(
        f"Operation {holder.operation_id} ({where}, since {holder.acquired_at}{lease}) is changing "
        f"{holder.instance_arn}; only one restore or rollback may run per instance.",
        remediation=["Wait for it to finish (`awsideman report list`), or pass --lock-timeout SECONDS to wait.",
                     f"Its recorded errors: awsideman analyze-error --operation {holder.operation_id}"])
    error.holder = holder.operation_id  # type: ignore[attr-defined]
    return error

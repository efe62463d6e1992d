"""The operation journal: the rules (``rules.py``) applied over a record store (``store.py``).

DESIGN section 5. One class for the local file and the shared table: what differs is the
store (``SqliteStore``, ``DynamoStore``) and how an owner is known to be alive
(``ProcessLiveness``: its pid runs; ``LeaseLiveness``: its lease, renewed by a heartbeat here,
has not expired).

Guarantees, whatever the store:

- every write is one atomic, conditional store transaction (a compare-and-set on what was read),
  committed before the method returns (``wait=False`` aside);
- **fencing**: while this process holds an instance's lock, every write also requires that the
  lock still names it (``rules.fence``); a holder paused past its lease finds every write
  refused (``LeaseLostError``) and stops. It also stops by itself once its own clock says the
  lease has run out (``ensure_lease``, checked before every write and every API attempt).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from awsideman.core.exceptions import JournalError, LeaseLostError, StateBackendError
from awsideman.core.ids import new_operation_id, validate_operation_id
from awsideman.core.sanitize import sanitize
from awsideman.journal import rules
from awsideman.journal.liveness import ProcessLiveness, this_process
from awsideman.journal.records import (
    INTERRUPTED,
    RUNNING,
    ChangeRecord,
    ChangeState,
    ChangeTransitionError,
    LockHolder,
    Operation,
    as_utc,
    change_of,
    dumps,
    dumps_sanitized,
    error_of,
    not_found,
    operation_of,
    plain,
    utc_timestamp,
)
from awsideman.journal.sqlite_store import DEFAULT_BUSY_TIMEOUT, SqliteStore
from awsideman.journal.store import Action, Check, Delete, FenceLost, Put, RecordStore, Update

log = logging.getLogger("awsideman.journal")
T = TypeVar("T")
# Checkpoints deleted in the transaction that records a backup's end (the rest: just after it).
CHECKPOINTS_CLEARED_AT_FINISH = 1000


class Sealer(Protocol):
    """Authenticated encryption bound to a context string (see adapters.crypto.CheckpointSealer)."""

    def seal(self, data: bytes, context: str) -> bytes: ...

    def open(self, data: bytes, context: str) -> bytes: ...


class Liveness(Protocol):
    """How an owner is known to be alive (``journal/liveness.py``)."""

    @property
    def lease_seconds(self) -> float | None: ...

    def alive(self, record: dict[str, Any], now: float) -> bool: ...

    def lease_end(self, now: float) -> int | None: ...


class Journal:
    """The operation journal over one store. Open the local one with ``Journal.open(path)``, the
    shared one with ``DynamoJournal.open`` (``journal/dynamo.py``)."""

    def __init__(self, store: RecordStore, liveness: Liveness, *, clock: Callable[[], datetime] | None = None,
                 local: Callable[[], float] | None = None, identity: tuple[str, int, str | None] | None = None) -> None:
        self.store = store
        self.liveness = liveness
        self._clock = clock or (lambda: datetime.now(UTC))
        self._local = local
        # (owner token, pid, start time) this journal writes as; tests play two machines in one process.
        self._identity = identity
        self._lock = threading.RLock()
        self._owned: set[str] = set()  # running operations this journal runs (their leases are renewed)
        self._held: tuple[str, str] | None = None  # (instance arn, operation id) of the lock we hold
        self._valid_until: float | None = None  # local clock: our lock's lease, with a safety margin
        self._lost: str | None = None
        self._seq: dict[str, int] = {}
        # Who this process is (``record_instance``): the JSON every change it journals carries.
        self._caller: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, busy_timeout: float | None = None, clock: Any = None) -> Journal:
        """Open (creating if needed) the local journal at ``path`` and bring its schema up to date.

        ``busy_timeout`` is how long to wait for another process's lock before failing;
        ``clock`` returns the current aware datetime (tests inject one).
        """
        store = SqliteStore.open(path, busy_timeout=DEFAULT_BUSY_TIMEOUT if busy_timeout is None else busy_timeout)
        return cls(store, ProcessLiveness(), clock=clock)

    @property
    def path(self) -> Any:
        return self.store.path

    @property
    def lease_seconds(self) -> float | None:
        return self.liveness.lease_seconds

    def close(self) -> None:
        """Commit what is queued and stop renewing leases (they expire by themselves); safe to call twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if not self._closed:
            self._closed = True
            self.store.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- operations -------------------------------------------------------------------------------
    def start_operation(self, kind: str, params: dict[str, Any], instance_arn: str | None = None,
                        operation_id: str | None = None, *, backup_id: str | None = None,
                        sealing: dict[str, Any] | None = None) -> Operation:
        """Record a new ``running`` operation owned by this process and return it."""
        rules.check_kind(kind)
        op_id = validate_operation_id(operation_id) if operation_id else new_operation_id(self._now())
        owner, pid, started = self._me()
        now = self._stamp()
        record = {"id": op_id, "kind": kind, "status": RUNNING, "params": dumps_sanitized(params or {}),
                  "backup_id": backup_id, "instance_arn": instance_arn, "started_at": now, "updated_at": now,
                  "pid": pid, "host": socket.gethostname(), "owner": owner, "pid_started": started,
                  "sealing": None if sealing is None else dumps(sealing), "lease_until": self._lease_end()}
        if self._write([Put("operation", record, if_absent=True)]) is not None:
            raise JournalError(f"Operation {op_id} already exists in the journal {self.path}.")
        self._own(op_id)
        return self.get_operation(op_id)

    def claim_operation(self, operation_id: str, *, claimable: Iterable[str]) -> Operation:
        """Make this process the owner of an operation whose status is in ``claimable``.

        A compare-and-set on the record as read, so of two processes claiming the same operation
        exactly one wins; the other gets ``OperationBusyError`` (running elsewhere) or
        ``JournalError`` naming the status that cannot be claimed (``rules.claim``).
        """
        owner, pid, started = self._me()
        row = self._get("operation", (operation_id,))
        if row is None:
            raise not_found(operation_id)
        current = operation_of(row)
        rules.claim(current, me=owner, alive=self._alive(row), claimable=claimable)
        failed = self._write([Update("operation", (operation_id,), {
            "status": RUNNING, "updated_at": self._stamp(), "pid": pid, "owner": owner, "pid_started": started,
            "host": socket.gethostname(), "lease_until": self._lease_end(), "finished_at": None},
            expect={"status": current.status, "owner": current.owner})])
        if failed is not None:  # someone claimed it between our read and our write
            raise rules.busy(operation_of(self._get("operation", (operation_id,)) or row))
        self._own(operation_id)
        return self.get_operation(operation_id)

    def record_backup_id(self, operation_id: str, backup_id: str) -> None:
        """Name the backup this operation is about to write, before the store write starts."""
        self._owned_update(operation_id, {"backup_id": backup_id})

    def record_instance(self, operation_id: str, instance_arn: str, *, caller: dict[str, Any] | None = None) -> None:
        """Name the instance an operation works on, once discovered (it starts before discovery),
        and who runs it: ``caller`` (``arn``, ``account`` from sts:GetCallerIdentity) with this
        host. The changes this journal records from then on carry the caller too, so a restore
        resumed by someone else still says who made each change (``report audit``)."""
        fields: dict[str, Any] = {"instance_arn": instance_arn}
        if caller is not None:
            text = dumps_sanitized({"arn": caller.get("arn"), "account": caller.get("account"),
                                    "host": socket.gethostname()})
            fields["caller"] = text
            with self._lock:
                self._caller = text
        self._owned_update(operation_id, fields)

    def record_sealing(self, operation_id: str, sealing: dict[str, Any]) -> None:
        """Keep how the operation's checkpoints are sealed (the wrapped data key), before the first one."""
        self._owned_update(operation_id, {"sealing": dumps(sealing)})

    def discard_operation(self, operation_id: str) -> None:
        """Forget a running operation of this process that did nothing (a declined prompt, a dry run).

        Refused for an operation with journaled changes, or owned by another process: those are
        part of what happened.
        """
        if self._query("change", operation_id, limit=1):
            raise JournalError(f"Operation {operation_id} has journaled changes; it is kept.")
        failed = self._write([Delete("operation", (operation_id,), {"owner": self._me()[0], "status": RUNNING})])
        if failed is not None:
            self._require(operation_id)
            raise JournalError(f"Operation {operation_id} is no longer running in this process.")
        with self._lock:
            self._owned.discard(operation_id)
        self._purge(operation_id)

    def finish_operation(self, operation_id: str, status: str, *, backup_id: str | None = None,
                         summary: dict[str, Any] | None = None, clear_checkpoints: bool = False) -> Operation:
        """Record the final ``status`` (and optionally backup id and summary); return the record.

        Only the owner records the end: a runner that lost the operation must not overwrite it.
        ``clear_checkpoints`` deletes the operation's checkpoints in the same transaction (as
        many as one takes), so a finished backup leaves no plaintext copy of the instance behind.
        """
        rules.check_final(status)
        now = self._stamp()
        sets: dict[str, Any] = {"status": status, "finished_at": now, "updated_at": now, "lease_until": None}
        if backup_id is not None:
            sets["backup_id"] = backup_id
        if summary is not None:
            sets["summary"] = dumps_sanitized(summary)
        actions: list[Action] = [Update("operation", (operation_id,), sets, expect={"owner": self._me()[0]})]
        if clear_checkpoints:
            # Only as many rows as the transaction takes are read (their data comes with them):
            # all 61,000 steps of an enterprise backup were the instance again as JSON text,
            # the peak of the whole backup. The rest are purged right after, as on DynamoDB.
            taken = min(self.store.max_actions - 1, CHECKPOINTS_CLEARED_AT_FINISH)
            actions += [Delete("checkpoint", (operation_id, cp["step"]))
                        for cp in self._query("checkpoint", operation_id, limit=taken)]
        if self._write(actions) is not None:
            self._require(operation_id)
            raise JournalError(f"Operation {operation_id} is no longer owned by this process.")
        if clear_checkpoints:
            self._purge(operation_id, "checkpoint")
        with self._lock:
            self._owned.discard(operation_id)
        return self.get_operation(operation_id)

    def record_rollback(self, restore_id: str, rollback_id: str, status: str) -> Operation:
        """A later rollback's outcome on the restore it reverted (``rules.rolled_back``): its status,
        and ``rolled_back_by`` / ``rollbacks`` in its summary. A compare-and-set on the record as
        read: a concurrent change of the restore makes it read and try again."""
        for _ in range(5):
            row = self._get("operation", (restore_id,))
            if row is None:
                raise not_found(restore_id)
            current = operation_of(row)
            summary = rules.rolled_back(current, rollback_id, status)
            if summary is None:
                return current
            # updated_at moves with every write of the record: unchanged means status and summary are too.
            failed = self._write([Update("operation", (restore_id,), {
                "status": status, "updated_at": self._stamp(), "summary": dumps_sanitized(summary)},
                expect={"status": current.status, "updated_at": current.updated_at})])
            if failed is None:
                return self.get_operation(restore_id)
        raise JournalError(f"Operation {restore_id} kept changing; its rollback by {rollback_id} was not recorded.")

    def get_operation(self, operation_id: str) -> Operation:
        """Return the operation (``interrupted`` if its owner is gone); ``OperationNotFoundError`` if none."""
        row = self._get("operation", (operation_id,))
        if row is None:
            raise not_found(operation_id)
        return self._reconcile(row)

    def list_operations(self, limit: int | None = 20, kind: str | None = None) -> list[Operation]:
        """Return up to ``limit`` operations (all if ``None``), newest first, optionally of one kind."""
        if limit is not None and limit <= 0:
            return []
        rows = self._query("operation", None, limit=limit, filter_kind=kind)
        return [self._reconcile(row) for row in rows]

    def cleanup(self, retention_days: float, now: datetime | None = None) -> int:
        """Delete finished operations older than ``retention_days`` (``rules.retained``); return how many."""
        if retention_days < 0:
            raise ValueError("retention_days must not be negative")
        try:
            cutoff = utc_timestamp(as_utc(now or self._now()) - timedelta(days=retention_days))
        except OverflowError:  # a retention reaching past year 1 keeps everything
            return 0
        removed = 0
        for op in self.list_operations(limit=None):
            def open_changes(op: Operation = op) -> bool:
                return any(rules.is_open(change["state"]) for change in self._query("change", op.id))

            if rules.retained(op, cutoff=cutoff, open_changes=open_changes):
                continue
            # The record first, on the status it was judged by: one claimed meanwhile is kept whole.
            if self._write([Delete("operation", (op.id,), {"status": op.status})]) is None:
                self._purge(op.id)
                removed += 1
        return removed

    def purge_inverses(self, retention_days: float, now: datetime | None = None) -> list[str]:
        """Purge the inverses of restores and rollbacks that ended ``retention_days`` ago or more
        (``rules.inverses_expired``): each change keeps only what the audit trail shows
        (``rules.redacted``), and the operation's summary says when (``inverses_purged_at``).
        Returns the operations purged."""
        if retention_days < 0:
            raise ValueError("retention_days must not be negative")
        moment = as_utc(now or self._now())
        try:
            cutoff = utc_timestamp(moment - timedelta(days=retention_days))
        except OverflowError:  # a window reaching past year 1 keeps everything
            return []
        done = []
        for op in self.list_operations(limit=None):
            if not rules.inverses_expired(op, cutoff=cutoff):
                continue
            for change in self._query("change", op.id):
                forward = json.loads(change.get("forward") or "null")
                if isinstance(forward, dict) and forward.get("purged") and change.get("inverse") is None:
                    continue  # a pass that stopped half-way already did this one
                self._write([Update("change", (op.id, change["seq"]),
                                    {"forward": dumps(rules.redacted(forward)), "inverse": None})])
            self._drop_values(op.id)
            # Last: an operation marked purged has nothing left to purge (a stopped pass runs again).
            summary = rules.purged(op, at=utc_timestamp(moment), days=retention_days)
            if self._write([Update("operation", (op.id,), {"summary": dumps_sanitized(summary)},
                                   expect={"updated_at": op.updated_at})]) is None:
                done.append(op.id)
        return done

    def _drop_values(self, operation_id: str) -> None:
        self._store(lambda: self.store.drop_values(operation_id, "change"))

    def _owned_update(self, operation_id: str, fields: dict[str, Any]) -> None:
        failed = self._write([Update("operation", (operation_id,), {**fields, "updated_at": self._stamp()},
                                     expect={"owner": self._me()[0]})])
        if failed is not None:
            self._require(operation_id)
            raise JournalError(f"Operation {operation_id} is no longer owned by this process.")

    def _reconcile(self, row: dict[str, Any]) -> Operation:
        """Persist ``rules.interrupted``: conditional on the owner and lease seen, so whoever claimed
        or renewed it meanwhile is the truth."""
        op = operation_of(row)
        ours = op.id in self._owned and op.owner == self._me()[0]
        if not rules.interrupted(op, alive=self._alive(row), ours=ours):
            return op
        try:
            self._write([Update("operation", (op.id,), {"status": INTERRUPTED, "finished_at": op.updated_at},
                                expect={"status": RUNNING, "owner": op.owner, "lease_until": row.get("lease_until"),
                                        "updated_at": op.updated_at})])
        except StateBackendError as exc:
            # Persisting is a courtesy: a reader without write access (an auditor's role) still
            # sees what every writer would conclude.
            log.debug("could not record %s as interrupted: %s", op.id, sanitize(str(exc)))
            return replace(op, status=INTERRUPTED, finished_at=op.updated_at)
        latest = self._get("operation", (op.id,))
        return operation_of(latest) if latest is not None else op

    def _require(self, operation_id: str) -> None:
        if self._get("operation", (operation_id,)) is None:
            raise not_found(operation_id)

    def _own(self, operation_id: str) -> None:
        with self._lock:
            self._owned.add(operation_id)
        self._start_heartbeat()

    # -- locks ------------------------------------------------------------------------------------
    def lock_holder(self, instance_arn: str) -> LockHolder | None:
        row = self._get("lock", (instance_arn,))
        if row is None or not row.get("owner"):
            return None
        return rules.holder_of(row, alive=self._alive(row))

    def acquire_lock(self, instance_arn: str, operation_id: str) -> LockHolder | None:
        """Take the instance's lock for ``operation_id``; return the stale holder taken over, if any.

        Raises ``LockHeldError`` (exit 6) naming a live holder (``rules.take_lock``). Re-acquiring
        a lock this process already holds for the same operation is allowed.
        """
        owner, pid, started = self._me()
        row = self._get("lock", (instance_arn,))
        stale = rules.take_lock(row, me=owner, operation_id=operation_id,
                                alive=row is not None and self._alive(row))
        record = {"instance_arn": instance_arn, "operation_id": operation_id, "owner": owner, "pid": pid,
                  "pid_started": started, "host": socket.gethostname(), "acquired_at": self._stamp(),
                  "lease_until": self._lease_end()}
        action: Action = (Put("lock", record, if_absent=True) if row is None else Update(
            "lock", (instance_arn,), {k: v for k, v in record.items() if k != "instance_arn"},
            expect={"owner": row.get("owner") or None, "lease_until": row.get("lease_until")}))
        sent = self._local_now()
        if self._write([action], fence=False) is not None:
            latest = self.lock_holder(instance_arn)  # someone else took it between our read and write
            if latest is None:
                raise JournalError(f"The lock of {instance_arn} changed while taking it; run again.")
            raise rules.held(latest)
        with self._lock:
            self._held, self._lost = (instance_arn, operation_id), None
        self.store.set_fence(rules.fence(instance_arn, operation_id, owner))
        self._mark_valid(sent)
        self._start_heartbeat()
        return stale

    def wait_for_lock(self, instance_arn: str, operation_id: str, *, timeout: float,
                      sleep: Callable[[float], None], poll: float = 0.5) -> LockHolder | None:
        """``acquire_lock``, retrying for up to ``timeout`` seconds (``sleep`` may raise to stop)."""
        return rules.wait(lambda: self.acquire_lock(instance_arn, operation_id), timeout, sleep, poll)

    def wait_until_free(self, instance_arn: str, *, timeout: float, sleep: Callable[[float], None],
                        poll: float = 0.5) -> None:
        """Return once no live process holds the lock (raise ``LockHeldError`` after ``timeout``).

        A restore waits here before it reads the instance, so its plan is computed against the
        state the previous holder left, not the state before it.
        """
        def free() -> None:
            holder = self.lock_holder(instance_arn)
            if holder is not None and holder.alive:
                raise rules.held(holder)

        rules.wait(free, timeout, sleep, poll)

    def wait_until_stopped(self, operation_id: str, *, timeout: float, sleep: Callable[[float], None],
                           poll: float = 0.5) -> Operation:
        """Return the operation once it no longer runs (raise ``LockHeldError`` naming its runner,
        host, pid and lease end after ``timeout``): a rollback waits here for its restore."""
        def stopped() -> Operation:
            op = self.get_operation(operation_id)
            if op.status == RUNNING:
                raise rules.held(rules.runner_of(op))
            return op

        return rules.wait(stopped, timeout, sleep, poll)

    def release_lock(self, instance_arn: str, operation_id: str) -> None:
        """Release the lock if this process holds it for ``operation_id`` (idempotent)."""
        with self._lock:
            if self._held == (instance_arn, operation_id):
                self._held, self._valid_until = None, None
                self.store.set_fence(None)
        self._write([Delete("lock", (instance_arn,), {"owner": self._me()[0], "operation_id": operation_id})],
                    fence=False)

    # -- checkpoints ------------------------------------------------------------------------------
    def save_checkpoint(self, operation_id: str, step: str, data: Any, sealer: Sealer | None = None) -> None:
        """Store (or replace) the data of a finished step; committed before returning.

        Checkpoint data is a copy of the instance; while an encrypted backup is unfinished it is
        sealed with that backup's data key, so a killed ``--kms-key`` backup leaves no readable copy.
        """
        text = dumps(data)
        if sealer is not None:
            text = base64.b64encode(sealer.seal(text.encode(), _context(operation_id, step))).decode()
        record = {"operation_id": operation_id, "step": step, "data": text, "sealed": bool(sealer),
                  "created_at": self._stamp()}
        # A checkpoint is proof of life for report readers: the operation's updated_at moves.
        if self._write([Put("checkpoint", record), self._touch(operation_id)]) is not None:
            raise JournalError(f"No operation {operation_id} in the journal.")

    def checkpoints(self, operation_id: str, sealer: Sealer | None = None) -> dict[str, Any]:
        """Return ``{step: data}`` for every checkpoint of the operation, oldest first."""
        result = {}
        for row in self._query("checkpoint", operation_id):
            text = row.get("data") or "null"
            if row.get("sealed"):
                if sealer is None:
                    raise JournalError(f"The checkpoints of {operation_id} are encrypted and no key was given.")
                text = sealer.open(base64.b64decode(text), _context(operation_id, row["step"])).decode()
            result[row["step"]] = json.loads(text)
        return result

    def clear_checkpoints(self, operation_id: str) -> None:
        """Delete every checkpoint of the operation."""
        self._purge(operation_id, "checkpoint")

    # -- changes ----------------------------------------------------------------------------------
    def record_intent(self, operation_id: str, kind: str, forward: Any, inverse: Any, *,
                      address: str | None = None, seq: int | None = None) -> int:
        """Journal a change as INTENT before it is applied; return its sequence number.

        ``seq`` defaults to the next free number of the operation. Recording the same ``seq``
        twice raises ``JournalError``: a resumed restore must read ``changes()`` first.
        """
        for _ in range(5):
            number = seq if seq is not None else self._next_seq(operation_id)
            now = self._stamp()
            record = {"operation_id": operation_id, "seq": number, "kind": kind, "address": address,
                      "state": ChangeState.INTENT.value, "created_at": now, "updated_at": now,
                      "forward": dumps(forward), "inverse": dumps(inverse), "caller": self._caller}
            failed = self._write([Put("change", record, if_absent=True), Check("operation", (operation_id,))])
            if failed == 1:
                raise JournalError(f"No operation {operation_id} in the journal.")
            if failed is None:
                return number
            if seq is not None:
                raise JournalError(f"Change #{seq} of operation {operation_id} is already journaled.")
            with self._lock:  # another handle wrote changes of this operation: count again
                self._seq.pop(operation_id, None)
        raise JournalError(f"Operation {operation_id} kept gaining changes; change not journaled.")

    def _next_seq(self, operation_id: str) -> int:
        with self._lock:
            if operation_id not in self._seq:
                self._seq[operation_id] = max((int(c["seq"]) for c in self._query("change", operation_id)), default=0)
            self._seq[operation_id] += 1
            return self._seq[operation_id]

    def mark_change(self, operation_id: str, seq: int, state: ChangeState | str, *, request_id: str | None = None,
                    detail: str | None = None, error: dict[str, Any] | None = None,
                    calls: list[dict[str, Any]] | None = None, wait: bool = True) -> None:
        """Move a journaled change to ``state`` (along ``TRANSITIONS``); outcome details are sanitised.

        APPLIED and FAILED are also kept as the change's ``outcome`` with ``settled_at`` (a later
        COMPENSATED keeps them); ``calls`` are the writes its call sent, with their AWS request ids.
        ``wait=False`` (an outcome the caller need not wait for): the store may commit it with the
        next writes; if the process dies first, the change stays an intent and is settled from
        live state.
        """
        target = ChangeState(state)
        now = self._stamp()
        sets: dict[str, Any] = {"state": target.value, "updated_at": now}
        if target in (ChangeState.APPLIED, ChangeState.FAILED):
            sets.update(outcome=target.value, settled_at=now)
        for name, value in (("request_id", request_id), ("detail", None if detail is None else sanitize(detail)),
                            ("error", None if error is None else dumps_sanitized(error)),
                            ("calls", None if calls is None else dumps_sanitized(calls))):
            if value is not None:
                sets[name] = value
        failed = self._write([Update("change", (operation_id, seq), sets,
                                     expect={"state": rules.transition_sources(target)})], wait=wait)
        if failed is not None:
            row = self._get("change", (operation_id, seq))
            if row is None:
                raise JournalError(f"Operation {operation_id} has no journaled change #{seq}.")
            raise ChangeTransitionError(
                f"Change #{seq} of {operation_id} cannot move from {row['state']} to {target.value}.")

    def record_request(self, operation_id: str, seq: int, request_id: str, *,
                       calls: list[dict[str, Any]] | None = None) -> None:
        """Keep the id of an asynchronous request the change started (it stays INTENT until settled),
        and the writes that started it (``calls``, as for ``mark_change``).

        With it, a process that dies while the request runs leaves enough for the next one to
        ask the service how the request ended instead of guessing. A process that dies between
        the call and this write leaves an intent without the id: the next command waits until no
        request of that kind is running (``compensation.settle_requests``).
        """
        sets: dict[str, Any] = {"request_id": request_id, "updated_at": self._stamp()}
        if calls is not None:
            sets["calls"] = dumps_sanitized(calls)
        failed = self._write([Update("change", (operation_id, seq), sets,
                                     expect={"state": ChangeState.INTENT.value})])
        if failed is not None:
            raise ChangeTransitionError(f"Change #{seq} of {operation_id} is not an open intent.")

    def changes(self, operation_id: str) -> list[ChangeRecord]:
        """Return the operation's journaled changes in sequence order."""
        return [change_of(row) for row in self._query("change", operation_id)]

    # -- errors -----------------------------------------------------------------------------------
    def record_error(self, operation_id: str, error: Any, step: str | None = None) -> None:
        """Store an analysed error (anything with the ErrorInfo attributes) for the operation.

        Its number is the next of the operation's, taken in the same transaction that writes it.
        """
        remediation = [sanitize(str(item)) for item in (getattr(error, "remediation", None) or [])]
        for _ in range(5):
            number = max((int(row["id"]) for row in self._query("error", operation_id)), default=0) + 1
            record = {"operation_id": operation_id, "id": number, "step": step,
                      "category": plain(getattr(error, "category", None)),
                      "severity": plain(getattr(error, "severity", None)), "code": plain(getattr(error, "code", None)),
                      "message": sanitize(str(getattr(error, "message", "") or ""))[:32_000],
                      "recoverable": bool(getattr(error, "recoverable", False)), "remediation": dumps(remediation),
                      "created_at": self._stamp()}
            failed = self._write([Put("error", record, if_absent=True), Check("operation", (operation_id,))])
            if failed is None:
                return
            if failed == 1:
                raise not_found(operation_id)
        raise JournalError(f"Operation {operation_id} kept gaining errors; error not recorded.")

    def errors(self, operation_id: str) -> list[dict[str, Any]]:
        """Return the operation's errors in the order they were recorded."""
        return [error_of(row) for row in self._query("error", operation_id)]

    # -- copying a journal into another (`awsideman state migrate`) -----------------------------
    def has_operation(self, operation_id: str) -> bool:
        return self._get("operation", (operation_id,)) is not None

    def export_operation(self, operation_id: str) -> list[tuple[str, dict[str, Any]]]:
        """The operation's records as stored (sealed checkpoints stay sealed), its own record last."""
        found = [(kind, row) for kind in ("change", "checkpoint", "error") for row in self._query(kind, operation_id)]
        op = self._get("operation", (operation_id,))
        if op is None:
            raise not_found(operation_id)
        return [*found, ("operation", op)]

    def import_operation(self, records: list[tuple[str, dict[str, Any]]]) -> int:
        """Write an exported operation: its children first, its own record last and only if absent,
        so a copy that was interrupted is simply run again."""
        *children, (kind, op) = records
        size = self.store.max_actions
        for start in range(0, len(children), size):
            self._write([Put(k, row) for k, row in children[start:start + size]])
        if self._write([Put(kind, {**op, "lease_until": None}, if_absent=True)]) is not None:
            raise JournalError(f"Operation {op['id']} appeared in {self.path} while it was being copied.")
        return len(records)

    # -- leases and the fence ---------------------------------------------------------------------
    def ensure_lease(self) -> None:
        """Raise ``LeaseLostError`` if this process held a lock whose lease it can no longer vouch for."""
        with self._lock:
            held, lost, valid_until = self._held, self._lost, self._valid_until
        if held is None:
            return
        now = self._local_now()
        if lost is None and valid_until is not None and now is not None and now > valid_until:
            lost = (f"its lease ran out ({self.liveness.lease_seconds:g} s) before it could be renewed: "
                    "this process was paused or cut off from the shared state")
            with self._lock:
                self._lost = lost
        if lost is not None:
            raise self._lost_error(held[1], lost)

    def renew(self) -> None:
        """Extend the leases of our running operations and of our lock (the heartbeat calls this)."""
        with self._lock:
            owned, held = sorted(self._owned), self._held
        me = self._me()[0]
        for operation_id in owned:
            failed = self._write([Update("operation", (operation_id,), {
                "lease_until": self._lease_end(), "updated_at": self._stamp()},
                expect={"owner": me, "status": RUNNING})], fence=False)
            if failed is not None:
                with self._lock:
                    self._owned.discard(operation_id)
        if held is None:
            return
        sent = self._local_now()
        if self._write([Update("lock", (held[0],), {"lease_until": self._lease_end()},
                               expect={"owner": me, "operation_id": held[1]})], fence=False) is not None:
            why = "another runner took the instance's lock over after the lease expired"
            with self._lock:
                self._lost = why
            raise self._lost_error(held[1], why)
        self._mark_valid(sent)

    def _start_heartbeat(self) -> None:
        if self.liveness.lease_seconds is None:
            return
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._beat, name="awsideman-lease", daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        assert self.liveness.lease_seconds is not None
        while not self._stop.wait(self.liveness.lease_seconds / 3):
            try:
                self.renew()
            except LeaseLostError:
                return
            except Exception as exc:  # the next beat tries again; ensure_lease stops the run in time
                log.warning("could not renew the lease: %s", sanitize(str(exc)))

    def _mark_valid(self, sent_at: float | None) -> None:
        seconds = self.liveness.lease_seconds
        if seconds is None or sent_at is None:
            return
        margin = min(5.0, seconds * 0.2)
        with self._lock:
            self._valid_until = sent_at + seconds - margin

    def _lost_error(self, operation_id: str, why: str) -> LeaseLostError:
        error = LeaseLostError(
            f"Operation {operation_id} lost its lease on the shared state: {why}. Another runner may own the "
            "instance now; this one stops and writes nothing more.",
            # The error table's rule adds where to see what the new holder did.
            remediation=["Run again only once `awsideman report list` shows no other restore or rollback running."])
        error.operation_id = operation_id  # type: ignore[attr-defined]
        return error

    # -- the store, time and identity -------------------------------------------------------------
    def _write(self, actions: list[Action], *, wait: bool = True, fence: bool = True) -> int | None:
        if self._closed:
            raise JournalError(f"The journal {self.path} is closed.")
        if fence:
            self.ensure_lease()
        return self._store(lambda: self.store.write(actions, wait=wait, fence=fence))

    def _get(self, kind: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        return self._store(lambda: self.store.get(kind, key))

    def _query(self, kind: str, operation_id: str | None, *, limit: int | None = None,
               filter_kind: str | None = None) -> list[dict[str, Any]]:
        return self._store(lambda: self.store.query(kind, operation_id, limit=limit, filter_kind=filter_kind))

    def _purge(self, operation_id: str, kind: str | None = None) -> None:
        self._store(lambda: self.store.purge(operation_id, kind))

    def _store(self, call: Callable[[], T]) -> T:
        """A store call; a failed fence (now or, for a deferred write, earlier) is a lost lease."""
        try:
            return call()
        except FenceLost as exc:
            why = "another runner took the instance's lock over after this one's lease expired"
            with self._lock:
                self._lost = why
                held = self._held
            raise self._lost_error(held[1] if held else str(exc), why) from exc

    def _touch(self, operation_id: str) -> Update:
        """The operation exists, and its ``updated_at`` moves (a write is proof of life for readers)."""
        return Update("operation", (operation_id,), {"updated_at": self._stamp()})

    def _alive(self, row: dict[str, Any]) -> bool:
        return self.liveness.alive(row, self._epoch())

    def _lease_end(self) -> int | None:
        return self.liveness.lease_end(self._epoch())

    def _me(self) -> tuple[str, int, str | None]:
        return self._identity or this_process()

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def _stamp(self) -> str:
        return utc_timestamp(self._now())

    def _epoch(self) -> float:
        return self._now().timestamp()

    def _local_now(self) -> float | None:
        return self._local() if self._local is not None else None


def _context(operation_id: str, step: str) -> str:
    # Bound into the ciphertext: a sealed checkpoint cannot be moved to another step or operation.
    return f"{operation_id}\n{step}"

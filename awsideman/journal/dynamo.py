"""The journal in DynamoDB (large values in S3): many runners, one truth.

Same interface and the same guarantees as the SQLite journal (``Journal``), for runners on
different machines. The table layout is in ``dynamo_items``. What differs:

- **Liveness is a lease.** A running operation and an instance lock carry ``lease_until``
  (epoch seconds) that the holder's heartbeat thread renews every third of the lease. Another
  machine cannot see our pids, so an operation or lock is alive while its lease has not expired,
  and a stale one is taken over only after that.
- **Fencing.** Every write of a process that holds an instance lock is one transaction that
  also checks the lock still names this process (its owner token); a holder that was paused
  or cut off past its lease finds every write refused (``LeaseLostError``) and stops. It also
  stops by itself once its own clock says the lease has run out (``ensure_lease``, checked
  before every API attempt), so it does not change the instance after someone took over.
- **Every write is conditional** (a compare-and-set on the state it read) and carries a client
  request token, so a retried transaction is applied at most once.

Calls go through the AWS gateway (its retry policy and rate limiter, with a ``dynamodb``
bucket) of their own, without the run's stop signal: a Ctrl-C must still let the journal
record that the run was interrupted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from awsideman.adapters.aws import client_error_code
from awsideman.core.errors import is_expected
from awsideman.core.exceptions import (
    JournalError,
    LeaseLostError,
    OperationBusyError,
    StateBackendError,
)
from awsideman.core.ids import new_operation_id, validate_operation_id
from awsideman.core.sanitize import sanitize
from awsideman.journal import dynamo_items as items
from awsideman.journal.blobs import BlobStore
from awsideman.journal.changes import TRANSITIONS, ChangeRecord, ChangeState, ChangeTransitionError
from awsideman.journal.checkpoints import Sealer, _context
from awsideman.journal.db import as_utc, utc_timestamp
from awsideman.journal.liveness import this_process
from awsideman.journal.locks import LockHolder, LockWaits, _held
from awsideman.journal.operations import OperationStateError, not_found
from awsideman.journal.records import (
    FINISHED_STATUSES,
    INTERRUPTED,
    KINDS,
    RUNNING,
    UNSETTLED_STATUSES,
    Operation,
    dumps,
    dumps_sanitized,
    loads,
    plain,
)

log = logging.getLogger("awsideman.journal")

DEFAULT_LEASE_SECONDS = 60.0
CONDITION_FAILED = "ConditionalCheckFailedException"
CANCELLED = "TransactionCanceledException"
# Answers the journal acts on itself; any other failure (after the retry policy) means the backend is lost.
ANSWERS = frozenset({CONDITION_FAILED, CANCELLED})


def local_clock() -> float:
    """Seconds on a clock that keeps counting while the machine sleeps (a closed laptop)."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


class DynamoJournal(LockWaits):
    """The journal of one DynamoDB table (see the module docstring). Use ``DynamoJournal.open``."""

    def __init__(self, gateway: Any, table: str, blobs: BlobStore, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 clock: Callable[[], datetime] | None = None, local: Callable[[], float] = local_clock,
                 identity: tuple[str, int, str | None] | None = None) -> None:
        self.gateway = gateway
        self.table = table
        self.blobs = blobs
        self.path = f"dynamodb://{table}"  # where the journal is, for messages (like the SQLite file's path)
        self.lease_seconds = float(lease_seconds)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._local = local
        self._lock = threading.RLock()
        # Writes waiting for the thread that commits them (see ``_lead``).
        self._queue: list[_Pending] = []
        self._leading = False
        self._owned: set[str] = set()  # running operations this process owns (their leases are renewed)
        self._held: tuple[str, str] | None = None  # (instance arn, operation id) of the lock we hold
        self._valid_until: float | None = None  # local clock: our lock's lease, with a safety margin
        self._lost: str | None = None
        self._seq: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        # (owner token, pid, start time) this journal writes as; tests play two machines in one process.
        self._identity = identity

    def _me(self) -> tuple[str, int, str | None]:
        return self._identity or this_process()

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, gateway: Any, table: str, blobs: BlobStore, **kwargs: Any) -> DynamoJournal:
        """Open the journal in ``table``; it must have been created by ``awsideman state init``."""
        journal = cls(gateway, table, blobs, **kwargs)
        journal.check_schema()
        return journal

    def check_schema(self) -> None:
        try:
            meta = self._call("GetItem", Key=items.META_KEY, ConsistentRead=True).get("Item")
        except StateBackendError as exc:
            if client_error_code(exc.__cause__ or exc) == "ResourceNotFoundException":
                raise JournalError(f"The state table {self.table} does not exist.", remediation=[
                    f"Create it once: awsideman --state dynamodb://{self.table} state init"]) from exc
            raise
        if meta is None:
            raise JournalError(f"The table {self.table} is not an awsideman state table (no schema item).",
                               remediation=[f"Run `awsideman --state dynamodb://{self.table} state init` "
                                            "if it is new and empty, or name another table."])
        version = int(items.decode(meta).get("version", 0))
        if version > items.SCHEMA_VERSION:
            raise JournalError(
                f"The state table {self.table} was written by a newer awsideman (schema {version}; this one "
                f"supports up to {items.SCHEMA_VERSION}).", remediation=["Upgrade awsideman on this machine."])

    def close(self) -> None:
        """Stop renewing leases (they expire by themselves); safe to call twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._closed = True

    def __enter__(self) -> DynamoJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- time -----------------------------------------------------------------------------------
    def _now(self) -> datetime:
        return as_utc(self._clock())

    def _stamp(self) -> str:
        return utc_timestamp(self._now())

    def _epoch(self) -> float:
        return self._now().timestamp()

    def _lease_end(self) -> int:
        return int(self._epoch() + self.lease_seconds) + 1

    def _alive(self, owner: str | None, lease_until: Any) -> bool:
        # Only the lease counts, even for our own token: what this journal holds it keeps renewing
        # (callers check that first), and an operation it could not finish (the backend failed)
        # is left to expire like anyone's.
        return bool(owner) and lease_until is not None and float(lease_until) > self._epoch()

    # -- the lease ------------------------------------------------------------------------------
    def ensure_lease(self) -> None:
        """Raise ``LeaseLostError`` if this process held a lock whose lease it can no longer vouch for."""
        with self._lock:
            held, lost, valid_until = self._held, self._lost, self._valid_until
        if held is None:
            return
        if lost is None and valid_until is not None and self._local() > valid_until:
            lost = (f"its lease ran out ({self.lease_seconds:g} s) before it could be renewed: "
                    "this process was paused or cut off from DynamoDB")
            with self._lock:
                self._lost = lost
        if lost is not None:
            raise self._lost_error(held[1], lost)

    def _lost_error(self, operation_id: str, why: str) -> LeaseLostError:
        error = LeaseLostError(
            f"Operation {operation_id} lost its lease on the shared state: {why}. Another runner may own the "
            "instance now; this one stops and writes nothing more.",
            remediation=[f"See what happened: awsideman report show {operation_id}",
                         "Run again only once `awsideman report list` shows no other restore or rollback running."])
        error.operation_id = operation_id  # type: ignore[attr-defined]
        return error

    def _mark_valid(self, sent_at: float) -> None:
        margin = min(5.0, self.lease_seconds * 0.2)
        with self._lock:
            self._valid_until = sent_at + self.lease_seconds - margin

    def _start_heartbeat(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._beat, name="awsideman-lease", daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                self.renew()
            except LeaseLostError:
                return
            except Exception as exc:  # the next beat tries again; ensure_lease stops the run in time
                log.warning("could not renew the lease: %s", sanitize(str(exc)))

    def renew(self) -> None:
        """Extend the leases of our running operations and of our lock (the heartbeat calls this)."""
        with self._lock:
            owned, held = sorted(self._owned), self._held
        me = self._me()[0]
        until = self._lease_end()
        for operation_id in owned:
            try:
                self._call("UpdateItem", Key=items.operation_key(operation_id),
                           UpdateExpression="SET lease_until = :u, updated_at = :t",
                           ConditionExpression="#o = :me AND #s = :running",
                           ExpressionAttributeNames={"#o": "owner", "#s": "status"},
                           ExpressionAttributeValues=items.encode_all(
                               {":u": until, ":t": self._stamp(), ":me": me, ":running": RUNNING}))
            except Exception as exc:
                if client_error_code(exc) != CONDITION_FAILED:
                    raise
                with self._lock:
                    self._owned.discard(operation_id)
        if held is None:
            return
        sent = self._local()
        try:
            self._call("UpdateItem", Key=items.lock_key(held[0]), UpdateExpression="SET lease_until = :u",
                       ConditionExpression="#o = :me AND operation_id = :op",
                       ExpressionAttributeNames={"#o": "owner"},
                       ExpressionAttributeValues=items.encode_all({":u": until, ":me": me, ":op": held[1]}))
        except Exception as exc:
            if client_error_code(exc) != CONDITION_FAILED:
                raise
            why = "another runner took the instance's lock over after the lease expired"
            with self._lock:
                self._lost = why
            raise self._lost_error(held[1], why) from exc
        self._mark_valid(sent)

    # -- low level --------------------------------------------------------------------------------
    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        if self._closed:
            raise JournalError(f"The journal {self.path} is closed.")
        with self._backend(operation):
            return self.gateway.call("dynamodb", operation, TableName=self.table, **params)

    @contextlib.contextmanager
    def _backend(self, operation: str) -> Iterator[None]:
        """Failures the retry policy could not fix, as ``StateBackendError`` naming the table."""
        try:
            yield
        except JournalError:
            raise
        except Exception as exc:
            code = client_error_code(exc)
            if code in ANSWERS or not is_expected(exc):
                raise
            raise StateBackendError(
                f"The shared state {self.path} failed ({operation}: {code or type(exc).__name__}: "
                f"{sanitize(str(exc))[:300]}).") from exc

    def _call_untabled(self, operation: str, **params: Any) -> dict[str, Any]:
        """Calls that name the table inside their items (transactions, batches)."""
        if self._closed:
            raise JournalError(f"The journal {self.path} is closed.")
        with self._backend(operation):
            return self.gateway.call("dynamodb", operation, **params)

    def _fence(self) -> list[dict[str, Any]]:
        """The condition every write of a lock holder carries: the lock still names this process."""
        with self._lock:
            held = self._held
        if held is None:
            return []
        self.ensure_lease()
        return [{"ConditionCheck": {
            "TableName": self.table, "Key": items.lock_key(held[0]),
            "ConditionExpression": "#o = :me AND operation_id = :op",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": items.encode_all({":me": self._me()[0], ":op": held[1]})}}]

    def _transact(self, actions: list[dict[str, Any]]) -> int | None:
        """Write ``actions`` (plus the fence) atomically.

        Returns None when they were applied, else the index of the action whose condition
        failed. A failed fence raises ``LeaseLostError``. Writes of concurrent threads are
        committed together (group commit, see ``_lead``).
        """
        entry = _Pending(actions)
        with self._lock:
            self._queue.append(entry)
            lead = not self._leading
            self._leading = True
        if lead:
            self._lead()
        entry.done.wait()
        if entry.error is not None:
            raise entry.error
        return entry.failed

    def _lead(self) -> None:
        """Commit what the threads queued, as few transactions as possible, until nothing is queued.

        A lock holder's writes all check the lock item, and DynamoDB refuses concurrent
        transactions on one item, so one thread at a time commits, and it takes everything queued
        meanwhile into one transaction (up to 99 actions and ~3.5 MB, never two on one item).
        """
        while True:
            with self._lock:
                batch: list[_Pending] = []
                rest: list[_Pending] = []
                keys: set[str] = set()
                count = size = 0
                for entry in self._queue:
                    full = bool(batch) and (count + len(entry.actions) > 99 or size + entry.size > 3_500_000)
                    if full or entry.keys & keys:
                        rest.append(entry)
                        continue
                    batch.append(entry)
                    keys |= entry.keys
                    count, size = count + len(entry.actions), size + entry.size
                self._queue = rest
                if not batch:
                    self._leading = False
                    return
            retry = self._commit(batch)
            with self._lock:
                self._queue[:0] = retry

    def _commit(self, batch: list[_Pending]) -> list[_Pending]:
        """One transaction for ``batch``; every entry is answered, or returned to be tried again."""
        try:
            fence = self._fence()
            request = [{verb: {"TableName": self.table, **body}}
                       for entry in batch for action in entry.actions for verb, body in action.items()]
            self._call_untabled("TransactWriteItems", TransactItems=request + fence,
                                ClientRequestToken=uuid.uuid4().hex)
        except Exception as exc:
            return self._cancelled(batch, exc)
        for entry in batch:
            entry.done.set()
        return []

    def _cancelled(self, batch: list[_Pending], exc: Exception) -> list[_Pending]:
        reasons = [str(r.get("Code")) for r in getattr(exc, "response", {}).get("CancellationReasons") or []]
        count = sum(len(entry.actions) for entry in batch)
        error: BaseException = exc
        if client_error_code(exc) == CANCELLED and len(reasons) > count and reasons[count] == "ConditionalCheckFailed":
            held = self._held
            why = "another runner took the instance's lock over after this one's lease expired"
            with self._lock:
                self._lost = why
            error = self._lost_error(held[1] if held else "?", why)
            error.__cause__ = exc
        elif client_error_code(exc) == CANCELLED and len(reasons) >= count:
            retry, offset = [], 0
            for entry in batch:
                mine = reasons[offset:offset + len(entry.actions)]
                offset += len(entry.actions)
                if "ConditionalCheckFailed" in mine:
                    entry.failed = mine.index("ConditionalCheckFailed")
                    entry.done.set()
                elif any(code not in ("None", "") for code in mine):
                    entry.error = exc
                    entry.done.set()
                else:  # cancelled only because another entry's condition failed
                    retry.append(entry)
            return retry
        for entry in batch:
            entry.error = error
            entry.done.set()
        return []

    def _query(self, pk: str, prefix: str, *, newest_first: bool = False, limit: int | None = None,
               keys_only: bool = False) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)" if prefix else "pk = :pk",
            "ExpressionAttributeValues": items.encode_all({":pk": pk, ":prefix": prefix or None}),
            "ConsistentRead": True, "ScanIndexForward": not newest_first}
        if keys_only:
            params["ProjectionExpression"] = "pk, sk"
        if limit is not None:
            params["Limit"] = limit
        while True:
            page = self._call("Query", **params)
            yield from page.get("Items", [])
            if not page.get("LastEvaluatedKey"):
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete_keys(self, keys: list[dict[str, Any]]) -> None:
        self._batch([{"DeleteRequest": {"Key": {"pk": k["pk"], "sk": k["sk"]}}} for k in keys])

    def _batch(self, writes: list[dict[str, Any]]) -> None:
        """Unconditional puts/deletes, 25 per request (BatchWriteItem's limit), until none is left unprocessed."""
        for start in range(0, len(writes), 25):
            requests = writes[start:start + 25]
            for _ in range(10):
                left = self._call_untabled("BatchWriteItem", RequestItems={self.table: requests})
                requests = (left.get("UnprocessedItems") or {}).get(self.table) or []
                if not requests:
                    break
                time.sleep(0.2)
            if requests:
                raise JournalError(f"Could not delete {len(requests)} items of {self.path}; run again later.")

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self._call("GetItem", Key=key, ConsistentRead=True).get("Item")
        return None if item is None else items.decode(item)

    def _exists(self, operation_id: str) -> dict[str, Any]:
        return {"ConditionCheck": {"Key": items.operation_key(operation_id),
                                   "ConditionExpression": "attribute_exists(pk)"}}

    def _touch(self, operation_id: str) -> dict[str, Any]:
        """The operation exists, and its ``updated_at`` moves (a write is proof of life for readers)."""
        return {"Update": {"Key": items.operation_key(operation_id), "UpdateExpression": "SET updated_at = :t",
                           "ConditionExpression": "attribute_exists(pk)",
                           "ExpressionAttributeValues": items.encode_all({":t": self._stamp()})}}

    def _store_text(self, name: str, text: str) -> dict[str, Any]:
        """Inline when small, else an S3 reference (``{"blob": {...}}`` as JSON)."""
        if len(text.encode()) <= items.INLINE_LIMIT:
            return {"text": text}
        return {"blob": json.dumps(self.blobs.put(name, text.encode()))}

    def _load_text(self, item: dict[str, Any], field: str) -> str | None:
        if f"{field}_blob" in item:
            return self.blobs.get(json.loads(item[f"{field}_blob"])).decode()
        value = item.get(field)
        return None if value is None else str(value)

    def _stored(self, operation_id: str, field: str, name: str, text: str | None) -> dict[str, Any]:
        if text is None:
            return {}
        stored = self._store_text(f"{self.table}/{operation_id}/{name}", text)
        return {field: stored["text"]} if "text" in stored else {f"{field}_blob": stored["blob"]}

    # -- operations -------------------------------------------------------------------------------
    def start_operation(self, kind: str, params: dict[str, Any], instance_arn: str | None = None,
                        operation_id: str | None = None, *, backup_id: str | None = None,
                        sealing: dict[str, Any] | None = None) -> Operation:
        """Record a new ``running`` operation owned by this process and return it."""
        if kind not in KINDS:
            raise ValueError(f"unknown operation kind {kind!r}; expected one of {', '.join(KINDS)}")
        op_id = validate_operation_id(operation_id) if operation_id else new_operation_id(self._now())
        owner, pid, started = self._me()
        now = self._stamp()
        item = {**items.operation_key(op_id), **items.encode_all({
            "id": op_id, "kind": kind, "status": RUNNING, "params": dumps_sanitized(params or {}),
            "backup_id": backup_id, "instance_arn": instance_arn, "started_at": now, "updated_at": now,
            "pid": pid, "host": socket.gethostname(), "owner": owner, "pid_started": started,
            "sealing": None if sealing is None else dumps(sealing), "lease_until": self._lease_end(),
            "created_ns": time.time_ns()})}
        failed = self._transact([{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}])
        if failed is not None:
            raise JournalError(f"Operation {op_id} already exists in the journal {self.path}.")
        self._own(op_id)
        return self.get_operation(op_id)

    def _own(self, operation_id: str) -> None:
        with self._lock:
            self._owned.add(operation_id)
        self._start_heartbeat()

    def claim_operation(self, operation_id: str, *, claimable: Iterable[str]) -> Operation:
        """Make this process the owner of an operation whose status is in ``claimable`` (compare-and-set)."""
        allowed = set(claimable)
        owner, pid, started = self._me()
        row = self._get(items.operation_key(operation_id))
        if row is None:
            raise not_found(operation_id)
        current = _operation(row)
        theirs = current.owner != owner and self._alive(current.owner, row.get("lease_until"))
        if current.status == RUNNING and theirs:
            raise _busy(current, row)
        ours = current.status == RUNNING and current.owner == owner
        status = INTERRUPTED if current.status == RUNNING else current.status
        if status not in allowed and not ours:
            raise OperationStateError(current, status)
        failed = self._transact([{"Update": {
            "Key": items.operation_key(operation_id),
            "UpdateExpression": "SET #s = :running, updated_at = :t, pid = :pid, #o = :me, pid_started = :ps,"
                                " host = :host, lease_until = :u REMOVE finished_at",
            "ConditionExpression": "#s = :was AND #o = :prev",
            "ExpressionAttributeNames": {"#s": "status", "#o": "owner"},
            "ExpressionAttributeValues": items.encode_all({
                ":running": RUNNING, ":t": self._stamp(), ":pid": pid, ":me": owner, ":ps": started or "",
                ":host": socket.gethostname(), ":u": self._lease_end(), ":was": current.status,
                ":prev": current.owner or ""})}}])
        if failed is not None:  # someone claimed it between our read and our write
            latest = self._get(items.operation_key(operation_id)) or row
            raise _busy(_operation(latest), latest)
        self._own(operation_id)
        return self.get_operation(operation_id)

    def record_backup_id(self, operation_id: str, backup_id: str) -> None:
        """Name the backup this operation is about to write, before the store write starts."""
        self._owned_update(operation_id, "backup_id = :b", {":b": backup_id})

    def _owned_update(self, operation_id: str, assignment: str, values: dict[str, Any]) -> None:
        failed = self._transact([{"Update": {
            "Key": items.operation_key(operation_id), "UpdateExpression": f"SET {assignment}, updated_at = :t",
            "ConditionExpression": "#o = :me", "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": items.encode_all({**values, ":t": self._stamp(),
                                                           ":me": self._me()[0]})}}])
        if failed is not None:
            if self._get(items.operation_key(operation_id)) is None:
                raise not_found(operation_id)
            raise JournalError(f"Operation {operation_id} is no longer owned by this process.")

    def finish_operation(self, operation_id: str, status: str, *, backup_id: str | None = None,
                         summary: dict[str, Any] | None = None, clear_checkpoints: bool = False) -> Operation:
        """Record the final ``status`` (and optionally backup id and summary); return the row."""
        if status not in FINISHED_STATUSES:
            raise ValueError(f"not a final status: {status!r}; expected one of {', '.join(FINISHED_STATUSES)}")
        now = self._stamp()
        sets = ["#s = :status", "finished_at = :t", "updated_at = :t"]
        values: dict[str, Any] = {":status": status, ":t": now}
        if backup_id is not None:
            sets.append("backup_id = :b")
            values[":b"] = backup_id
        if summary is not None:
            sets.append("summary = :sum")
            values[":sum"] = dumps_sanitized(summary)
        checkpoints = list(self._query(items.partition(operation_id), "CP#", keys_only=True)) if clear_checkpoints \
            else []
        # Only the owner records the end: a runner that lost the operation must not overwrite it.
        values[":me"] = self._me()[0]
        actions = [{"Update": {
            "Key": items.operation_key(operation_id),
            "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE lease_until",
            "ConditionExpression": "attribute_exists(pk) AND #o = :me",
            "ExpressionAttributeNames": {"#s": "status", "#o": "owner"},
            "ExpressionAttributeValues": items.encode_all(values)}}]
        actions += [{"Delete": {"Key": {"pk": cp["pk"], "sk": cp["sk"]}}} for cp in checkpoints[:90]]
        if self._transact(actions) is not None:
            if self._get(items.operation_key(operation_id)) is None:
                raise not_found(operation_id)
            raise JournalError(f"Operation {operation_id} is no longer owned by this process.")
        self._delete_keys(checkpoints[90:])
        if clear_checkpoints:
            self.blobs.delete_under(f"{self.table}/{operation_id}/checkpoints")
        with self._lock:
            self._owned.discard(operation_id)
        return self.get_operation(operation_id)

    def get_operation(self, operation_id: str) -> Operation:
        """Return the operation (``interrupted`` if its lease expired); ``OperationNotFoundError`` if none."""
        row = self._get(items.operation_key(operation_id))
        if row is None:
            raise not_found(operation_id)
        return self._reconcile(row)

    def list_operations(self, limit: int | None = 20, kind: str | None = None) -> list[Operation]:
        """Return up to ``limit`` operations (all if ``None``), newest first, optionally of one kind."""
        rows: list[dict[str, Any]] = []
        if limit is not None and limit <= 0:
            return []
        for item in self._query(items.OPS, "OP#", newest_first=True):
            row = items.decode(item)
            if kind is not None and row.get("kind") != kind:
                continue
            # Ids order operations by their second; within one second, by when they were created.
            if limit is not None and len(rows) >= limit and row["started_at"] != rows[-1]["started_at"]:
                break
            rows.append(row)
        rows.sort(key=lambda row: (row["started_at"], row.get("created_ns", 0)), reverse=True)
        return [self._reconcile(row) for row in rows[:limit]]

    def _reconcile(self, row: dict[str, Any]) -> Operation:
        """A ``running`` operation whose lease expired is ``interrupted`` (persisted, conditionally)."""
        op = _operation(row)
        if op.status != RUNNING or op.id in self._owned or self._alive(op.owner, row.get("lease_until")):
            return op
        try:
            self._call("UpdateItem", Key=items.operation_key(op.id),
                       UpdateExpression="SET #s = :interrupted, finished_at = updated_at",
                       ConditionExpression="#s = :running AND #o = :owner AND lease_until = :lease",
                       ExpressionAttributeNames={"#s": "status", "#o": "owner"},
                       ExpressionAttributeValues=items.encode_all({
                           ":interrupted": INTERRUPTED, ":running": RUNNING, ":owner": op.owner or "",
                           ":lease": row.get("lease_until") or 0}))
        except Exception as exc:
            if client_error_code(exc) != CONDITION_FAILED:
                raise
        # Conditional on the lease we saw: if someone claimed or renewed it meanwhile, theirs is the truth.
        latest = self._get(items.operation_key(op.id))
        return _operation(latest) if latest is not None else op

    def cleanup(self, retention_days: float, now: datetime | None = None) -> int:
        """Delete finished operations older than ``retention_days`` (never one a rollback still needs)."""
        if retention_days < 0:
            raise ValueError("retention_days must not be negative")
        try:
            cutoff = utc_timestamp(as_utc(now or self._now()) - timedelta(days=retention_days))
        except OverflowError:
            return 0
        removed = 0
        for op in self.list_operations(limit=None):
            if op.status not in FINISHED_STATUSES or (op.finished_at or op.updated_at or op.started_at) >= cutoff:
                continue
            if op.status in UNSETTLED_STATUSES and any(
                    c.state in (ChangeState.INTENT, ChangeState.APPLIED) for c in self.changes(op.id)):
                continue
            self._delete_keys(list(self._query(items.partition(op.id), "", keys_only=True)))
            self._call("DeleteItem", Key=items.operation_key(op.id))
            self.blobs.delete_under(f"{self.table}/{op.id}")
            removed += 1
        return removed

    # -- locks ------------------------------------------------------------------------------------
    def lock_holder(self, instance_arn: str) -> LockHolder | None:
        row = self._get(items.lock_key(instance_arn))
        if row is None or not row.get("owner"):
            return None
        return _holder(instance_arn, row, self._alive(row.get("owner"), row.get("lease_until")))

    def acquire_lock(self, instance_arn: str, operation_id: str) -> LockHolder | None:
        """Take the instance's lease lock for ``operation_id``; return the expired holder taken over, if any."""
        owner, pid, _ = self._me()
        row = self._get(items.lock_key(instance_arn))
        stale = None
        condition, values = "attribute_not_exists(pk)", dict[str, Any]()
        if row is not None:
            mine = row.get("owner") == owner and row.get("operation_id") == operation_id
            if row.get("owner") and not mine:
                holder = _holder(instance_arn, row, self._alive(row.get("owner"), row.get("lease_until")))
                if holder.alive:
                    raise _held(holder)
                stale = holder
            condition = "#o = :prev AND lease_until = :prev_lease"
            values = {":prev": row.get("owner") or "", ":prev_lease": row.get("lease_until") or 0}
        sent = self._local()
        try:
            self._call("UpdateItem", Key=items.lock_key(instance_arn),
                       UpdateExpression="SET operation_id = :op, #o = :me, pid = :pid, host = :host,"
                                        " acquired_at = :t, lease_until = :u ADD fence :one",
                       ConditionExpression=condition, ExpressionAttributeNames={"#o": "owner"},
                       ExpressionAttributeValues=items.encode_all({
                           **values, ":op": operation_id, ":me": owner, ":pid": pid, ":host": socket.gethostname(),
                           ":t": self._stamp(), ":u": self._lease_end(), ":one": 1}))
        except Exception as exc:
            if client_error_code(exc) != CONDITION_FAILED:
                raise
            latest = self.lock_holder(instance_arn)  # someone else took it between our read and write
            if latest is None:
                raise JournalError(f"The lock of {instance_arn} changed while taking it; run again.") from exc
            raise _held(latest) from exc
        with self._lock:
            self._held, self._lost = (instance_arn, operation_id), None
        self._mark_valid(sent)
        self._start_heartbeat()
        return stale

    def release_lock(self, instance_arn: str, operation_id: str) -> None:
        """Release the lock if this process holds it for ``operation_id`` (idempotent)."""
        with self._lock:
            if self._held == (instance_arn, operation_id):
                self._held, self._valid_until = None, None
        try:
            self._call("UpdateItem", Key=items.lock_key(instance_arn),
                       UpdateExpression="SET #o = :none, lease_until = :zero",
                       ConditionExpression="#o = :me AND operation_id = :op",
                       ExpressionAttributeNames={"#o": "owner"},
                       ExpressionAttributeValues=items.encode_all({
                           ":none": "", ":zero": 0, ":me": self._me()[0], ":op": operation_id}))
        except Exception as exc:
            if client_error_code(exc) != CONDITION_FAILED:
                raise

    # -- checkpoints ------------------------------------------------------------------------------
    def save_checkpoint(self, operation_id: str, step: str, data: Any, sealer: Sealer | None = None) -> None:
        """Store (or replace) the data of a finished step; committed before returning."""
        import base64

        text = dumps(data)
        if sealer is not None:
            text = base64.b64encode(sealer.seal(text.encode(), _context(operation_id, step))).decode()
        item = {**items.checkpoint_key(operation_id, step), **items.encode_all({
            "step": step, "created_at": self._stamp(), "order": time.time_ns(), "sealed": bool(sealer),
            **self._stored(operation_id, "data", f"checkpoints/{uuid.uuid4().hex}.json", text)})}
        if self._transact([{"Put": {"Item": item}}, self._touch(operation_id)]) is not None:
            raise JournalError(f"No operation {operation_id} in the journal.")

    def checkpoints(self, operation_id: str, sealer: Sealer | None = None) -> dict[str, Any]:
        """Return ``{step: data}`` for every checkpoint of the operation, oldest first."""
        import base64

        rows = sorted((items.decode(i) for i in self._query(items.partition(operation_id), "CP#")),
                      key=lambda row: row.get("order", 0))
        result = {}
        for row in rows:
            text = self._load_text(row, "data") or "null"
            if row.get("sealed"):
                if sealer is None:
                    raise JournalError(f"The checkpoints of {operation_id} are encrypted and no key was given.")
                text = sealer.open(base64.b64decode(text), _context(operation_id, row["step"])).decode()
            result[row["step"]] = json.loads(text)
        return result

    def clear_checkpoints(self, operation_id: str) -> None:
        """Delete every checkpoint of the operation."""
        self._delete_keys(list(self._query(items.partition(operation_id), "CP#", keys_only=True)))
        self.blobs.delete_under(f"{self.table}/{operation_id}/checkpoints")

    # -- changes ----------------------------------------------------------------------------------
    def record_intent(self, operation_id: str, kind: str, forward: Any, inverse: Any, *,
                      address: str | None = None, seq: int | None = None) -> int:
        """Journal a change as INTENT before it is applied; return its sequence number."""
        with self._lock:
            if seq is None:
                if operation_id not in self._seq:
                    last = next(self._query(items.partition(operation_id), "CH#", newest_first=True, limit=1), None)
                    self._seq[operation_id] = int(items.decode(last)["seq"]) if last else 0
                seq = self._seq[operation_id] + 1
            self._seq[operation_id] = max(self._seq.get(operation_id, 0), seq)
        now = self._stamp()
        item = self._change_item(operation_id, seq, kind=kind, address=address, state=ChangeState.INTENT.value,
                                 created_at=now, updated_at=now, forward=dumps(forward), inverse=dumps(inverse))
        failed = self._transact([{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
                                 self._exists(operation_id)])
        if failed == 1:
            raise JournalError(f"No operation {operation_id} in the journal.")
        if failed == 0:
            raise JournalError(f"Change #{seq} of operation {operation_id} is already journaled.")
        return int(seq)

    def _change_item(self, operation_id: str, seq: int, *, forward: str, inverse: str,
                     **attributes: Any) -> dict[str, Any]:
        name = f"changes/{seq:010d}"
        return {**items.change_key(operation_id, seq), **items.encode_all({
            "seq": seq, **attributes,
            **self._stored(operation_id, "forward", f"{name}.forward.json", forward),
            **self._stored(operation_id, "inverse", f"{name}.inverse.json", inverse)})}

    def mark_change(self, operation_id: str, seq: int, state: ChangeState | str, *, request_id: str | None = None,
                    detail: str | None = None, error: dict[str, Any] | None = None) -> None:
        """Move a journaled change to ``state`` (see ``TRANSITIONS``); outcome details are sanitised."""
        target = ChangeState(state)
        sources = [s.value for s, targets in TRANSITIONS.items() if target in targets]
        sets, values = ["#st = :target", "updated_at = :t"], {":target": target.value, ":t": self._stamp()}
        names = {"#st": "state"}
        for name, value in (("request_id", request_id), ("detail", None if detail is None else sanitize(detail)),
                            ("error", None if error is None else dumps_sanitized(error))):
            if value is not None:  # names through placeholders: "error" is a reserved word
                sets.append(f"#{name} = :{name}")
                values[f":{name}"] = value
                names[f"#{name}"] = name
        placeholders = [f":src{i}" for i in range(len(sources))]
        values.update(dict(zip(placeholders, sources, strict=True)))
        failed = self._transact([{"Update": {
            "Key": items.change_key(operation_id, seq), "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": (f"#st IN ({', '.join(placeholders)})" if len(placeholders) > 1
                                    else f"#st = {placeholders[0]}" if placeholders else "attribute_not_exists(pk)"),
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": items.encode_all(values)}}])
        if failed is not None:
            row = self._get(items.change_key(operation_id, seq))
            if row is None:
                raise JournalError(f"Operation {operation_id} has no journaled change #{seq}.")
            raise ChangeTransitionError(
                f"Change #{seq} of {operation_id} cannot move from {row['state']} to {target.value}.")

    def record_request(self, operation_id: str, seq: int, request_id: str) -> None:
        """Keep the id of an asynchronous request the change started (it stays INTENT until settled)."""
        failed = self._transact([{"Update": {
            "Key": items.change_key(operation_id, seq), "UpdateExpression": "SET request_id = :r, updated_at = :t",
            "ConditionExpression": "#st = :intent", "ExpressionAttributeNames": {"#st": "state"},
            "ExpressionAttributeValues": items.encode_all({
                ":r": request_id, ":t": self._stamp(), ":intent": ChangeState.INTENT.value})}}])
        if failed is not None:
            raise ChangeTransitionError(f"Change #{seq} of {operation_id} is not an open intent.")

    def changes(self, operation_id: str) -> list[ChangeRecord]:
        """Return the operation's journaled changes in sequence order."""
        records = []
        for item in self._query(items.partition(operation_id), "CH#"):
            row = items.decode(item)
            records.append(ChangeRecord(
                operation_id=operation_id, seq=int(row["seq"]), kind=row["kind"],
                forward=json.loads(self._load_text(row, "forward") or "null"),
                inverse=loads(self._load_text(row, "inverse")), state=ChangeState(row["state"]),
                request_id=row.get("request_id"), detail=row.get("detail"), created_at=row["created_at"],
                updated_at=row["updated_at"], address=row.get("address"), error=loads(row.get("error"))))
        return records

    # -- errors -----------------------------------------------------------------------------------
    def record_error(self, operation_id: str, error: Any, step: str | None = None) -> None:
        """Store an analysed error (anything with the ErrorInfo attributes) for the operation."""
        remediation = [sanitize(str(item)) for item in (getattr(error, "remediation", None) or [])]
        try:
            counted = self._call("UpdateItem", Key=items.operation_key(operation_id),
                                 UpdateExpression="ADD error_count :one", ConditionExpression="attribute_exists(pk)",
                                 ExpressionAttributeValues=items.encode_all({":one": 1}), ReturnValues="UPDATED_NEW")
        except Exception as exc:
            if client_error_code(exc) == CONDITION_FAILED:
                raise not_found(operation_id) from exc
            raise
        number = int(items.decode(counted["Attributes"])["error_count"])
        item = {**items.error_key(operation_id, number), **items.encode_all({
            "id": number, "step": step, "category": plain(getattr(error, "category", None)),
            "severity": plain(getattr(error, "severity", None)), "code": plain(getattr(error, "code", None)),
            "message": sanitize(str(getattr(error, "message", "") or ""))[:32_000],
            "recoverable": bool(getattr(error, "recoverable", False)), "remediation": dumps(remediation),
            "created_at": self._stamp()})}
        self._transact([{"Put": {"Item": item}}])

    def errors(self, operation_id: str) -> list[dict[str, Any]]:
        """Return the operation's errors in the order they were recorded."""
        found = []
        for item in self._query(items.partition(operation_id), "ER#"):
            row = items.decode(item)
            found.append({"id": row["id"], "operation_id": operation_id, "step": row.get("step"),
                          "category": row.get("category"), "severity": row.get("severity"), "code": row.get("code"),
                          "message": row.get("message", ""), "recoverable": bool(row.get("recoverable")),
                          "remediation": json.loads(row.get("remediation") or "[]"), "created_at": row["created_at"]})
        return found


    # -- copying a local journal in (`awsideman state migrate`) ---------------------------------
    def has_operation(self, operation_id: str) -> bool:
        return self._get(items.operation_key(operation_id)) is not None

    def import_operation(self, op: Operation, changes: list[ChangeRecord], checkpoints: list[dict[str, Any]],
                         errors: list[dict[str, Any]]) -> int:
        """Copy one finished operation with its rows; the operation item is written last, only if absent."""
        puts = [self._change_item(
            op.id, change.seq, kind=change.kind, address=change.address, state=change.state.value,
            request_id=change.request_id, detail=change.detail,
            error=None if change.error is None else dumps(change.error), created_at=change.created_at,
            updated_at=change.updated_at, forward=dumps(change.forward), inverse=dumps(change.inverse))
            for change in changes]
        puts += [{**items.checkpoint_key(op.id, cp["step"]), **items.encode_all({
            "step": cp["step"], "created_at": cp["created_at"], "order": index, "sealed": bool(cp["sealed"]),
            **self._stored(op.id, "data", f"checkpoints/{uuid.uuid4().hex}.json", cp["data"])})}
            for index, cp in enumerate(checkpoints)]
        puts += [{**items.error_key(op.id, int(error["id"])), **items.encode_all({
            "id": int(error["id"]), "step": error.get("step"), "category": error.get("category"),
            "severity": error.get("severity"), "code": error.get("code"), "message": error.get("message"),
            "recoverable": bool(error.get("recoverable")), "remediation": dumps(error.get("remediation") or []),
            "created_at": error.get("created_at")})} for error in errors]
        self._batch([{"PutRequest": {"Item": item}} for item in puts])
        item = {**items.operation_key(op.id), **items.encode_all({
            "id": op.id, "kind": op.kind, "status": op.status, "params": dumps(op.params or {}),
            "backup_id": op.backup_id, "instance_arn": op.instance_arn, "started_at": op.started_at,
            "finished_at": op.finished_at, "updated_at": op.updated_at, "pid": op.pid, "host": op.host,
            "owner": op.owner, "pid_started": op.pid_started,
            "summary": None if op.summary is None else dumps(op.summary),
            "sealing": None if op.sealing is None else dumps(op.sealing),
            "error_count": max((int(e["id"]) for e in errors), default=0)})}
        if self._transact([{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}]) is not None:
            raise JournalError(f"Operation {op.id} appeared in {self.path} while it was being copied.")
        return len(puts) + 1


class _Pending:
    """Actions of one ``_transact`` call waiting to be committed, and their answer."""

    def __init__(self, actions: list[dict[str, Any]]) -> None:
        self.actions = actions
        self.keys = {json.dumps(_target(action), sort_keys=True) for action in actions}
        self.size = len(json.dumps(actions))
        self.done = threading.Event()
        self.failed: int | None = None
        self.error: BaseException | None = None


def _target(action: dict[str, Any]) -> Any:
    (verb, body), = action.items()
    item = body["Item"] if verb == "Put" else body["Key"]
    return {"pk": item["pk"], "sk": item["sk"]}


def _operation(row: dict[str, Any]) -> Operation:
    return Operation(
        id=row["id"], kind=row["kind"], status=row["status"], params=json.loads(row.get("params") or "{}"),
        backup_id=row.get("backup_id"), instance_arn=row.get("instance_arn"), started_at=row["started_at"],
        finished_at=row.get("finished_at"), updated_at=row.get("updated_at", ""), pid=row.get("pid"),
        host=row.get("host"), summary=loads(row.get("summary")), owner=row.get("owner") or None,
        pid_started=row.get("pid_started") or None, sealing=loads(row.get("sealing")))


def _holder(instance_arn: str, row: dict[str, Any], alive: bool) -> LockHolder:
    until = row.get("lease_until")
    expires = utc_timestamp(datetime.fromtimestamp(float(until), UTC)) if until else None
    return LockHolder(instance_arn, str(row.get("operation_id")), row.get("pid"), str(row.get("acquired_at")),
                      alive, host=row.get("host"), expires_at=expires)


def _busy(current: Operation, row: dict[str, Any]) -> OperationBusyError:
    until = row.get("lease_until")
    expires = f", lease until {utc_timestamp(datetime.fromtimestamp(float(until), UTC))}" if until else ""
    return OperationBusyError(
        f"Operation {current.id} is still running (pid {current.pid} on {current.host}{expires}).",
        remediation=["Wait for it to finish, or stop that process; once its lease expires it can be continued."])

"""The shared journal's machinery: the table, time, and writes (group commit, fencing hook).

``DynamoJournal`` (``dynamo``) is the journal; ``Leases`` (``dynamo_lease``) holds a runner's
leases and fences its writes; this module talks to the table and S3. See ``dynamo`` for the
guarantees and ``dynamo_items`` for the layout.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from awsideman.adapters.aws import client_error_code
from awsideman.core.errors import is_expected
from awsideman.core.exceptions import JournalError, LeaseLostError, StateBackendError
from awsideman.core.sanitize import sanitize
from awsideman.journal import dynamo_items as items
from awsideman.journal.blobs import BlobStore
from awsideman.journal.db import as_utc, utc_timestamp
from awsideman.journal.liveness import this_process

DEFAULT_LEASE_SECONDS = 60.0
CONDITION_FAILED = "ConditionalCheckFailedException"
CANCELLED = "TransactionCanceledException"
# Answers the journal acts on itself; any other failure (after the retry policy) means the backend is lost.
ANSWERS = frozenset({CONDITION_FAILED, CANCELLED})


def local_clock() -> float:
    """Seconds on a clock that keeps counting while the machine sleeps (a closed laptop)."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


class DynamoBase:
    """State and I/O shared by the journal's parts."""

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
        self._deferred: BaseException | None = None  # how a write nobody waited for failed
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
        """Commit what is queued, stop renewing leases (they expire by themselves); safe to call twice."""
        if not self._closed:
            with contextlib.suppress(Exception):  # the command's own outcome stands
                self._drain()
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._closed = True

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

    def _lost_error(self, operation_id: str, why: str) -> LeaseLostError:
        error = LeaseLostError(
            f"Operation {operation_id} lost its lease on the shared state: {why}. Another runner may own the "
            "instance now; this one stops and writes nothing more.",
            # The error table's rule adds where to see what the new holder did.
            remediation=["Run again only once `awsideman report list` shows no other restore or rollback running."])
        error.operation_id = operation_id  # type: ignore[attr-defined]
        return error

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
        """The conditions every write carries besides its own (the lease's fence, see ``Leases``)."""
        return []

    def _transact(self, actions: list[dict[str, Any]], *, wait: bool = True) -> int | None:
        """Write ``actions`` (plus the fence) atomically.

        Returns None when they were applied, else the index of the action whose condition
        failed. A failed fence raises ``LeaseLostError``. Writes of concurrent threads are
        committed together (group commit, see ``_lead``). ``wait=False`` returns at once when
        another thread is committing (it takes this write along); how it ended is raised by the
        next write or read of this journal if it failed.
        """
        self._raise_deferred()
        entry = _Pending(actions, deferred=not wait)
        with self._lock:
            self._queue.append(entry)
            lead = not self._leading
            self._leading = True
        if lead:
            self._lead()
        elif not wait:
            return None
        entry.done.wait()
        if entry.error is not None:
            raise entry.error
        return entry.failed

    def _drain(self) -> None:
        """Wait until every write queued so far is committed (reads see them), then raise a deferred failure."""
        with self._lock:
            busy = self._leading or bool(self._queue)
        if busy:
            self._transact([])
        self._raise_deferred()

    def _raise_deferred(self) -> None:
        with self._lock:
            error, self._deferred = self._deferred, None
        if error is not None:
            raise error

    def _lead(self) -> None:
        """Commit what the threads queued, as few transactions as possible, until nothing is queued.

        A lock holder's writes all check the lock item, and DynamoDB refuses concurrent
        transactions on one item, so one thread at a time commits, and it takes everything queued
        meanwhile into one transaction (up to 99 actions and ~3.5 MB, never two on one item, and
        never a write before an earlier one on the same item).
        """
        while True:
            with self._lock:
                batch: list[_Pending] = []
                rest: list[_Pending] = []
                keys: set[str] = set()
                blocked: set[str] = set()
                count = size = 0
                for index, entry in enumerate(self._queue):
                    if not entry.actions:  # a barrier (``_drain``): done once everything before it is
                        if index == 0 and not batch:
                            entry.done.set()
                            continue
                        rest += self._queue[index:]
                        break
                    full = bool(batch) and (count + len(entry.actions) > 99 or size + entry.size > 3_500_000)
                    if full or entry.keys & (keys | blocked):
                        rest.append(entry)
                        blocked |= entry.keys
                        continue
                    batch.append(entry)
                    keys |= entry.keys
                    count, size = count + len(entry.actions), size + entry.size
                self._queue = rest
                if not batch:
                    if self._queue and not self._queue[0].actions:
                        continue  # a barrier is at the front now
                    self._leading = False
                    return
            retry = self._commit(batch)
            with self._lock:
                self._queue[:0] = retry
                for entry in batch:
                    if entry.deferred and entry not in retry and self._deferred is None:
                        if entry.error is not None:
                            self._deferred = entry.error
                        elif entry.failed is not None:
                            self._deferred = JournalError(
                                f"A journal write of {self.path} was refused (its condition failed): "
                                f"{sorted(entry.keys)[0]}.")

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
        self._drain()
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
        self._drain()
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

    def _load_text(self, item: dict[str, Any], field: str) -> str | None:
        if f"{field}_blob" in item:
            return self.blobs.get(json.loads(item[f"{field}_blob"])).decode()
        value = item.get(field)
        return None if value is None else str(value)

    def _stored(self, operation_id: str, field: str, name: str, text: str | None) -> dict[str, Any]:
        """``field`` inline when small, else ``field_blob``: the S3 reference (key and SHA-256) as JSON."""
        if text is None:
            return {}
        if len(text.encode()) <= items.INLINE_LIMIT:
            return {field: text}
        ref = self.blobs.put(f"{self.table}/{operation_id}/{name}", text.encode())
        return {f"{field}_blob": json.dumps(ref)}


class _Pending:
    """Actions of one ``_transact`` call waiting to be committed, and their answer."""

    def __init__(self, actions: list[dict[str, Any]], deferred: bool = False) -> None:
        self.actions = actions
        self.deferred = deferred
        self.keys = {json.dumps(_target(action), sort_keys=True) for action in actions}
        self.size = len(json.dumps(actions))
        self.done = threading.Event()
        self.failed: int | None = None
        self.error: BaseException | None = None


def _target(action: dict[str, Any]) -> Any:
    (verb, body), = action.items()
    item = body["Item"] if verb == "Put" else body["Key"]
    return {"pk": item["pk"], "sk": item["sk"]}



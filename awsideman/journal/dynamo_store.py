"""The shared journal's store: records in one DynamoDB table, large values in S3.

Thin by design: records become items (layout in ``dynamo_items``), expectations become
condition expressions, and a write is one ``TransactWriteItems`` carrying the fence (the lock
this process holds must still name it) and a client request token, so a retried transaction
is applied at most once. The rules are the journal's (``journal/journal.py``).

Writes of concurrent threads are committed together (group commit, see ``_lead``). Calls go
through the AWS gateway (its retry policy and rate limiter, with a ``dynamodb`` bucket) of
their own, without the run's stop signal: a Ctrl-C must still let the journal record that the
run was interrupted.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from awsideman.adapters.aws import client_error_code
from awsideman.adapters.state_blobs import BlobStore
from awsideman.core.errors import is_expected
from awsideman.core.exceptions import JournalError, StateBackendError
from awsideman.core.sanitize import sanitize
from awsideman.journal import dynamo_items as items
from awsideman.journal.store import Action, Check, Delete, FenceLost, OneOf, Put, Update

CONDITION_FAILED = "ConditionalCheckFailedException"
CANCELLED = "TransactionCanceledException"
# Answers the store acts on itself; any other failure (after the retry policy) means the backend is lost.
ANSWERS = frozenset({CONDITION_FAILED, CANCELLED})
# Text fields that may outgrow an item: kept in S3 beyond ``items.INLINE_LIMIT``.
LARGE = {"checkpoint": ("data",), "change": ("forward", "inverse")}


class DynamoStore:
    """Records of one state table (see the module docstring)."""

    max_actions = 90

    def __init__(self, gateway: Any, table: str, blobs: BlobStore) -> None:
        self.gateway = gateway
        self.table = table
        self.blobs = blobs
        self.path = f"dynamodb://{table}"  # where the journal is, for messages (like the SQLite file's path)
        self._lock = threading.RLock()
        # Writes waiting for the thread that commits them (see ``_lead``).
        self._queue: list[_Pending] = []
        self._leading = False
        self._deferred: BaseException | None = None  # how a write nobody waited for failed
        self._fence: Check | None = None
        self._closed = False

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
        """Commit what is queued; safe to call twice."""
        if not self._closed:
            with contextlib.suppress(Exception):  # the command's own outcome stands
                self._drain()
        self._closed = True

    def set_fence(self, fence: Check | None) -> None:
        with self._lock:
            self._fence = fence

    # -- the protocol -----------------------------------------------------------------------------
    def get(self, kind: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        self._drain()
        item = self._call("GetItem", Key=_key(kind, key), ConsistentRead=True).get("Item")
        return None if item is None else self._record(kind, item)

    def query(self, kind: str, operation_id: str | None = None, *, limit: int | None = None,
              filter_kind: str | None = None) -> list[dict[str, Any]]:
        if kind == "operation":
            return self._operations(limit, filter_kind)
        prefix = {"checkpoint": "CP#", "change": "CH#", "error": "ER#"}[kind]
        assert operation_id is not None
        found = []
        for item in self._query(items.partition(operation_id), prefix, limit=limit):
            found.append(self._record(kind, item))
            if limit is not None and len(found) >= limit:
                break
        if kind == "checkpoint":
            found.sort(key=lambda row: row.get("order", 0))
        return found

    def _operations(self, limit: int | None, kind: str | None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for item in self._query(items.OPS, "OP#", newest_first=True):
            row = self._record("operation", item)
            if kind is not None and row.get("kind") != kind:
                continue
            # Ids order operations by their second; within one second, by when they were created.
            if limit is not None and len(rows) >= limit and row["started_at"] != rows[-1]["started_at"]:
                break
            rows.append(row)
        rows.sort(key=lambda row: (row["started_at"], row.get("created_ns", 0)), reverse=True)
        return rows[:limit]

    def write(self, actions: Iterable[Action], *, wait: bool = True, fence: bool = True) -> int | None:
        actions = list(actions)
        for index, action in enumerate(actions):
            expect = getattr(action, "expect", {})
            if any(isinstance(v, OneOf) and not v.values for v in expect.values()):
                return index  # no state qualifies: refused without asking the table
        request = [self._request(action) for action in actions]
        if fence:
            return self._transact(request, wait=wait)
        # A write on the lock itself, alone: the fence (on the same item) cannot join it.
        if len(request) != 1:
            raise ValueError("an unfenced write is one action on the lock itself")
        (verb, body), = request[0].items()
        call = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}[verb]
        try:
            self._call(call, **body)
        except Exception as exc:
            if client_error_code(exc) != CONDITION_FAILED:
                raise
            return 0
        return None

    def purge(self, operation_id: str, kind: str | None = None) -> None:
        prefix = {None: "", "checkpoint": "CP#", "change": "CH#", "error": "ER#"}[kind]
        keys = [k for k in self._query(items.partition(operation_id), prefix, keys_only=True)]
        self._batch([{"DeleteRequest": {"Key": {"pk": k["pk"], "sk": k["sk"]}}} for k in keys])
        self.blobs.delete_under(f"{self.table}/{operation_id}" + ("/checkpoints" if kind == "checkpoint" else ""))

    # -- records <-> items ------------------------------------------------------------------------
    def _request(self, action: Action) -> dict[str, Any]:
        if isinstance(action, Put):
            item = self._item(action.kind, dict(action.record))
            body: dict[str, Any] = {"Item": item}
            if action.if_absent:
                body["ConditionExpression"] = "attribute_not_exists(pk)"
            return {"Put": body}
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        body = {"Key": _key(action.kind, action.key)}
        condition = _condition(action.expect, names, values, exists=not isinstance(action, Delete) or
                               bool(action.expect))
        if condition:
            body["ConditionExpression"] = condition
        if isinstance(action, Update):
            sets, removes = [], []
            for index, (name, value) in enumerate(self._updated(action).items()):
                names[f"#s{index}"] = name
                if value is None:
                    removes.append(f"#s{index}")
                else:
                    values[f":s{index}"] = value
                    sets.append(f"#s{index} = :s{index}")
            body["UpdateExpression"] = " ".join(
                part for part in ("SET " + ", ".join(sets) if sets else "",
                                  "REMOVE " + ", ".join(removes) if removes else "") if part)
        if names:
            body["ExpressionAttributeNames"] = names
        if values:
            body["ExpressionAttributeValues"] = items.encode_all(values)
        verb = "ConditionCheck" if isinstance(action, Check) else "Delete" if isinstance(action, Delete) else "Update"
        return {verb: body}

    def _updated(self, action: Update) -> dict[str, Any]:
        """The fields an update sets; a large text field replaces its S3 reference (``_blob``) too,
        which would otherwise still be read in its place (the blob itself goes with ``drop_values``)."""
        fields = dict(action.set)
        for name in LARGE.get(action.kind, ()):
            if name not in fields:
                continue
            text = fields.pop(name)
            fields[f"{name}_blob"] = None
            fields[name] = None
            if text is not None:
                stem = f"rewritten/{'.'.join(str(part) for part in action.key)}.{name}.{uuid.uuid4().hex}.json"
                fields.update(self._stored(str(action.key[0]), name, stem, text))
        return fields

    def drop_values(self, operation_id: str, kind: str) -> None:
        """Delete the S3 values the operation's records of ``kind`` were written with (their items
        no longer name them: see ``_updated``)."""
        folder = {"change": "changes", "checkpoint": "checkpoints"}[kind]
        self.blobs.delete_under(f"{self.table}/{operation_id}/{folder}")

    def _item(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        key = _key(kind, tuple(record[name] for name in _KEY_FIELDS[kind]))
        record = {name: value for name, value in record.items() if name not in _DERIVED[kind]}
        if kind == "operation":
            record.setdefault("created_ns", time.time_ns())
        if kind == "checkpoint":
            record.setdefault("order", time.time_ns())
        operation_id = key["pk"]["S"][3:] if key["pk"]["S"].startswith("OP#") else None
        for name in LARGE.get(kind, ()):
            if name in record and operation_id is not None:
                stem = (f"checkpoints/{uuid.uuid4().hex}" if kind == "checkpoint"
                        else f"changes/{int(record['seq']):010d}.{name}")
                record.update(self._stored(operation_id, name, f"{stem}.json", record.pop(name)))
        return {**key, **items.encode_all(record)}

    def _record(self, kind: str, item: dict[str, Any]) -> dict[str, Any]:
        row = items.decode(item)
        pk, sk = str(row.pop("pk")), str(row.pop("sk"))
        if kind == "lock":
            row["instance_arn"] = pk[len("LOCK#"):]
        elif kind != "operation":
            row["operation_id"] = pk[len("OP#"):]
            if kind == "checkpoint":
                row.setdefault("step", sk[len("CP#"):])
                row["sealed"] = bool(row.get("sealed"))
        for name in LARGE.get(kind, ()):
            if f"{name}_blob" in row:
                row[name] = self._load_text(row, name)
                del row[f"{name}_blob"]
        return row

    # -- the table --------------------------------------------------------------------------------
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
        except (JournalError, FenceLost):
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

    def _fence_items(self) -> list[dict[str, Any]]:
        with self._lock:
            fence = self._fence
        if fence is None:
            return []
        request = self._request(fence)
        request["ConditionCheck"]["TableName"] = self.table
        return [request]

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
        never a write before an earlier one on the same item). Identical condition checks share
        one action: every change intent checks its operation, and without sharing no two intents
        could ever be committed together (one round trip per change).
        """
        while True:
            with self._lock:
                batch: list[_Pending] = []
                rest: list[_Pending] = []
                keys: set[str] = set()  # items the batch writes
                checks: dict[str, str] = {}  # items the batch only checks -> the check
                blocked: set[str] = set()
                count = size = 0
                for index, entry in enumerate(self._queue):
                    if not entry.actions:  # a barrier (``_drain``): done once everything before it is
                        if index == 0 and not batch:
                            entry.done.set()
                            continue
                        rest += self._queue[index:]
                        break
                    new_checks = {k: c for k, c in entry.checks.items() if checks.get(k) != c}
                    added = len(entry.writes) + len(new_checks)
                    full = bool(batch) and (count + added > 99 or size + entry.size > 3_500_000)
                    clash = (entry.keys & blocked or entry.writes & (keys | checks.keys())
                             or new_checks.keys() & (keys | checks.keys()))
                    if full or clash:
                        rest.append(entry)
                        blocked |= entry.keys
                        continue
                    batch.append(entry)
                    keys |= entry.writes
                    checks.update(new_checks)
                    count, size = count + added, size + entry.size
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
            fence = self._fence_items()
            request: list[dict[str, Any]] = []
            shared: dict[str, int] = {}  # a check already in the request -> its position
            for entry in batch:
                entry.positions = []
                for action, check in zip(entry.actions, entry.check_of, strict=True):
                    if check is not None and check in shared:
                        entry.positions.append(shared[check])
                        continue
                    if check is not None:
                        shared[check] = len(request)
                    entry.positions.append(len(request))
                    (verb, body), = action.items()
                    request.append({verb: {"TableName": self.table, **body}})
            self._call_untabled("TransactWriteItems", TransactItems=request + fence,
                                ClientRequestToken=uuid.uuid4().hex)
        except Exception as exc:
            return self._cancelled(batch, exc)
        for entry in batch:
            entry.done.set()
        return []

    def _cancelled(self, batch: list[_Pending], exc: Exception) -> list[_Pending]:
        reasons = [str(r.get("Code")) for r in getattr(exc, "response", {}).get("CancellationReasons") or []]
        count = 1 + max((p for entry in batch for p in entry.positions), default=-1)
        error: BaseException = exc
        if client_error_code(exc) == CANCELLED and len(reasons) > count and reasons[count] == "ConditionalCheckFailed":
            fence = self._fence
            error = FenceLost(fence.expect.get("operation_id") if fence else None)
            error.__cause__ = exc
        elif client_error_code(exc) == CANCELLED and len(reasons) >= count:
            retry = []
            for entry in batch:
                mine = [reasons[p] for p in entry.positions]
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
        targets = [json.dumps(_target(action), sort_keys=True) for action in actions]
        # A condition check is named by its whole text: two equal ones are one action in a transaction.
        self.check_of = [json.dumps(action, sort_keys=True) if "ConditionCheck" in action else None
                         for action in actions]
        self.checks = {t: c for t, c in zip(targets, self.check_of, strict=True) if c is not None}
        self.writes = {t for t, c in zip(targets, self.check_of, strict=True) if c is None}
        self.keys = set(targets)
        self.size = len(json.dumps(actions))
        self.positions: list[int] = []  # where each action is in the transaction that carries it
        self.done = threading.Event()
        self.failed: int | None = None
        self.error: BaseException | None = None


def _target(action: dict[str, Any]) -> Any:
    (verb, body), = action.items()
    item = body["Item"] if verb == "Put" else body["Key"]
    return {"pk": item["pk"], "sk": item["sk"]}




_KEY_FIELDS = {"operation": ("id",), "lock": ("instance_arn",), "checkpoint": ("operation_id", "step"),
               "change": ("operation_id", "seq"), "error": ("operation_id", "id")}
# Fields the key already holds (pk/sk) that the item does not repeat.
_DERIVED = {"operation": (), "lock": ("instance_arn",), "checkpoint": ("operation_id",), "change": ("operation_id",),
            "error": ("operation_id",)}


def _key(kind: str, key: tuple[Any, ...]) -> dict[str, Any]:
    if kind == "operation":
        return items.operation_key(key[0])
    if kind == "lock":
        return items.lock_key(key[0])
    if kind == "checkpoint":
        return items.checkpoint_key(key[0], key[1])
    if kind == "change":
        return items.change_key(key[0], int(key[1]))
    return items.error_key(key[0], int(key[1]))


def _condition(expect: Any, names: dict[str, str], values: dict[str, Any], *, exists: bool) -> str:
    parts = ["attribute_exists(pk)"] if exists else []
    for index, (name, wanted) in enumerate(expect.items()):
        names[f"#e{index}"] = name
        if isinstance(wanted, OneOf):
            placeholders = []
            for number, value in enumerate(wanted.values):
                values[f":e{index}_{number}"] = value
                placeholders.append(f":e{index}_{number}")
            parts.append(f"#e{index} IN ({', '.join(placeholders)})" if len(placeholders) > 1
                         else f"#e{index} = {placeholders[0]}")
        elif wanted is None:
            values[f":e{index}"] = ""
            parts.append(f"(attribute_not_exists(#e{index}) OR #e{index} = :e{index})")
        else:
            values[f":e{index}"] = wanted
            parts.append(f"#e{index} = :e{index}")
    return " AND ".join(parts)

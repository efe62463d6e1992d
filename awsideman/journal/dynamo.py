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

import json
import logging
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from awsideman.adapters.aws import client_error_code
from awsideman.core.exceptions import JournalError, OperationBusyError
from awsideman.core.ids import new_operation_id, validate_operation_id
from awsideman.core.sanitize import sanitize
from awsideman.journal import dynamo_items as items
from awsideman.journal.blobs import BlobStore
from awsideman.journal.changes import TRANSITIONS, ChangeRecord, ChangeState, ChangeTransitionError
from awsideman.journal.checkpoints import Sealer, _context
from awsideman.journal.db import as_utc, timestamp_key, utc_timestamp
from awsideman.journal.dynamo_base import CONDITION_FAILED, DEFAULT_LEASE_SECONDS, local_clock
from awsideman.journal.dynamo_lease import Leases
from awsideman.journal.locks import LockHolder, LockWaits, _held
from awsideman.journal.operations import OperationStateError, linked_summary, not_found
from awsideman.journal.records import (
    FINISHED_STATUSES,
    INTERRUPTED,
    KINDS,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    RUNNING,
    UNSETTLED_STATUSES,
    Operation,
    dumps,
    dumps_sanitized,
    loads,
    plain,
)

log = logging.getLogger("awsideman.journal")

__all__ = ["DynamoJournal", "DEFAULT_LEASE_SECONDS", "local_clock"]


class DynamoJournal(LockWaits, Leases):
    """The journal of one DynamoDB table (see the module docstring). Use ``DynamoJournal.open``."""

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, gateway: Any, table: str, blobs: BlobStore, **kwargs: Any) -> DynamoJournal:
        """Open the journal in ``table``; it must have been created by ``awsideman state init``."""
        journal = cls(gateway, table, blobs, **kwargs)
        journal.check_schema()
        return journal

    def __enter__(self) -> DynamoJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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

    def record_instance(self, operation_id: str, instance_arn: str) -> None:
        """Name the instance an operation works on, once discovered (it starts before discovery)."""
        self._owned_update(operation_id, "instance_arn = :i", {":i": instance_arn})

    def record_sealing(self, operation_id: str, sealing: dict[str, Any]) -> None:
        """Keep how the operation's checkpoints are sealed (the wrapped data key), before the first one."""
        self._owned_update(operation_id, "sealing = :z", {":z": dumps(sealing)})

    def discard_operation(self, operation_id: str) -> None:
        """Forget a running operation of this process that did nothing (see ``Journal.discard_operation``)."""
        rows = list(self._query(items.partition(operation_id), "", keys_only=True))
        if any(str(row["sk"]["S"]).startswith("CH#") for row in rows):
            raise JournalError(f"Operation {operation_id} has journaled changes; it is kept.")
        failed = self._transact([{"Delete": {
            "Key": items.operation_key(operation_id),
            "ConditionExpression": "#o = :me AND #s = :running",
            "ExpressionAttributeNames": {"#o": "owner", "#s": "status"},
            "ExpressionAttributeValues": items.encode_all({":me": self._me()[0], ":running": RUNNING})}}])
        if failed is not None:
            if self._get(items.operation_key(operation_id)) is None:
                raise not_found(operation_id)
            raise JournalError(f"Operation {operation_id} is no longer running in this process.")
        with self._lock:
            self._owned.discard(operation_id)
        self._delete_keys(rows)
        self.blobs.delete_under(f"{self.table}/{operation_id}")

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

    def record_rollback(self, restore_id: str, rollback_id: str, status: str) -> Operation:
        """A later rollback's outcome on the restore it reverted (see ``Journal.record_rollback``).

        A compare-and-set on the item as read (plus the fence of the lock the rollback holds): a
        concurrent change of the restore makes it read and try again.
        """
        if status not in (ROLLED_BACK, ROLLBACK_FAILED):
            raise ValueError(f"not a rollback outcome: {status!r}")
        for _ in range(5):
            row = self._get(items.operation_key(restore_id))
            if row is None:
                raise not_found(restore_id)
            current = _operation(row)
            if current.status == RUNNING:
                return current
            # updated_at moves with every write of the item: unchanged means status and summary are too.
            values = {":status": status, ":t": self._stamp(), ":was": current.status, ":seen": current.updated_at,
                      ":sum": dumps_sanitized(linked_summary(current, rollback_id))}
            condition = "#s = :was AND updated_at = :seen"
            failed = self._transact([{"Update": {
                "Key": items.operation_key(restore_id),
                "UpdateExpression": "SET #s = :status, updated_at = :t, summary = :sum",
                "ConditionExpression": condition, "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": items.encode_all(values)}}])
            if failed is None:
                return self.get_operation(restore_id)
        raise JournalError(f"Operation {restore_id} kept changing; its rollback by {rollback_id} was not recorded.")

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
                # Persisting is a courtesy: a reader without write access (an auditor's role) or
                # a backend that refuses the write still sees what every writer would conclude.
                log.debug("could not record %s as interrupted: %s", op.id, sanitize(str(exc)))
                return replace(op, status=INTERRUPTED, finished_at=op.updated_at)
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
            ended = timestamp_key(op.finished_at or op.updated_at or op.started_at)
            if op.status not in FINISHED_STATUSES or ended >= cutoff:
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
                    detail: str | None = None, error: dict[str, Any] | None = None, wait: bool = True) -> None:
        """Move a journaled change to ``state`` (see ``TRANSITIONS``); outcome details are sanitised.

        ``wait=False`` (an outcome the caller need not wait for): committed with the next writes;
        if the process dies first, the change stays an intent and is settled from live state.
        """
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
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": items.encode_all(values)}}], wait=wait)
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

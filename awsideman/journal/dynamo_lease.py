"""A runner's leases on the shared state: renewed by a heartbeat, checked by its own clock,
and the fence every write of a lock holder carries (see ``dynamo``)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from awsideman.adapters.aws import client_error_code
from awsideman.core.exceptions import LeaseLostError
from awsideman.core.sanitize import sanitize
from awsideman.journal import dynamo_items as items
from awsideman.journal.dynamo_base import CONDITION_FAILED, DynamoBase
from awsideman.journal.records import RUNNING

log = logging.getLogger("awsideman.journal")


class Leases(DynamoBase):
    """Leases of the operations this journal runs and of the instance lock it holds."""

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


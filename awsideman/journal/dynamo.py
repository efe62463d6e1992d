"""The shared journal: the same rules as the local one, over a DynamoDB table (large values in S3).

Many runners on different machines, one truth. What differs from the local journal is only
the store (``DynamoStore``) and liveness: another machine cannot see our pids, so an owner is
alive while its lease (renewed by the journal's heartbeat every third of it) has not expired,
and a stale operation or lock is taken over only after that (``LeaseLiveness``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from awsideman.adapters.state_blobs import BlobStore
from awsideman.journal.dynamo_store import DynamoStore
from awsideman.journal.journal import Journal
from awsideman.journal.liveness import LeaseLiveness, local_clock

__all__ = ["DynamoJournal", "DEFAULT_LEASE_SECONDS", "local_clock"]

DEFAULT_LEASE_SECONDS = 60.0


class DynamoJournal(Journal):
    """The journal of one DynamoDB table. Use ``DynamoJournal.open``."""

    @classmethod
    def open(cls, gateway: Any, table: str, blobs: BlobStore, *,  # type: ignore[override]
             lease_seconds: float = DEFAULT_LEASE_SECONDS, clock: Callable[[], datetime] | None = None,
             local: Callable[[], float] = local_clock,
             identity: tuple[str, int, str | None] | None = None) -> DynamoJournal:
        """Open the journal in ``table``; it must have been created by ``awsideman state init``."""
        store = DynamoStore(gateway, table, blobs)
        store.check_schema()
        return cls(store, LeaseLiveness(lease_seconds, local), clock=clock, local=local, identity=identity)

    @property
    def table(self) -> str:
        return str(self.store.table)  # type: ignore[attr-defined]

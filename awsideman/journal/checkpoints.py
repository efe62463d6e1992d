"""Checkpoints: the finished collection steps of a backup, so a resumed run skips them.

Checkpoint data is a copy of the instance (names, e-mails, phones, addresses). It is deleted
in the transaction that records the operation's success, and while an encrypted backup is
unfinished it is sealed with that backup's data key (``Sealer``), so a killed ``--kms-key``
backup leaves no readable copy either.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Protocol

from awsideman.core.exceptions import JournalError
from awsideman.journal.db import Database
from awsideman.journal.records import dumps


class Sealer(Protocol):
    """Authenticated encryption bound to a context string (see adapters.crypto.CheckpointSealer)."""

    def seal(self, data: bytes, context: str) -> bytes: ...

    def open(self, data: bytes, context: str) -> bytes: ...


class CheckpointsMixin(Database):
    """The ``checkpoints`` table."""

    def save_checkpoint(self, operation_id: str, step: str, data: Any, sealer: Sealer | None = None) -> None:
        """Store (or replace) the data of a finished step; committed before returning."""
        text = dumps(data)
        if sealer is not None:
            text = base64.b64encode(sealer.seal(text.encode(), _context(operation_id, step))).decode()
        now = self._stamp()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM operations WHERE id = ?", (operation_id,)).fetchone() is None:
                raise JournalError(f"No operation {operation_id} in the journal.")
            conn.execute(
                "INSERT INTO checkpoints (operation_id, step, data_json, created_at, sealed) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (operation_id, step) DO UPDATE"
                " SET data_json = excluded.data_json, created_at = excluded.created_at, sealed = excluded.sealed",
                (operation_id, step, text, now, 1 if sealer else 0))
            # A checkpoint is proof of life for report readers.
            conn.execute("UPDATE operations SET updated_at = ? WHERE id = ?", (now, operation_id))

    def checkpoints(self, operation_id: str, sealer: Sealer | None = None) -> dict[str, Any]:
        """Return ``{step: data}`` for every checkpoint of the operation, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT step, data_json, sealed FROM checkpoints WHERE operation_id = ? ORDER BY created_at, rowid",
                (operation_id,)).fetchall()
        result = {}
        for row in rows:
            text = row["data_json"]
            if row["sealed"]:
                if sealer is None:
                    raise JournalError(f"The checkpoints of {operation_id} are encrypted and no key was given.")
                text = sealer.open(base64.b64decode(text), _context(operation_id, row["step"])).decode()
            result[row["step"]] = json.loads(text)
        return result

    def raw_checkpoints(self, operation_id: str) -> list[dict[str, Any]]:
        """The rows as stored (sealed ones stay sealed), oldest first: for copying a journal."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT step, data_json, sealed, created_at FROM checkpoints WHERE operation_id = ?"
                " ORDER BY created_at, rowid", (operation_id,)).fetchall()
        return [{"step": row["step"], "data": row["data_json"], "sealed": bool(row["sealed"]),
                 "created_at": row["created_at"]} for row in rows]

    def clear_checkpoints(self, operation_id: str) -> None:
        """Delete every checkpoint of the operation."""
        with self._write() as conn:
            conn.execute("DELETE FROM checkpoints WHERE operation_id = ?", (operation_id,))


def _context(operation_id: str, step: str) -> str:
    # Bound into the ciphertext: a sealed checkpoint cannot be moved to another step or operation.
    return f"{operation_id}\n{step}"

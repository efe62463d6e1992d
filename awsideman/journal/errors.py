"""Analysed errors recorded per operation (sanitised on the way in)."""

from __future__ import annotations

import json
from typing import Any

from awsideman.core.sanitize import sanitize
from awsideman.journal.db import Database
from awsideman.journal.operations import not_found
from awsideman.journal.records import dumps, plain


class ErrorsMixin(Database):
    """The ``errors`` table."""

    def record_error(self, operation_id: str, error: Any, step: str | None = None) -> None:
        """Store an analysed error (anything with the ErrorInfo attributes) for the operation."""
        remediation = [sanitize(str(item)) for item in (getattr(error, "remediation", None) or [])]
        row = (operation_id, step, plain(getattr(error, "category", None)), plain(getattr(error, "severity", None)),
               plain(getattr(error, "code", None)), sanitize(str(getattr(error, "message", "") or "")),
               1 if getattr(error, "recoverable", False) else 0, dumps(remediation), self._stamp())
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM operations WHERE id = ?", (operation_id,)).fetchone() is None:
                raise not_found(operation_id)
            conn.execute(
                "INSERT INTO errors (operation_id, step, category, severity, code, message, recoverable,"
                " remediation_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def errors(self, operation_id: str) -> list[dict[str, Any]]:
        """Return the operation's errors in the order they were recorded."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM errors WHERE operation_id = ? ORDER BY id", (operation_id,)).fetchall()
        return [{"id": row["id"], "operation_id": row["operation_id"], "step": row["step"],
                 "category": row["category"], "severity": row["severity"], "code": row["code"],
                 "message": row["message"], "recoverable": bool(row["recoverable"]),
                 "remediation": json.loads(row["remediation_json"]), "created_at": row["created_at"]}
                for row in rows]

"""Which operation and phase a log record belongs to, and the one-line form of a record.

``bind_operation`` (called where the lifecycle begins an operation) and ``set_phase`` (called
when a phase of the run opens) set what ``OperationFilter`` stamps on every record, so each
line of ``$AWSIDEMAN_HOME/logs/OP_ID.log`` says when, how bad, which operation and which phase:

    2026-12-03T12:45:22.123Z INFO op-20261203T124521Z-3f9a1c [applying] awsideman.aws: request ...

The binding lives in a context variable, with the last one bound in this process as the
fallback: the worker threads of a thread pool do not inherit context variables, and a process
runs one operation at a time (the demo runs several, one after the other).
"""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import dataclass

__all__ = ["bind_operation", "release_operation", "set_phase", "current", "current_kind", "OperationFilter",
           "LineFormatter", "format_line"]

NONE = "-"  # what a line says where it has no operation or phase


@dataclass
class _Binding:
    operation_id: str | None = None
    phase: str | None = None
    kind: str | None = None  # backup, restore, rollback: what a progress report names


_PROCESS = [_Binding()]
_CURRENT: contextvars.ContextVar[_Binding | None] = contextvars.ContextVar("awsideman_log_binding", default=None)


def _binding() -> _Binding:
    return _CURRENT.get() or _PROCESS[0]


def current() -> tuple[str | None, str | None]:
    """The operation id and phase records are stamped with now."""
    binding = _binding()
    return binding.operation_id, binding.phase


def current_kind() -> str | None:
    """The kind of the operation bound now (None outside one)."""
    return _binding().kind


def bind_operation(operation_id: str, kind: str | None = None) -> contextvars.Token[_Binding | None]:
    """Stamp what is logged from now on with ``operation_id`` (the phase open now is kept)."""
    binding = _Binding(operation_id, _binding().phase, kind)
    _PROCESS[0] = binding
    return _CURRENT.set(binding)


def release_operation(token: contextvars.Token[_Binding | None]) -> None:
    """The operation has ended: what is logged after it belongs to no operation."""
    phase = _binding().phase
    try:
        _CURRENT.reset(token)
    except ValueError:  # released from another context (a generator closed elsewhere): unbind here
        _CURRENT.set(None)
    _PROCESS[0] = _Binding(None, phase)


def set_phase(name: str | None) -> None:
    """The phase of the run that is open now (None between phases)."""
    _binding().phase = name


class OperationFilter(logging.Filter):
    """Puts ``operation_id`` and ``phase`` on each record (unless the record already names them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        operation_id, phase = current()
        if getattr(record, "operation_id", None) is None:
            record.operation_id = operation_id or NONE
        if getattr(record, "phase", None) is None:
            record.phase = phase or NONE
        return True


class LineFormatter(logging.Formatter):
    """``TIME LEVEL OPERATION [PHASE] LOGGER: MESSAGE`` on one line: UTC with milliseconds, and a
    message (or traceback) of several lines joined with `` | `` so each record stays one line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message} | {self.formatException(record.exc_info)}"
        message = " | ".join(part for part in message.splitlines() if part.strip()) or message
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        millis = int(record.created * 1000) % 1000
        return (f"{stamp}.{millis:03d}Z {record.levelname} {getattr(record, 'operation_id', None) or NONE} "
                f"[{getattr(record, 'phase', None) or NONE}] {record.name}: {message}")


def format_line(level: int, message: str, *, operation_id: str | None, logger: str = "awsideman.run",
                phase: str | None = None, created: float | None = None) -> str:
    """One line in the log's format, for lines written outside the logging system (a log's ending)."""
    record = logging.makeLogRecord({"levelno": level, "levelname": logging.getLevelName(level), "name": logger,
                                    "msg": message, "args": None, "operation_id": operation_id, "phase": phase,
                                    "created": time.time() if created is None else created})
    return LineFormatter().format(record)

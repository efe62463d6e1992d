"""What an AWS error says, as plain data: the core classifies facts, never an SDK's exception.

The adapters read a botocore exception into an ``AwsFact`` (``adapters/error_facts.py``); pasted
text and JSON errors are read into the same fact here, from the response shape AWS documents
(``Error.Code``/``Message``, ``ResponseMetadata``, ``Reason``, ``CancellationReasons``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["AwsFact", "fact_from_response", "client_error_message"]

# botocore's wording of a service's error (``ClientError.MSG_TEMPLATE``), so a fact read from a
# pasted line says what the live exception would have said.
_MSG_TEMPLATE = "An error occurred ({code}) when calling the {operation} operation{retry_info}: {message}"

# Of DynamoDB's per-item cancellation reasons, the ones that say "try again" (any other one,
# e.g. ConditionalCheckFailed, is an answer and makes the whole cancellation permanent).
_RETRY_REASONS = ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded")


@dataclass(frozen=True)
class AwsFact:
    """One AWS error. ``code`` is the service's error code, ``None`` for an SDK failure that
    never got an answer (no credentials, no network): then ``exception_bases`` (the exception's
    class names, most specific first) is what classifies it. ``message`` is the full printed
    message, ``error_message`` the service's own ``Error.Message``."""

    code: str | None
    message: str
    service: str | None = None
    operation: str | None = None
    error_message: str = ""
    reason: str | None = None
    http_status: int | None = None
    request_id: str | None = None
    retry_after: float | None = None
    exception_name: str | None = None
    exception_bases: tuple[str, ...] = ()


def fact_from_response(response: Mapping[str, Any], operation: str | None, *, message: str | None = None,
                       service: str | None = None, exception_name: str | None = "ClientError",
                       exception_bases: tuple[str, ...] = ("ClientError",)) -> AwsFact:
    """The fact of a parsed error response (botocore's ``ClientError.response`` shape)."""
    error: Any = response.get("Error") or {}
    meta: Any = response.get("ResponseMetadata") or {}
    return AwsFact(
        code=str(error.get("Code") or "Unknown"),
        message=message if message is not None else client_error_message(response, operation),
        service=service,
        operation=operation,
        error_message=str(error.get("Message") or ""),
        reason=str(response.get("Reason") or error.get("Reason") or _cancellation_reason(response) or "") or None,
        http_status=_int(meta.get("HTTPStatusCode")),
        request_id=str(meta["RequestId"]) if meta.get("RequestId") else None,
        retry_after=_retry_after(response, error, meta),
        exception_name=exception_name,
        exception_bases=exception_bases,
    )


def client_error_message(response: Mapping[str, Any], operation: str | None) -> str:
    """What botocore's ClientError prints for this response and operation."""
    error: Any = response.get("Error", {})
    meta: Any = response.get("ResponseMetadata")
    retry_info = ""
    if meta is not None and meta.get("MaxAttemptsReached", False) and "RetryAttempts" in meta:
        retry_info = f" (reached max retries: {meta['RetryAttempts']})"
    return _MSG_TEMPLATE.format(code=error.get("Code", "Unknown"), message=error.get("Message", "Unknown"),
                                operation=operation, retry_info=retry_info)


def _retry_after(response: Mapping[str, Any], error: Mapping[str, Any], meta: Mapping[str, Any]) -> float | None:
    headers = {str(k).lower(): v for k, v in (meta.get("HTTPHeaders") or {}).items()}
    for value in (response.get("RetryAfterSeconds"), error.get("RetryAfterSeconds"), headers.get("retry-after")):
        number = _float(value)
        if number is not None and number >= 0:
            return number
    return None


def _cancellation_reason(response: Any) -> str | None:
    """The Reason of a TransactionCanceledException: a retryable one only if no item said no."""
    codes = {str(reason.get("Code")) for reason in response.get("CancellationReasons") or []
             if isinstance(reason, dict) and reason.get("Code") not in (None, "None")}
    if not codes or not codes <= set(_RETRY_REASONS):
        return None
    return next(code for code in _RETRY_REASONS if code in codes)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None else None

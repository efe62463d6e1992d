"""Small helpers shared by the gap fills: patching, locking, request arguments, pagination."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from moto.core.utils import camelcase_to_underscores

T = TypeVar("T")

# Implementation note: moto itself takes no locks. In server mode werkzeug serves requests on
# threads, and our gap fills keep several indexes that must change together, so every gap
# fill that reads-then-writes state holds this one re-entrant lock.
LOCK = threading.RLock()

_MARK = "__awsideman_gapfill__"


def install(cls: type, name: str, func: Callable[..., Any]) -> None:
    """Set ``cls.name = func`` unless a gap fill is already there (keeps apply() idempotent)."""
    current = cls.__dict__.get(name)
    if current is not None and getattr(current, _MARK, False):
        return
    setattr(func, _MARK, True)
    setattr(cls, name, func)


def install_all(cls: type, funcs: Iterable[Callable[..., Any]]) -> None:
    """`install` each function under its own name."""
    for func in funcs:
        install(cls, func.__name__, func)


def request_args(response: BaseResponse, *params: str) -> dict[str, Any]:
    """The request's `params` as the backend's keyword arguments (InstanceArn -> instance_arn).

    A parameter the caller did not send is None, which the gap-filled backends read as "not
    given" (an update keeps that field as it is)."""
    return {camelcase_to_underscores(name): response._get_param(name) for name in params}


def empty_answer(response: BaseResponse, method: Callable[..., Any], *params: str) -> str:
    """Call the backend `method` with the request's `params`, for an action that answers ``{}``."""
    method(**request_args(response, *params))
    return "{}"


class ValidationException(JsonRESTError):
    """sso-admin ValidationException (moto has none for this service)."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__(error_type="ValidationException", message=message)


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"gf:{offset}".encode()).decode()


def _decode(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "gf" or not number.isdigit():
            raise ValueError(token)
        return int(number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationException("The NextToken provided is invalid.") from exc


def page(
    items: Sequence[T], max_results: Any, next_token: str | None, default: int = 100
) -> tuple[list[T], str | None]:
    """Slice ``items`` like an AWS list call: (this page, NextToken or None)."""
    start = _decode(next_token) if next_token else 0
    size = int(max_results) if max_results else default
    if size < 1:
        raise ValidationException("MaxResults must be at least 1.")
    chunk = list(items[start : start + size])
    more = start + size < len(items)
    return chunk, (_encode(start + size) if more else None)

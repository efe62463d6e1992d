"""botocore's exceptions -> plain facts the core's error table classifies (``core/error_facts.py``).

The core never imports botocore: this module reads a ``ClientError`` (the service's answer) or a
``BotoCoreError`` (the SDK's own failure: no credentials, no network) into an ``AwsFact`` and is
registered with the analyser when the adapters package is imported, which every code path that
can meet a botocore exception does (the gateway and the journal's DynamoDB store live here).
The installed botocore's exception classes (names, bases, message templates) are registered at
the same time, so pasted text naming one is classified as the exception itself would be, and a
botocore upgrade needs no copy of its names refreshed.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
from botocore.exceptions import BotoCoreError, ClientError

from awsideman.core import errors
from awsideman.core.error_facts import AwsFact, fact_from_response

__all__ = ["aws_fact", "botocore_tables"]


def aws_fact(exc: BaseException) -> AwsFact | None:
    """The facts of a botocore exception; ``None`` for anything else."""
    if isinstance(exc, ClientError):
        response: Any = exc.response or {}
        return fact_from_response(response, exc.operation_name, message=str(exc),
                                  exception_name=type(exc).__name__, exception_bases=errors.rule_names(type(exc)))
    if isinstance(exc, BotoCoreError):
        name = type(exc).__name__
        return AwsFact(code=None, message=str(exc) or name, exception_name=name,
                       exception_bases=errors.rule_names(type(exc)))
    return None


def botocore_tables() -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """(class name -> walked names, class name -> printed message template) of botocore's exceptions."""
    classes: dict[str, tuple[str, ...]] = {}
    messages: dict[str, str] = {}
    for name, klass in vars(botocore.exceptions).items():
        if not (isinstance(klass, type) and issubclass(klass, BaseException)):
            continue
        classes[name] = errors.rule_names(klass)
        fmt = getattr(klass, "fmt", None)
        if issubclass(klass, BotoCoreError) and isinstance(fmt, str):
            messages[name] = fmt
    return classes, messages


errors.read_facts_with(aws_fact)
errors.know_sdk_exceptions(*botocore_tables())

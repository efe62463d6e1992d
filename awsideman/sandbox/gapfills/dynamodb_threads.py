"""moto's DynamoDB backend is not thread-safe (concurrent queries and transactions raise
"dictionary changed size during iteration"); the real service is. One request at a time."""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.RLock()


def install() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "_awsideman_serialised", False):
        return

    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    call_action._awsideman_serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]

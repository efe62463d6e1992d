"""The in-process transport: a botocore `before-send` handler placed ahead of moto's stubber.

`install(injector)` / `uninstall()` arm and disarm it; the served transport is the WSGI
middleware in `server.py`. Both ask the same `FaultInjector` and render with `error_response()`.
"""

from __future__ import annotations

import io
import threading
from typing import Any

from awsideman.sandbox.credential_expiry import access_key_of
from awsideman.sandbox.fault_responses import error_response
from awsideman.sandbox.gapfills.async_policy import drop_policy, use_policy
from awsideman.sandbox.injector import FaultInjector


class _RawBody(io.BytesIO):
    """The `raw` object botocore's AWSResponse reads (`stream()` like urllib3's)."""

    def stream(self, **_: Any):
        yield self.getvalue()


_active: FaultInjector | None = None
_REFUSED_URL = "https://refused-by-fault-rule.invalid/"
_install_lock = threading.Lock()


def _before_send(request: Any, event_name: str = "", **_: Any) -> Any:
    """botocore `before-send` handler: a response or an exception pre-empts moto and the network."""
    injector = _active
    if injector is None:
        return None
    # event_name is `before-send.<service-id, hyphenized>.<OperationName>` (botocore/endpoint.py)
    _, service, operation = event_name.split(".", 2)
    authorization = request.headers.get("Authorization") or b""
    if isinstance(authorization, bytes):
        authorization = authorization.decode("ascii", "replace")
    fault = injector.decide(service, operation, access_key_of(authorization))
    if fault is None:
        return None
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ConnectionClosedError

    if fault.kind == "lost_response":
        from moto.core.models import botocore_stubber

        botocore_stubber(event_name=event_name, request=request)  # moto applies it; the answer is lost
    if fault.kind in ("reset", "lost_response"):
        # botocore catches exceptions from before-send exactly like transport errors
        raise ConnectionClosedError(endpoint_url=request.url)
    status, headers, body = error_response(fault)
    answer = AWSResponse(request.url, status, headers, _RawBody(body))
    # botocore emits before-send to every handler and only then takes the first response, so
    # moto's stubber would still apply the call (an injected AccessDenied on CreateUser would
    # create the user). Point the request nowhere moto serves: a refused call changes nothing.
    request.url = _REFUSED_URL
    return answer


def install(injector: FaultInjector) -> None:
    """Put the in-process handler first among botocore's built-in before-send handlers.

    botocore stops at the first before-send handler that returns a response; moto appends its
    stubber to `BUILTIN_HANDLERS` when imported, so inserting at index 0 runs ours before it.
    Sessions (and their clients) created from now on get the handler; it is inert while no
    injector is installed, so sessions that outlive `uninstall()` are unaffected.
    """
    global _active
    from botocore.handlers import BUILTIN_HANDLERS

    with _install_lock:
        drop_policy(_active)
        _active = injector
        use_policy(injector)  # the async requests moto now serves follow this injector's rules
        spec = ("before-send", _before_send)
        if spec not in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.insert(0, spec)


def uninstall() -> None:
    """Remove the handler from botocore's built-ins and disarm it in existing sessions."""
    global _active
    from botocore.handlers import BUILTIN_HANDLERS

    with _install_lock:
        drop_policy(_active)
        _active = None
        while ("before-send", _before_send) in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(("before-send", _before_send))

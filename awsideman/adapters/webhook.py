"""POST a notification to a webhook with urllib: one attempt per call, the retry policy decides.

A failure is raised in the analyser's vocabulary, so the one retry owner judges it as it judges
an AWS call:
- the connection could not be made (refused, no route, DNS, a connect timeout): nothing was
  sent; it is raised as ``EndpointConnectionError``, the name botocore gives the same failure
  and the one the retry policy knows to be safe to send again;
- TLS refused (a certificate that does not verify): the ``ssl`` error itself, not retried;
- an HTTP status (``WebhookError``, read by the analyser as an ``AwsFact``): by status, so 429
  is throttling (its ``Retry-After`` honoured), 5xx transient, 4xx permanent;
- no answer after the request went out (a read timeout, a reset): the socket's own error; the
  request may have been taken, so a policy that must not send it twice stops there.
Redirects are not followed (a webhook that moved is a configuration to fix, and following one
could carry the body somewhere else), and loopback URLs never go through a proxy.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from awsideman import __version__
from awsideman.core import errors
from awsideman.core.error_facts import AwsFact
from awsideman.core.notify_config import LOOPBACK, host_only

MAX_ANSWER = 64 * 1024  # of the answer's body, read and dropped (keeps the connection's end clean)


class WebhookError(Exception):
    """The webhook answered with a status that is not 2xx; ``fact`` is what the analyser reads."""

    def __init__(self, fact: AwsFact) -> None:
        super().__init__(fact.message)
        self.fact = fact


class EndpointConnectionError(ConnectionError):
    """No connection to the webhook: the request was never sent (botocore's name for the same)."""


def post(url: str, body: bytes, *, content_type: str, timeout: float) -> int:
    """POST ``body`` to ``url`` within ``timeout`` seconds per socket wait; the 2xx status, else raises."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": content_type, "User-Agent": f"awsideman/{__version__}"})
    try:
        with _opener(url).open(request, timeout=timeout) as answer:
            answer.read(MAX_ANSWER)
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        raise WebhookError(_status_fact(url, exc)) from None
    except urllib.error.URLError as exc:
        # urllib raises URLError only while connecting and sending; what fails after the request
        # went out (waiting for the answer) arrives as the socket's own error and passes through.
        if isinstance(exc.reason, ssl.SSLError):
            raise exc.reason from None
        raise EndpointConnectionError(f"could not connect to {host_only(url)}: {exc.reason}") from None


def _status_fact(url: str, exc: urllib.error.HTTPError) -> AwsFact:
    status = int(exc.code)
    moved = " (redirects are not followed: configure the webhook's final URL)" if 300 <= status < 400 else ""
    retry_after = _seconds(exc.headers.get("Retry-After") if exc.headers else None)
    return AwsFact(code=str(status), message=f"{host_only(url)} answered HTTP {status} {exc.reason}{moved}",
                   operation="POST", error_message=str(exc.reason), http_status=status, retry_after=retry_after,
                   exception_name="HTTPError", exception_bases=("HTTPError",))


def _seconds(value: Any) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):  # an HTTP date: the policy's own backoff decides instead
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener(url: str) -> urllib.request.OpenerDirector:
    handlers: list[Any] = [_NoRedirect()]
    if urlsplit(url).hostname in LOOPBACK:
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


def _fact(exc: BaseException) -> AwsFact | None:
    return exc.fact if isinstance(exc, WebhookError) else None


errors.read_facts_with(_fact)

"""The sandbox served over HTTP: moto's server app behind the fault-injection middleware.

Everything reaches it through one endpoint (`AWS_ENDPOINT_URL`); moto dispatches by the
SigV4 credential scope / X-Amz-Target. Paths under `/_sandbox/` are control endpoints and
never reach moto:

    GET  /_sandbox/counters        {"calls": {"svc:Op": n}, "faults": {"svc:Op:kind": n}}
    POST /_sandbox/counters/reset  (also forgets call start times)
    GET  /_sandbox/calls?since=T   calls started at or after T (epoch seconds, wall clock):
                                   {"since": T, "calls": {"svc:Op": n}, "total": n, "complete": bool}
    POST /_sandbox/clock/advance   body {"seconds": S}: async requests end and quota buckets
                                   refill as if S seconds had passed; {"advanced": S}
    GET  /_sandbox/faults          the current rules (JSON)
    PUT  /_sandbox/faults          replace the rules live (JSON body; 400 with the reason if invalid)
    POST /_sandbox/reset           empty moto's state and the counters; body {"faults": true}
                                   also clears the rules
    POST /_sandbox/seed            body {"size": "huge", "seed": 0}: the seeder's data set written
                                   straight into the backends (seconds, no API calls), counters
                                   zeroed; {"seeded": size, "counts": {...}}
    POST /_sandbox/credentials     a fresh session (new access key, secret, token, Expiration),
                                   shaped as a credential_process prints it: what works again
                                   once the expiring-credentials quirk has expired the old key
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from werkzeug.serving import BaseWSGIServer, make_server

from awsideman.sandbox import patches
from awsideman.sandbox.call_log import CallsSince
from awsideman.sandbox.credential_expiry import access_key_of
from awsideman.sandbox.fault_responses import error_response
from awsideman.sandbox.fault_rules import FaultRules, FaultRulesError, coerce_rules
from awsideman.sandbox.gapfills.async_policy import drop_policy, use_policy
from awsideman.sandbox.injector import FaultInjector, InjectorControls

REGION = "us-east-1"
CONTROL_PREFIX = "/_sandbox/"
# X-Amz-Target prefixes of the JSON services we care about -> botocore service id.
TARGET_PREFIXES = {"SWBExternalService": "sso-admin", "AWSIdentityStore": "identitystore",
                   "TrentService": "kms"}
# SigV4 signing names that differ from the service id used for counters and rules.
SIGNING_NAMES = {"sso": "sso-admin", "monitoring": "cloudwatch"}
RulesLike = FaultRules | Mapping[str, Any] | str | Path | None


def sandbox_env(endpoint_url: str) -> dict[str, str]:
    """What a process needs to use the sandbox: endpoint, dummy credentials, region."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # never wait on the EC2 metadata service looking for other credentials
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def sandbox_session(region: str = REGION) -> Any:
    """A boto3 Session with the sandbox's dummy credentials that ignores the caller's AWS
    profile and config files (a developer's AWS_PROFILE must not break or redirect tests)."""
    import boto3
    import botocore.session

    ignored = (None, None, None, None)
    absent = (None, None, os.devnull, None)
    core = botocore.session.Session(session_vars={"profile": ignored, "config_file": absent,
                                                  "credentials_file": absent})
    return boto3.Session(botocore_session=core, aws_access_key_id="testing",
                         aws_secret_access_key="testing", aws_session_token="testing", region_name=region)


def reset_moto() -> None:
    """Empty every moto backend (what moto's own `/moto-api/reset` does)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    patches.apply()


# -- identifying the call ------------------------------------------------------------------
def identify(environ: Mapping[str, Any]) -> tuple[str, str]:
    """(service id, operation name) of a request, as botocore would name them."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    scope_service = _scope_service(environ.get("HTTP_AUTHORIZATION", ""))
    if target and "." in target:
        prefix, operation = target.split(".", 1)
        return TARGET_PREFIXES.get(prefix, scope_service or prefix.lower()), operation
    service = scope_service or "unknown"
    action = _query_action(environ)
    if action:
        return service, action
    return service, _rest_operation(service, environ.get("REQUEST_METHOD", "GET"),
                                    environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", ""),
                                    copy="HTTP_X_AMZ_COPY_SOURCE" in environ)


def _scope_service(auth: str) -> str | None:
    # "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sso/aws4_request, ..."
    try:
        service = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")[3]
    except IndexError:
        return None
    return SIGNING_NAMES.get(service, service)


def _query_action(environ: Any) -> str | None:
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return action[0]
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = _peek_body(environ)
    return parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]


def _peek_body(environ: Any) -> bytes:
    """Read the body and put it back for the next reader."""
    import io

    body = environ.get("sandbox.body")
    if body is None:  # read the socket once; later readers get a fresh copy
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["sandbox.body"] = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


@cache
def _rest_routes(service: str) -> tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...]:
    """(operation, method, path segments, required query items) from botocore's model."""
    import botocore.session

    try:
        model = botocore.session.get_session().get_service_model(service)
    except Exception:  # an unknown service: only `*` and `service:*` rules can match it
        return ()
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http.get("requestUri", "/").partition("?")
        routes.append((name, http.get("method", "GET"), tuple(s for s in path.split("/") if s),
                       tuple(q for q in query.split("&") if q)))
    return tuple(routes)


def _rest_operation(service: str, method: str, path: str, query: str, *, copy: bool = False) -> str:
    """Best botocore operation for a REST call (path-style), most specific route first.

    Routes alone cannot tell PutObject from CopyObject (same method and URI); the
    x-amz-copy-source header does, hence `copy`.
    """
    segments = [s for s in path.split("/") if s]
    params = parse_qs(query, keep_blank_values=True)
    best, best_score = "Unknown", (-1, -1)
    for name, route_method, route_segments, required in _rest_routes(service):
        if route_method != method or not _segments_match(route_segments, segments):
            continue
        if ("Copy" in name) != copy:
            continue
        if not all(_query_has(params, item) for item in required):
            continue
        score = (len(required), len(route_segments))
        if score > best_score:
            best, best_score = name, score
    return best


def _segments_match(route: tuple[str, ...], actual: list[str]) -> bool:
    if route and route[-1].endswith("+}"):
        return len(actual) >= len(route)
    return len(route) == len(actual) and all(
        r.startswith("{") or r == a for r, a in zip(route, actual, strict=True))


def _query_has(params: Mapping[str, list[str]], item: str) -> bool:
    key, _, value = item.partition("=")
    return key in params and (not value or value in params[key])


# -- the middleware --------------------------------------------------------------------------
class SandboxApp:
    """WSGI middleware: control endpoints, then fault decisions, then moto."""

    def __init__(self, moto_app: Callable[..., Any], injector: FaultInjector) -> None:
        self.moto_app = moto_app
        self.injector = injector

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response, path[len(CONTROL_PREFIX):].rstrip("/"))
        service, operation = identify(environ)
        fault = self.injector.decide(service, operation, access_key_of(environ.get("HTTP_AUTHORIZATION", "")))
        if fault is None:
            return self.moto_app(environ, start_response)
        if fault.kind == "lost_response":
            _peek_body(environ)
            _drain(self.moto_app(environ, lambda *_args, **_kw: lambda _data: None))
            _drop_connection(environ)
        if fault.kind == "reset":
            _drop_connection(environ)
        status, headers, body = error_response(fault)
        headers["Content-Length"] = str(len(body))
        start_response(f"{status} {_REASONS.get(status, 'Error')}", list(headers.items()))
        return [body]

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any],
                 action: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            status, document = self._dispatch(method, action, _peek_body(environ), environ.get("QUERY_STRING", ""))
        except FaultRulesError as exc:
            status, document = 400, {"error": str(exc)}
        except ValueError as exc:
            status, document = 400, {"error": f"bad control request: {exc}"}
        body = json.dumps(document, sort_keys=True).encode()
        start_response(f"{status} {_REASONS.get(status, 'OK')}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _dispatch(self, method: str, action: str, body: bytes, query: str) -> tuple[int, Any]:
        if (method, action) == ("GET", "counters"):
            return 200, {"calls": self.injector.counters(), "faults": self.injector.fault_counters()}
        if (method, action) == ("POST", "counters/reset"):
            self.injector.reset_counters()
            return 200, {"reset": "counters"}
        if (method, action) == ("GET", "calls"):
            since = float(parse_qs(query).get("since", ["0"])[0])
            return 200, self.injector.calls_since(since).to_dict()
        if (method, action) == ("POST", "clock/advance"):
            seconds = _seconds(json.loads(body or b"{}"))
            self.injector.advance(seconds)
            return 200, {"advanced": seconds}
        if (method, action) == ("POST", "seed"):
            return 200, _seed(json.loads(body or b"{}"), self.injector)
        if (method, action) == ("POST", "credentials"):
            return 200, self.injector.mint_credentials()
        if (method, action) == ("GET", "faults"):
            return 200, self.injector.rules.to_dict()
        if (method, action) == ("PUT", "faults"):
            self.injector.set_rules(FaultRules.from_dict(json.loads(body or b"{}"), source="PUT /_sandbox/faults"))
            return 200, self.injector.rules.to_dict()
        if (method, action) == ("POST", "reset"):
            options = json.loads(body or b"{}")
            reset_moto()
            self.injector.reset_counters()
            if isinstance(options, dict) and options.get("faults"):
                self.injector.set_rules(None)
            return 200, {"reset": "state"}
        return 404, {"error": f"no control endpoint {method} /_sandbox/{action}"}


def _seed(document: Any, injector: FaultInjector) -> dict[str, Any]:
    """Seed in this process (the backends live here); a bad size or seed is a 400."""
    from awsideman.sandbox.seed_backends import seed_backends
    from awsideman.sandbox.seeder import SIZES

    size = document.get("size") if isinstance(document, dict) else None
    seed = document.get("seed", 0) if isinstance(document, dict) else None
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, not {seed!r}")
    counts = seed_backends(size, seed=seed).counts()
    injector.reset_counters()
    return {"seeded": size, "counts": counts}


def _seconds(document: Any) -> float:
    """The `seconds` of a clock/advance body: a number >= 0."""
    seconds = document.get("seconds") if isinstance(document, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError('body must be {"seconds": S} with S >= 0')
    return float(seconds)


_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            500: "Internal Server Error", 503: "Service Unavailable"}


def _drain(response: Iterable[bytes]) -> None:
    """Run moto's answer to completion (the call takes effect) and throw it away."""
    try:
        for _ in response:
            pass
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()


def _drop_connection(environ: dict[str, Any]) -> None:
    """Close the client's socket without an answer (RST), as a reset by a load balancer does."""
    sock = environ.get("werkzeug.socket")
    handler = environ.get("sandbox.handler")
    _peek_body(environ)  # let the client finish sending, so it fails on the answer, not the send
    if handler is not None:
        handler.close_connection = True
    if sock is not None:
        # SO_LINGER 0: close() sends RST instead of FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    # werkzeug treats ConnectionError from the app as a dropped connection: it writes nothing
    raise ConnectionResetError("sandbox fault injection: connection reset")


def _request_handler(verbose: bool) -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class SandboxRequestHandler(MotoRequestHandler):
        """moto's handler, quiet unless verbose, exposing itself to the app for resets."""

        def make_environ(self) -> dict[str, Any]:
            environ = super().make_environ()
            environ["sandbox.handler"] = self
            return environ

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            if verbose:
                super().log_request(*args, **kwargs)

    return SandboxRequestHandler


# -- the server ------------------------------------------------------------------------------
class SandboxServer(InjectorControls):
    """moto + fault injection on a local port, in a background thread; a context manager.

    Its controls (`set_faults`, `counters`, ...) act on the injector directly, not over HTTP."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", rules: RulesLike = None, *,
                 injector: FaultInjector | None = None, verbose: bool = False) -> None:
        self.host = host
        self.port = port
        self.injector = injector or FaultInjector(rules)
        if injector is not None and rules is not None:
            self.injector.set_rules(rules)
        self.verbose = verbose
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("SandboxServer is not started")
        return f"http://{self.host}:{self._server.server_port}"

    def start(self) -> SandboxServer:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        patches.apply()
        app = SandboxApp(DomainDispatcherApplication(create_backend_app), self.injector)
        self._server = make_server(self.host, self.port, app, threaded=True,
                                   request_handler=_request_handler(self.verbose))
        use_policy(self.injector)  # the async requests served here follow this injector's rules
        self._thread = threading.Thread(target=self._server.serve_forever, name="awsideman-sandbox",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            drop_policy(self.injector)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Environment variables pointing boto3 (and awsideman) at this sandbox."""
        return sandbox_env(self.endpoint_url)

    def reset(self, *, faults: bool = False) -> None:
        """Empty moto's state and the counters (and the rules with `faults=True`)."""
        reset_moto()
        self.injector.reset_counters()
        if faults:
            self.injector.set_rules(None)

    def call_entries(self, instant: float) -> list[tuple[float, str]]:
        return self.injector.call_entries(instant)


class SandboxClient:
    """Talks to a running sandbox's control endpoints (e.g. one started by `sandbox up`)."""

    def __init__(self, endpoint_url: str, timeout: float = 10.0) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.timeout = timeout

    def counters(self) -> dict[str, int]:
        return self._call("GET", "counters")["calls"]

    def fault_counters(self) -> dict[str, int]:
        return self._call("GET", "counters")["faults"]

    def reset_counters(self) -> None:
        self._call("POST", "counters/reset")

    def calls_since(self, instant: float) -> CallsSince:
        """Calls that started at or after `instant` (epoch seconds, e.g. `time.time()`)."""
        return CallsSince.from_dict(self._call("GET", f"calls?since={instant!r}"))

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock: async requests end as if `seconds` had passed."""
        self._call("POST", "clock/advance", {"seconds": seconds})

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "faults")

    def mint_credentials(self) -> dict[str, Any]:
        """A fresh session (see ``POST /_sandbox/credentials``)."""
        return dict(self._call("POST", "credentials"))

    def set_faults(self, rules: RulesLike) -> dict[str, Any]:
        return self._call("PUT", "faults", coerce_rules(rules).to_dict())

    def reset(self, *, faults: bool = False) -> None:
        self._call("POST", "reset", {"faults": faults})

    def seed(self, size: str, seed: int = 0) -> dict[str, int]:
        """Seed the emulator in its own process (POST /_sandbox/seed); how many of each kind."""
        counts: dict[str, int] = self._call("POST", "seed", {"size": size, "seed": seed})["counts"]
        return counts

    def _call(self, method: str, action: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"{self.endpoint_url}{CONTROL_PREFIX}{action}", data=data,
                                         method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
            if exc.code == 400:
                raise FaultRulesError(detail) from None
            raise SandboxUnavailableError(f"{self.endpoint_url}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SandboxUnavailableError(f"no sandbox answering at {self.endpoint_url} ({reason})") from None


class SandboxUnavailableError(RuntimeError):
    """No sandbox answers at the endpoint, or it refused a control request."""

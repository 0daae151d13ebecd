"""A small threaded HTTP(S) server that the Entra, Purview, Key Vault and Qualytics simulators share.

Why not a mock: the product's clients (requests, azure-identity, azure-keyvault-secrets) must be exercised
over a real socket, with real TLS, real status codes and real headers. Each simulator declares routes
on a ``SimServer`` and keeps its own state; this module only does transport, routing and fault knobs
(latency, a token-bucket rate limit answering 429 + Retry-After, random 5xx).
"""

from __future__ import annotations

import json
import random
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # route parameters

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None


@dataclass
class SimResponse:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes/str → as is; None → empty
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is None:
            return b"", headers
        if isinstance(self.body, (bytes, bytearray)):
            return bytes(self.body), headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode("utf-8"), headers
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return json.dumps(self.body).encode("utf-8"), headers


def json_response(body: Any, status: int = 200, **headers: str) -> SimResponse:
    return SimResponse(status=status, body=body, headers=dict(headers))


Handler = Callable[[SimRequest], SimResponse]


@dataclass
class Faults:
    """Knobs a test or the benchmark turns to make a simulator misbehave like the real service."""

    latency_s: float = 0.0
    rate_limit_per_s: float | None = None  # token bucket; excess requests get 429 + Retry-After
    rate_burst: float | None = None
    error_rate: float = 0.0  # share of requests answered with a random 500/502/503
    seed: int = 7
    fail_kinds: dict[str, int] = field(default_factory=dict)  # route kind → status it always answers


class _TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.capacity, self.tokens = rate, burst, burst
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """Take one token; return 0 when granted, else seconds until one is available."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


class SimServer:
    """Routes + a ThreadingHTTPServer on 127.0.0.1 (port 0 = a free port), optionally over TLS."""

    def __init__(self, name: str, *, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.name = name
        self.routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self.faults = Faults()
        self.stats: Counter[str] = Counter()  # route kind → count (throttled/faulted counted apart)
        # (route kind, the path's {guid}) → count: what a test did to its own assets, whatever else ran
        self.by_guid: Counter[tuple[str, str]] = Counter()
        self._ssl_context = ssl_context
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._bucket: _TokenBucket | None = None
        self._random = random.Random(self.faults.seed)
        self._random_lock = threading.Lock()
        self.exempt_from_faults: Callable[[SimRequest], bool] = lambda req: False

    # --- routing -----------------------------------------------------------------------------
    def route(self, method: str, pattern: str, kind: str | None = None) -> Callable[[Handler], Handler]:
        """Register a handler. ``pattern`` uses ``{name}`` for a path segment and ``{name:path}`` for the rest."""
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        compiled = re.compile("^" + regex + "$")

        def register(handler: Handler) -> Handler:
            self.routes.append((method.upper(), compiled, kind or handler.__name__, handler))
            return handler

        return register

    def set_faults(self, **knobs: Any) -> None:
        for key, value in knobs.items():
            if not hasattr(self.faults, key):
                raise AttributeError(f"unknown fault knob {key}")
            setattr(self.faults, key, value)
        rate = self.faults.rate_limit_per_s
        self._bucket = _TokenBucket(rate, self.faults.rate_burst or max(1.0, rate)) if rate else None
        self._random = random.Random(self.faults.seed)

    def dispatch(self, req: SimRequest) -> SimResponse:
        allowed: list[str] = []
        for method, regex, kind, handler in self.routes:
            match = regex.match(req.path)
            if not match:
                continue
            if method != req.method:
                allowed.append(method)
                continue
            req.params = {k: v for k, v in match.groupdict().items()}
            fault = None if self.exempt_from_faults(req) else self._fault()
            if fault is None and kind in self.faults.fail_kinds:
                status = self.faults.fail_kinds[kind]
                fault = json_response({"error": {"code": "SimulatedFault", "message": f"{kind} fails"}}, status)
            if fault is not None:
                self.stats[f"{kind}:{fault.status}"] += 1
                return fault
            self.stats[kind] += 1
            if "guid" in req.params:
                self.by_guid[(kind, req.params["guid"])] += 1
            return handler(req)
        if allowed:
            return json_response(
                {"error": {"code": "MethodNotAllowed", "message": "Method not allowed"}}, 405
            )
        return self.not_found(req)

    def not_found(self, req: SimRequest) -> SimResponse:
        return json_response({"error": {"code": "ResourceNotFound", "message": "Resource not found"}}, 404)

    def _fault(self) -> SimResponse | None:
        if self.faults.latency_s:
            time.sleep(self.faults.latency_s)
        if self._bucket is not None:
            wait = self._bucket.take()
            if wait > 0:
                retry_after = max(1, int(wait + 0.999))
                body = {
                    "error": {
                        "code": "TooManyRequests",
                        "message": "Rate limit is exceeded. Try again later.",
                    }
                }
                return json_response(body, 429, **{"Retry-After": str(retry_after)})
        if self.faults.error_rate:
            with self._random_lock:
                hit = self._random.random() < self.faults.error_rate
                status = self._random.choice([500, 502, 503])
            if hit:
                body = {
                    "error": {
                        "code": "InternalServerError",
                        "message": "The service is temporarily unavailable.",
                    }
                }
                return json_response(body, status)
        return None

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, f"{self.name} simulator is not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> SimServer:
        sim = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes: don't wait 40 ms for an ACK

            def _handle(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = SimRequest(
                    method=self.command,
                    path=split.path,
                    query=parse_qs(split.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                try:
                    resp = sim.dispatch(req)
                except Exception as exc:  # a simulator bug must surface as a 500, not a hung socket
                    resp = json_response({"error": {"code": "SimulatorError", "message": repr(exc)}}, 500)
                payload, headers = resp.encode()
                self.send_response(resp.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:  # quiet by default
                return

        httpd = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        httpd.daemon_threads = True
        if self._ssl_context is not None:
            httpd.socket = self._ssl_context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sim-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Simulator:
    """The lifecycle every simulator shares: its routes live on one ``SimServer`` in ``self.server``."""

    server: SimServer

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The local host's HTTP side: routes ``/<routePrefix>/<route>`` to the HTTP-triggered functions with the
Functions auth levels (FUNCTION/ADMIN need the key), and the ``BaseHTTPRequestHandler`` that serves them."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from purview_sync.dev.host.functions import Function, Out, invocation

log = logging.getLogger("devhost")


class HttpFront:
    """Answers one request: route match, method, auth key, then the function; ``send_outputs`` settles the
    output bindings of a call that succeeded."""

    def __init__(self, functions: list[Function], route_prefix: str, function_key: str, url: Callable[[], str],
                 send_outputs: Callable[[Function, dict[str, Out]], None]) -> None:  # fmt: skip
        self.functions = [fn for fn in functions if fn.route is not None]
        self.route_prefix, self.function_key = route_prefix, function_key
        self.url, self.send_outputs = url, send_outputs

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(raw_path)
        prefix = "/" + self.route_prefix if self.route_prefix else ""
        if not split.path.startswith(prefix + "/") and split.path != prefix:
            return 404, {}, b""
        sub_path = split.path[len(prefix) :] or "/"
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        method_allowed = False
        for fn in self.functions:
            assert fn.route is not None
            match = fn.route.match(sub_path.rstrip("/") or "/")
            if not match:
                continue
            if fn.methods and method not in fn.methods:
                method_allowed = True
                continue
            if fn.auth_level != "ANONYMOUS":
                key = headers.get("x-functions-key") or params.get("code")
                if key != self.function_key:
                    return 401, {}, b""
            route_params = {k: v for k, v in match.groupdict().items() if v is not None}
            request = func.HttpRequest(
                method=method,
                url=f"{self.url()}{raw_path}",
                headers=headers,
                params=params,
                route_params=route_params,
                body=body,
            )
            return self._invoke(fn, request)
        return (405 if method_allowed else 404), {}, b""

    def _invoke(self, fn: Function, request: func.HttpRequest) -> tuple[int, dict[str, str], bytes]:
        kwargs, outs = invocation(fn, request)
        try:
            response = fn.user_function(**kwargs)
        except Exception:
            log.error("Executed 'Functions.%s' (Failed)\n%s", fn.name, traceback.format_exc())
            return 500, {}, b""
        self.send_outputs(fn, outs)
        if not isinstance(response, func.HttpResponse):
            response = func.HttpResponse(str(response) if response is not None else "", status_code=200)
        headers = {k: v for k, v in response.headers.items()}
        if response.mimetype and "content-type" not in {k.lower() for k in headers}:
            headers["Content-Type"] = f"{response.mimetype}; charset={response.charset or 'utf-8'}"
        log.info(
            "Executed 'Functions.%s' (%s %s → %s)", fn.name, request.method, request.url, response.status_code
        )
        return response.status_code, headers, response.get_body() or b""

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, out_headers, payload = front.handle(self.command, self.path, headers, body)
                self.send_response(status)
                for key, value in out_headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

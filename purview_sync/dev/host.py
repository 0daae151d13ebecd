"""A local Functions host for the real ``function_app.app`` (Core Tools cannot be installed here).

It reads the registered functions once (``app.get_functions()``) and mirrors the real host:
- HTTP triggers on ``http://127.0.0.1:<port>/<routePrefix>/<route>`` with route parameters, methods and
  auth level (FUNCTION/ADMIN need the key in ``x-functions-key`` or ``?code=``; ANONYMOUS is open);
- queue triggers polled in the configured storage with the queue extension's semantics: Base64 bodies
  (undecodable → straight to ``<queue>-poison``), a renewed lease while the function runs, on failure the
  message reappears after host.json ``visibilityTimeout``, and after ``maxDequeueCount`` failed attempts it
  is copied to ``<queue>-poison``; batches of ``batchSize``; queue output bindings are sent on success.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import inspect
import json
import logging
import re
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient

log = logging.getLogger("devhost")


def parse_timespan(value: str | int | float | None, default: float) -> float:
    """host.json timespans are ``hh:mm:ss`` (optionally ``d.hh:mm:ss``)."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    days = 0
    if "." in value.split(":")[0]:
        day_part, value = value.split(".", 1)
        days = int(day_part)
    parts = [float(p) for p in value.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    hours, minutes, seconds = parts[-3:]
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    batch_size: int = 16
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 2.0
    message_encoding: str = "base64"

    @classmethod
    def from_file(cls, path: Path) -> HostConfig:
        data = json.loads(path.read_text()) if path.exists() else {}
        ext = data.get("extensions", {})
        queues = ext.get("queues", {})
        return cls(
            route_prefix=ext.get("http", {}).get("routePrefix", "api").strip("/"),
            batch_size=int(queues.get("batchSize", 16)),
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            visibility_timeout=parse_timespan(queues.get("visibilityTimeout"), 0.0),
            max_polling_interval=parse_timespan(queues.get("maxPollingInterval"), 2.0),
            message_encoding=str(queues.get("messageEncoding", "base64")).lower(),
        )


class Out(func.Out):
    """Concrete ``func.Out`` for output bindings."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class Context(func.Context):
    def __init__(self, function_name: str, directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._directory = directory
        self._local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None

    @property
    def thread_local_storage(self) -> Any:
        return self._local


def route_regex(template: str) -> re.Pattern[str]:
    """Functions route templates: ``{name}``, ``{name:constraint}``, ``{name?}``, ``{*rest}``."""
    out = ""
    for part in template.strip("/").split("/"):
        segment = re.escape(part)
        match = re.fullmatch(r"\{(\*)?(\w+)(?::[^}?]+)?(\?)?\}", part)
        if match:
            catch_all, name, optional = match.groups()
            segment = f"(?P<{name}>.+)" if catch_all else f"(?P<{name}>[^/]+)"
            out += f"(?:/{segment})?" if (optional or catch_all) else f"/{segment}"
        else:
            out += "/" + segment
    return re.compile("^" + out + "$")


@dataclass
class _Binding:
    name: str
    type: str
    direction: int
    queue_name: str | None
    connection: str | None


@dataclass
class _Function:
    name: str
    user_function: Callable[..., Any]
    trigger_arg: str
    bindings: list[_Binding]
    wants_context: bool
    # HTTP
    route: re.Pattern[str] | None = None
    methods: frozenset[str] = frozenset()
    auth_level: str = "FUNCTION"
    # queue
    queue_name: str | None = None
    connection: str | None = None

    def out_bindings(self) -> dict[str, _Binding]:
        return {b.name: b for b in self.bindings if b.direction == 1 and b.name != "$return"}


def index_app(app: func.FunctionApp) -> list[_Function]:
    """Call ``app.get_functions()`` once and check the worker's binding ↔ parameter rules."""
    functions: list[_Function] = []
    for f in app.get_functions():
        trigger = f.get_trigger()
        user_function = f.get_user_function()
        bindings = [
            _Binding(
                name=b.name,
                type=b.type,
                direction=int(getattr(b.direction, "value", b.direction)),
                queue_name=getattr(b, "queue_name", None),
                connection=getattr(b, "connection", None),
            )
            for b in f.get_bindings()
        ]
        params = set(inspect.signature(user_function).parameters)
        binding_names = {b.name for b in bindings if b.name != "$return"}
        if params - binding_names - {"context"} or binding_names - params:
            raise ValueError(
                f"function {f.get_function_name()}: parameters {sorted(params)} do not match bindings "
                f"{sorted(binding_names)} (the worker would refuse to load it)"
            )
        fn = _Function(
            name=f.get_function_name(),
            user_function=user_function,
            trigger_arg=trigger.name,
            bindings=bindings,
            wants_context="context" in params,
        )
        if trigger.type == "httpTrigger":
            fn.route = route_regex(trigger.route or fn.name)
            methods = trigger.methods or []
            fn.methods = frozenset(str(getattr(m, "value", m)).upper() for m in methods)
            level = trigger.auth_level
            fn.auth_level = str(getattr(level, "name", level)).upper()
        elif trigger.type == "queueTrigger":
            fn.queue_name = trigger.queue_name
            fn.connection = trigger.connection
        else:
            raise ValueError(f"devhost does not support trigger type {trigger.type} ({fn.name})")
        functions.append(fn)
    return functions


@dataclass
class DevHost:
    """Serve ``app`` locally. ``settings`` resolves connection names (``AzureWebJobsStorage`` …)."""

    app: func.FunctionApp
    config: HostConfig
    function_key: str
    settings: Callable[[str], str | None]
    port: int = 7071
    lease_seconds: float = 60.0
    functions: list[_Function] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.functions = index_app(self.app)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> DevHost:
        self._stop.clear()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._http_handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threads = [threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="devhost-http", daemon=True
            )]
        for fn in self.functions:
            if fn.queue_name:
                threads.append(
                    threading.Thread(
                        target=self._poll_queue, args=(fn,), name=f"devhost-{fn.name}", daemon=True
                    )
                )
        for thread in threads:
            thread.start()
        self._threads = threads
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []

    # --- HTTP ------------------------------------------------------------------------------------
    def handle_http(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(raw_path)
        prefix = "/" + self.config.route_prefix if self.config.route_prefix else ""
        if not split.path.startswith(prefix + "/") and split.path != prefix:
            return 404, {}, b""
        sub_path = split.path[len(prefix) :] or "/"
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        method_allowed = False
        for fn in self.functions:
            if fn.route is None:
                continue
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
                url=f"{self.url}{raw_path}",
                headers=headers,
                params=params,
                route_params=route_params,
                body=body,
            )
            return self._invoke_http(fn, request)
        return (405 if method_allowed else 404), {}, b""

    def _invoke_http(self, fn: _Function, request: func.HttpRequest) -> tuple[int, dict[str, str], bytes]:
        outs = {name: Out() for name in fn.out_bindings()}
        kwargs: dict[str, Any] = {fn.trigger_arg: request, **outs}
        if fn.wants_context:
            kwargs["context"] = Context(fn.name, str(Path.cwd()))
        try:
            response = fn.user_function(**kwargs)
        except Exception:
            log.error("Executed 'Functions.%s' (Failed)\n%s", fn.name, traceback.format_exc())
            return 500, {}, b""
        self._send_outputs(fn, outs)
        if not isinstance(response, func.HttpResponse):
            response = func.HttpResponse(str(response) if response is not None else "", status_code=200)
        headers = {k: v for k, v in response.headers.items()}
        if response.mimetype and "content-type" not in {k.lower() for k in headers}:
            headers["Content-Type"] = f"{response.mimetype}; charset={response.charset or 'utf-8'}"
        log.info(
            "Executed 'Functions.%s' (%s %s → %s)", fn.name, request.method, request.url, response.status_code
        )
        return response.status_code, headers, response.get_body() or b""

    def _http_handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, out_headers, payload = host.handle_http(self.command, self.path, headers, body)
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

    # --- queues ----------------------------------------------------------------------------------
    def _raw_queue(self, connection: str | None, name: str) -> QueueClient:
        conn_name = connection or "AzureWebJobsStorage"
        conn = self.settings(conn_name) or self.settings(f"AzureWebJobs{conn_name}")
        if not conn:
            raise RuntimeError(
                f"queue connection '{conn_name}' is not set; the devhost needs a connection string"
            )
        client = QueueClient.from_connection_string(conn, name)  # raw text: Base64 handled here
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        return client

    def _send_outputs(self, fn: _Function, outs: dict[str, Out]) -> None:
        for name, out in outs.items():
            binding = fn.out_bindings()[name]
            value = out.get()
            if value is None or binding.type != "queue" or not binding.queue_name:
                continue
            client = self._raw_queue(binding.connection, binding.queue_name)
            for item in value if isinstance(value, list) else [value]:
                client.send_message(self._encode(item))

    def _encode(self, item: Any) -> str:
        text = (
            item.decode() if isinstance(item, bytes) else item if isinstance(item, str) else json.dumps(item)
        )
        if self.config.message_encoding == "none":
            return text
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    def _decode(self, content: str) -> bytes:
        if self.config.message_encoding == "none":
            return content.encode("utf-8")
        return base64.b64decode(content, validate=True)

    def _poll_queue(self, fn: _Function) -> None:
        assert fn.queue_name
        interval = 0.1
        queue: QueueClient | None = None
        poison: QueueClient | None = None
        with ThreadPoolExecutor(
            max_workers=self.config.batch_size, thread_name_prefix=f"q-{fn.name}"
        ) as pool:
            while not self._stop.is_set():
                try:
                    if queue is None or poison is None:
                        queue = self._raw_queue(fn.connection, fn.queue_name)
                        poison = self._raw_queue(fn.connection, f"{fn.queue_name}-poison")
                    messages = list(
                        queue.receive_messages(
                            max_messages=self.config.batch_size, visibility_timeout=int(self.lease_seconds)
                        )
                    )
                except Exception as exc:  # storage down: keep polling, like the host does
                    log.warning("queue %s: receive failed (%s); retrying", fn.queue_name, exc)
                    queue = poison = None
                    self._stop.wait(min(2.0, self.config.max_polling_interval))
                    continue
                if not messages:
                    self._stop.wait(interval)
                    interval = min(max(interval * 2, 0.1), self.config.max_polling_interval)
                    continue
                interval = 0.1
                futures = [pool.submit(self._process, fn, queue, poison, m) for m in messages]
                wait(futures)

    def _process(self, fn: _Function, queue: QueueClient, poison: QueueClient, message: Any) -> None:
        lease = _Lease(queue, message.id, message.pop_receipt, self.lease_seconds)
        try:
            try:
                body = self._decode(message.content)
            except (binascii.Error, ValueError):
                log.error(
                    "queue %s: message %s is not valid Base64; moved to poison", fn.queue_name, message.id
                )
                self._to_poison(queue, poison, message, lease)
                return
            if message.dequeue_count > self.config.max_dequeue_count:
                self._to_poison(queue, poison, message, lease)
                return
            msg = QueueMessage(
                id=message.id,
                body=body,
                dequeue_count=message.dequeue_count,
                expiration_time=message.expires_on,
                insertion_time=message.inserted_on,
                time_next_visible=message.next_visible_on,
                pop_receipt=message.pop_receipt,
            )
            outs = {name: Out() for name in fn.out_bindings()}
            kwargs: dict[str, Any] = {fn.trigger_arg: msg, **outs}
            if fn.wants_context:
                kwargs["context"] = Context(fn.name, str(Path.cwd()))
            lease.start()
            try:
                fn.user_function(**kwargs)
            except Exception:
                lease.stop()
                log.error(
                    "Executed 'Functions.%s' (Failed, dequeue count %s)\n%s",
                    fn.name, message.dequeue_count, traceback.format_exc(),
                )  # fmt: skip
                if message.dequeue_count >= self.config.max_dequeue_count:
                    self._to_poison(queue, poison, message, lease)
                else:
                    queue.update_message(
                        message.id, lease.pop_receipt, visibility_timeout=int(self.config.visibility_timeout)
                    )
                return
            lease.stop()
            self._send_outputs(fn, outs)
            queue.delete_message(message.id, lease.pop_receipt)
            log.info("Executed 'Functions.%s' (Succeeded, message %s)", fn.name, message.id)
        except Exception:  # storage hiccup while settling: the lease expires and the message comes back
            lease.stop()
            log.warning(
                "queue %s: could not settle message %s\n%s", fn.queue_name, message.id, traceback.format_exc()
            )

    def _to_poison(self, queue: QueueClient, poison: QueueClient, message: Any, lease: _Lease) -> None:
        lease.stop()
        poison.send_message(message.content)
        queue.delete_message(message.id, lease.pop_receipt)
        log.warning("queue %s: message %s moved to %s", queue.queue_name, message.id, poison.queue_name)


class _Lease:
    """Keeps a dequeued message invisible while the function runs (the host renews its lease too)."""

    def __init__(self, queue: QueueClient, message_id: str, pop_receipt: str, seconds: float) -> None:
        self.queue, self.message_id, self.pop_receipt, self.seconds = queue, message_id, pop_receipt, seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._renew, daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(max(1.0, self.seconds / 3)):
            with self._lock:
                if self._stop.is_set():
                    return
                try:
                    receipt = self.queue.update_message(
                        self.message_id, self.pop_receipt, visibility_timeout=int(self.seconds)
                    )
                    self.pop_receipt = receipt.pop_receipt
                except Exception as exc:
                    log.warning("could not renew the lease of message %s: %s", self.message_id, exc)

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

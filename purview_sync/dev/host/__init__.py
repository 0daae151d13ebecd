"""A local Functions host for the real ``function_app.app`` (Core Tools cannot be installed here): ``DevHost``
owns the lifecycle and starts one listener per trigger kind (HTTP front, a queue listener per function).

It reads the registered functions once (``app.get_functions()``, see ``functions``) and mirrors the real host:
- HTTP triggers on ``http://127.0.0.1:<port>/<routePrefix>/<route>`` with route parameters, methods and
  auth level (FUNCTION/ADMIN need the key in ``x-functions-key`` or ``?code=``; ANONYMOUS is open) — ``http``;
- queue triggers polled in the configured storage with the queue extension's semantics: Base64 bodies
  (undecodable → straight to ``<queue>-poison``), a renewed lease while the function runs, on failure the
  message reappears after host.json ``visibilityTimeout``, and after ``maxDequeueCount`` failed attempts it
  is copied to ``<queue>-poison``; batches of ``batchSize``; queue output bindings are sent on success —
  ``queues``;
- timer triggers on their NCRONTAB schedules (``%SETTING%`` references resolved from the settings), with
  ``runOnStartup``, ``useMonitor`` / ``timer.past_due`` and one listener per app over all hosts on one
  storage — ``timers`` (a schedule that does not resolve or parse disables that function, as on the real
  host); host.json is read by ``config``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

import azure.functions as func

from purview_sync.dev.host.config import HostConfig, parse_timespan
from purview_sync.dev.host.functions import Function, index_app, invocation, route_regex
from purview_sync.dev.host.http import HttpFront
from purview_sync.dev.host.ncrontab import Schedule, ScheduleError, resolve_schedule
from purview_sync.dev.host.queues import QueueListener, QueueStore
from purview_sync.dev.host.timers import TimerListener, TimerOptions, TimerStore

log = logging.getLogger("devhost")


@dataclass
class DevHost:
    """Serve ``app`` locally. ``settings`` resolves connection names (``AzureWebJobsStorage`` …) and
    ``%SETTING%`` schedules; hosts with the same ``host_id`` on one storage are instances of one app."""

    app: func.FunctionApp
    config: HostConfig
    function_key: str
    settings: Callable[[str], str | None]
    port: int = 7071
    lease_seconds: float = 60.0
    host_id: str = "devhost"
    timer_options: TimerOptions = field(default_factory=TimerOptions)
    functions: list[Function] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.functions = index_app(self.app)
        self._queues = QueueStore(self.config, self.settings)
        self._timer_store: TimerStore | None = None
        self._http = HttpFront(self.functions, self.config.route_prefix, self.function_key, lambda: self.url,
                               self._queues.send_outputs)  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DevHost:
        """The HTTP front first (it picks the port), then a listener thread per triggered function."""
        self._stop.clear()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._http.handler_class())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threads = [threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="devhost-http", daemon=True
            )]
        for fn in self.functions:
            if fn.queue_name:
                listener = QueueListener(fn, self._queues, self.lease_seconds, self._stop)
                threads.append(threading.Thread(target=listener.run, name=f"devhost-{fn.name}", daemon=True))
            elif fn.schedule is not None:
                timer = self._timer_listener(fn)
                if timer is not None:
                    threads.append(threading.Thread(target=timer.run, name=f"devhost-{fn.name}", daemon=True))
        for thread in threads:
            thread.start()
        self._threads = threads
        return self

    def _timer_listener(self, fn: Function) -> TimerListener | None:
        assert fn.schedule is not None
        try:
            schedule = Schedule.parse(resolve_schedule(fn.schedule, self.settings))
        except ScheduleError as exc:
            log.error("Function '%s' failed indexing and is disabled: %s", fn.name, exc)
            return None
        connection = self.settings("AzureWebJobsStorage")
        if not connection:
            raise RuntimeError("timer triggers need AzureWebJobsStorage (a connection string) for their status")
        if self._timer_store is None:
            self._timer_store = TimerStore(connection, self.host_id)
        return TimerListener(fn, schedule, self._timer_store, self.timer_options, self._stop, self._invoke)

    def _invoke(self, fn: Function, trigger_value: object) -> None:
        """A non-HTTP invocation: the call, then its output bindings."""
        kwargs, outs = invocation(fn, trigger_value)
        fn.user_function(**kwargs)
        self._queues.send_outputs(fn, outs)

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []

    def handle_http(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One request through the HTTP front, without a socket."""
        return self._http.handle(method, raw_path, headers, body)


__all__ = ["DevHost", "HostConfig", "Schedule", "TimerOptions", "parse_timespan", "route_regex"]

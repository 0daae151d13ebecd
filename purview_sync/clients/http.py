"""One HTTP session per external API, with the retry policy in one place.

Meltano-style pieces: ``classify`` decides what is retriable (429, 5xx, timeouts, connection errors),
``RetryPolicy`` waits honouring ``Retry-After`` (capped) or with jittered exponential backoff, and gives up
when the caller's time budget would be overrun — a throttle that outlasts the budget surfaces as
``ThrottledError`` instead of a function timeout.

``AdaptiveLimiter`` is the other half of good manners: the retry policy only delays the request that got
the 429; the limiter, shared by every thread (and every client) talking to one endpoint, paces all of them
(AIMD) so that a pool of workers does not keep hammering a throttled service.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from purview_sync import telemetry

log = logging.getLogger(__name__)

RETRIABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
FLEET_WAIT_SECONDS = 0.05  # how often a request with no share of the fleet's budget looks again
# a paced limiter keeps the slots it could not use for up to this long (GCRA tolerance): a latency hiccup
# that leaves every worker busy does not lose those slots for good, and the rate over any 5-s window stays
# within (5 + BANK_SECONDS) / 5 of the pace — 102 %, inside the fleet's 110 % bound with room for the share
# hand-overs (0.25 s, 105 %, let two hosts on a 15/s budget reach 111 % in a loaded test run)
BANK_SECONDS = 0.1
DEFAULT_TIMEOUT_SECONDS = 30.0  # per request: to connect, and between two reads (read when a client is made)


class HttpError(Exception):
    """A non-success answer from an external API, with its parsed error body."""

    def __init__(self, service: str, method: str, url: str, status: int, body: Any, headers: dict[str, str]):
        self.service, self.method, self.url, self.status, self.body, self.headers = (
            service, method, url, status, body, headers,
        )  # fmt: skip
        super().__init__(f"{service} {method} {_path(url)} → HTTP {status}: {error_text(body)}")

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After") or self.headers.get("retry-after"))


THROTTLED_ACTION = (
    "Run the sync again later: values already written are kept and skipped, so it continues where this "
    "one stopped. If it keeps happening, raise the Purview account's capacity (Data Map capacity units) or "
    "sync fewer datastores at a time."
)


class ThrottledError(Exception):
    """The service kept throttling (or failing) beyond the time budget of this piece of work."""


class ReadOnlyError(Exception):
    """A write was attempted on a client in read-only mode (a preview must never write)."""


def _path(url: str) -> str:
    return url.split("?", 1)[0]


def error_text(body: Any) -> str:
    """Purview (Atlas, gateway), Qualytics (FastAPI) and Entra error bodies, whichever this is."""
    if isinstance(body, dict):
        if "errorCode" in body:
            return f"{body.get('errorCode')}: {body.get('errorMessage')}"
        err = body.get("error")
        if isinstance(err, dict):
            return f"{err.get('code')}: {err.get('message')}"
        if "detail" in body:
            return str(body["detail"])[:500]
        if isinstance(err, str):
            return f"{err}: {body.get('error_description', '')}"
    return str(body)[:500] if body else ""


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def classify(exc: BaseException) -> bool:
    """Retriable? 429/5xx/408 answers, timeouts and dropped connections are; everything else is not."""
    if isinstance(exc, HttpError):
        return exc.status in RETRIABLE_STATUS
    return isinstance(exc, (requests.Timeout, requests.ConnectionError))


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0  # a longer Retry-After is capped (and counted against the budget)
    sleep: Callable[[float], None] = time.sleep

    def wait_seconds(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, HttpError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after) + random.uniform(0, 0.25)
        backoff = min(self.max_delay, self.base_delay * 2 ** (state.attempt_number - 1))
        return random.uniform(backoff / 2, backoff)


class AdaptiveLimiter:
    """Client-side pacing shared by every worker that talks to one endpoint: AIMD on the request rate.

    Unpaced until the service first answers 429. Then:

    * no worker sends before the ``Retry-After`` has elapsed (one shared pause, up to ``max_pause``; a
      worker already waiting for its slot looks again when it wakes);
    * the rate drops to ``decrease`` x what was sent in the last second (multiplicative decrease) — once
      per throttle episode: a 429 for a request sent before the last decrease belongs to that episode;
    * each success adds ``increase / rate`` (additive increase: +``increase`` req/s per second of clean
      traffic); above ``max_rate``, or after ``quiet_seconds`` without a 429, pacing stops.

    A paced limiter (AIMD or the fleet share) banks the slots it could not use for ``bank_seconds``: a
    moment when every worker was busy is made up for right after, within a bounded burst.

    A wait that would end past the caller's deadline raises ``ThrottledError`` at once, so a throttle that
    outlasts the time budget ends the work instead of the function timeout. The throttled request itself is
    retried by ``RetryPolicy`` (no second retry loop here).
    """

    def __init__(
        self,
        *,
        min_rate: float = 1.0,
        max_rate: float = 1000.0,
        increase: float = 5.0,
        decrease: float = 0.5,
        quiet_seconds: float = 60.0,
        max_pause: float = 600.0,
        bank_seconds: float = BANK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_rate, self.max_rate = min_rate, max_rate
        self.increase, self.decrease = increase, decrease
        self.quiet_seconds, self.max_pause, self.bank_seconds = quiet_seconds, max_pause, bank_seconds
        self.clock, self.sleep = clock, sleep
        self.rate: float | None = None  # requests per second; None = unpaced
        self.throttles = 0  # 429s seen (all episodes)
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._last_decrease = float("-inf")
        self._last_throttle = float("-inf")
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        # the fleet's budget (clients/budget.py): this process's share is a ceiling on the pace, always
        self.fleet: Any = None  # a FleetShare with ``share`` (req/s), ``touch()``, ``signal_throttle()``

    def _pace(self) -> float | None:
        """Requests per second now: the slower of the AIMD rate and the fleet share (None = unpaced)."""
        ceiling = self.fleet.share if self.fleet is not None else None
        if ceiling is None:
            return self.rate
        return ceiling if self.rate is None else min(self.rate, ceiling)

    def acquire(self, deadline: float | None = None, *, what: str = "request") -> float:
        """Wait for this request's turn; return the time it was let through (for ``on_throttle``).

        A worker that waited for its slot looks again when it wakes: a 429 another worker saw meanwhile
        may have started a ``Retry-After`` pause, and nothing is sent to the endpoint before that has
        elapsed (the slot it held is given up; the next free one after the pause is taken)."""
        reserved = False
        if self.fleet is not None:
            self.fleet.touch()  # joins the fleet's board on the first request
        while True:
            with self._lock:
                now = self.clock()
                if self.rate is not None and now - self._last_throttle > self.quiet_seconds:
                    self.rate = None  # a long quiet spell: the service has capacity again
                if reserved and now >= self._paused_until:
                    return self._let_through(now)  # its slot has come and no pause began meanwhile
                pace = self._pace()
                start = max(now, self._paused_until)
                slot = max(self._next_slot, now - self.bank_seconds)  # slots unused for ≤ bank_seconds
                if pace is not None and pace <= 0:  # no share of the fleet's budget yet: look again soon
                    start = max(start, now + FLEET_WAIT_SECONDS)
                elif pace is not None:
                    start = max(start, slot)
                if deadline is not None and start > deadline:
                    raise ThrottledError(
                        f"{what}: the service kept throttling (HTTP 429) and the next request could only "
                        f"be sent {start - now:.0f}s from now, past this work's time budget"
                    )
                if pace is not None and pace <= 0:
                    reserved = False
                else:
                    if pace is not None:  # a banked slot is used up: the next one follows it, not now
                        self._next_slot = max(slot, start - self.bank_seconds) + 1.0 / pace
                    if start <= now:
                        return self._let_through(now)
                    reserved = True
            self.sleep(start - now)

    def _let_through(self, at: float) -> float:
        """Record a request sent at ``at`` (the caller holds the lock)."""
        self._sent.append(at)
        while self._sent and self._sent[0] < at - 1.0:
            self._sent.popleft()
        return at

    def on_throttle(self, sent_at: float, retry_after: float | None) -> None:
        with self._lock:
            now = self.clock()
            self.throttles += 1
            self._last_throttle = now
            pause = min(self.max_pause, retry_after if retry_after is not None else 1.0)
            self._paused_until = max(self._paused_until, now + pause)
            if sent_at < self._last_decrease:
                return  # sent before the last slow-down: the same episode
            self._slow_down(now)
            log.info("throttled (429): pacing requests at %.1f/s after a %.1fs pause", self.rate, pause)
        if self.fleet is not None:
            self.fleet.signal_throttle(pause)  # a new episode: every instance pauses, not only this one

    def on_remote_throttle(self, pause: float) -> None:
        """Another instance got a 429 from the same account: pause and slow down as after our own."""
        with self._lock:
            now = self.clock()
            self._last_throttle = now
            self._paused_until = max(self._paused_until, now + min(self.max_pause, pause))
            self._slow_down(now)

    def _slow_down(self, now: float) -> None:
        """One multiplicative decrease (the caller holds the lock)."""
        recent = sum(1 for t in self._sent if t >= now - 1.0)
        current = self._pace() if self.rate is not None or self.fleet is not None else None
        if current is None or current <= 0:
            current = max(self.min_rate, float(recent))
        self.rate = max(self.min_rate, current * self.decrease)
        self._last_decrease = now
        self._next_slot = max(self._next_slot, self._paused_until)

    def on_success(self) -> None:
        with self._lock:
            if self.rate is not None:
                self.rate += self.increase / self.rate
                if self.rate >= self.max_rate:
                    self.rate = None


_LIMITERS: dict[str, AdaptiveLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


SHARED_DECREASE = 0.9


def shared_limiter(key: str) -> AdaptiveLimiter:
    """The one limiter of this process for an endpoint (every datastore in flight shares its capacity).

    It slows down by 10 % per throttle episode (``SHARED_DECREASE``), not by half: every worker already waits
    out the shared ``Retry-After`` pause, and halving left a fifth of a 250 req/s budget unused for the 20 s
    it takes to climb back (docs/performance.md)."""
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = AdaptiveLimiter(decrease=SHARED_DECREASE)
        return limiter


def reset_limiters() -> None:
    """Forget every endpoint's pacing (tests that turned a simulator's rate limit on and off again)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()


@dataclass
class RequestStats:
    """Counts by request kind and outcome — the benchmark and the run report read them."""

    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n


class ApiClient:
    """Base for the Purview and Qualytics clients: one ``requests.Session``, auth headers, retries."""

    service = "api"
    READ_KINDS: frozenset[str] = frozenset()  # request kinds that are reads although not GET (search POSTs)

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        pool_size: int = 16,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        self.deadline: float | None = None  # monotonic time after which retries stop (time budget)
        self.limiter: AdaptiveLimiter | None = None  # client-side pacing (429s slow every worker down)
        self.read_only = False  # a preview: refuse every request that is not a read (defence in depth)
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    # --- hooks ---------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {}

    def check_url(self, url: str) -> None:
        """Refuse a URL before any credential is attached (Purview: allowed hosts)."""

    # --- requests ------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, kind: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        self.check_url(url)
        if self.read_only and method.upper() not in ("GET", "HEAD") and kind not in self.READ_KINDS:
            raise ReadOnlyError(f"{self.service} {method} {_path(url)} ({kind}) refused: this is a dry run")

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.stats.add(f"retry:{getattr(exc, 'status', type(exc).__name__)}")
            log.info("%s %s %s: retrying after %s", self.service, method, _path(url), exc)

        def sleep(seconds: float) -> None:
            if self.deadline is not None and time.monotonic() + seconds > self.deadline:
                raise ThrottledError(
                    f"{self.service} kept throttling or failing ({kind}); giving up so the datastore does not "
                    f"overrun its time budget — run the sync again later or raise the service's capacity"
                )
            self.retry.sleep(seconds)

        retrying = Retrying(
            retry=retry_if_exception(classify),
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=self.retry.wait_seconds,
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(self._send, method, url, kind, kwargs)

    def _send(self, method: str, url: str, kind: str, kwargs: dict[str, Any]) -> requests.Response:
        kwargs = dict(kwargs)  # the same kwargs are reused by every attempt
        headers = {**self.auth_headers(), **kwargs.pop("headers", {})}
        limiter = self.limiter
        sent_at = limiter.acquire(self.deadline, what=f"{self.service} {kind}") if limiter else 0.0
        self.stats.add(kind)
        response = self.session.request(
            method, url, headers=headers, timeout=self.timeout, allow_redirects=False, **kwargs
        )
        if self.service == "purview":
            telemetry.add("purview_sync.purview.requests", kind=kind, status=response.status_code)
            if response.status_code == 429:
                telemetry.add("purview_sync.purview.throttled", kind=kind)
        if limiter is not None:
            if response.status_code == 429:
                limiter.on_throttle(sent_at, parse_retry_after(response.headers.get("Retry-After")))
            elif response.status_code < 500:
                limiter.on_success()
        if response.status_code >= 300:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text[:1000]
            raise HttpError(self.service, method, url, response.status_code, body, dict(response.headers))
        return response

    def get_json(self, path: str, *, kind: str, **kwargs: Any) -> Any:
        return self.request("GET", path, kind=kind, **kwargs).json()

    def close(self) -> None:
        self.session.close()

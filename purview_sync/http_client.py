"""One HTTP session per external API, with the retry policy in one place.

Meltano-style pieces: ``classify`` decides what is retriable (429, 5xx, timeouts, connection errors),
``RetryPolicy`` waits honouring ``Retry-After`` (capped) or with jittered exponential backoff, and gives up
when the caller's time budget would be overrun — a throttle that outlasts the budget surfaces as
``ThrottledError`` instead of a function timeout.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

log = logging.getLogger(__name__)

RETRIABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


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


class ThrottledError(Exception):
    """The service kept throttling (or failing) beyond the time budget of this piece of work."""


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

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        pool_size: int = 16,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        self.deadline: float | None = None  # monotonic time after which retries stop (time budget)
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
        self.stats.add(kind)
        response = self.session.request(
            method, url, headers=headers, timeout=self.timeout, allow_redirects=False, **kwargs
        )
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

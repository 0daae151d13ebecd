"""After a 429 with Retry-After, no worker of the process sends to that account before it has elapsed
(issue 13 point 17) — measured on the wire, against the Purview simulator's rate limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from purview_sync.app.services import Services
from purview_sync.clients.auth import make_credential
from purview_sync.clients.http import AdaptiveLimiter, reset_limiters
from purview_sync.clients.purview import PurviewClient
from purview_sync.dev.local_env import APP_CLIENT_ID, APP_CLIENT_SECRET, TENANT_ID, LocalEnvironment

IN_FLIGHT = 0.05  # a send that started this soon after a 429 arrived had left before anyone could know


class Wire:
    """When each request left this process, and when each 429 came back with which Retry-After."""

    def __init__(self) -> None:
        self.sends: list[float] = []
        self.throttles: list[tuple[float, float]] = []
        self.lock = threading.Lock()

    def tap(self, client: PurviewClient) -> None:
        adapter = client.session.get_adapter(client.base_url)
        send = adapter.send

        def recorded(request: Any, **kwargs: Any) -> Any:
            left = time.monotonic()
            response = send(request, **kwargs)
            with self.lock:
                self.sends.append(left)
                if response.status_code == 429:
                    self.throttles.append((time.monotonic(), float(response.headers["Retry-After"])))
            return response

        adapter.send = recorded  # type: ignore[method-assign]

    def sent_during_a_retry_after(self) -> list[float]:
        return [
            sent
            for sent in self.sends
            for arrived, retry_after in self.throttles
            if arrived + IN_FLIGHT < sent < arrived + retry_after
        ]


@pytest.fixture
def throttled(local: LocalEnvironment) -> Iterator[None]:
    assert local.purview
    reset_limiters()
    local.purview.server.set_faults(rate_limit_per_s=4, rate_burst=2)
    yield
    local.purview.server.set_faults(rate_limit_per_s=None, rate_burst=None)
    reset_limiters()


def test_no_worker_sends_while_a_retry_after_runs(
    local: LocalEnvironment, services: Services, throttled: None
) -> None:
    credential = make_credential(TENANT_ID, APP_CLIENT_ID, APP_CLIENT_SECRET, services.settings)
    hosts = services.settings.purview_allowed_hosts
    # two clients of one account (two datastores in flight): they share the account's limiter
    clients = [PurviewClient(local.purview_url, credential, hosts) for _ in range(2)]
    wire = Wire()
    for client in clients:
        wire.tap(client)
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: clients[i % 2].probe(), range(16)))
    finally:
        for client in clients:
            client.close()
    assert wire.throttles, "the rate limit was never hit: the test proves nothing"
    assert len(wire.sends) == 16 + len(wire.throttles)  # every probe got through in the end
    assert wire.sent_during_a_retry_after() == []


def test_a_worker_that_waited_for_its_slot_looks_again_when_it_wakes() -> None:
    now = [0.0]

    def advance(seconds: float) -> None:
        now[0] += seconds

    limiter = AdaptiveLimiter(clock=lambda: now[0], sleep=advance)
    limiter.on_throttle(limiter.acquire(), retry_after=1.0)  # paced at 1/s from now on, paused until 1 s
    assert limiter.acquire() == 1.0 and limiter.rate == 1.0

    def another_worker_is_throttled_meanwhile(seconds: float) -> None:
        advance(seconds)  # this worker sleeps until its slot at 2 s …
        limiter.sleep = advance
        limiter.on_throttle(1.0, retry_after=3.0)  # … and at 2 s another worker's 429 says: 3 s more

    limiter.sleep = another_worker_is_throttled_meanwhile
    assert limiter.acquire() == 5.0  # not 2.0: it wakes inside the new pause and waits it out


class FixedShare:
    """A fleet share that never changes (the pacing rule alone, without the board)."""

    def __init__(self, share: float) -> None:
        self.share = share

    def touch(self) -> None:
        pass

    def signal_throttle(self, pause: float) -> None:
        pass


def test_slots_a_busy_moment_left_unused_are_made_up_for_within_the_bank() -> None:
    now = [0.0]

    def advance(seconds: float) -> None:
        now[0] += seconds

    limiter = AdaptiveLimiter(clock=lambda: now[0], sleep=advance, bank_seconds=0.25)
    limiter.fleet = FixedShare(100.0)  # paced at 100/s: a slot every 10 ms
    sent = [limiter.acquire() for _ in range(10)]
    assert sent[-1] == pytest.approx(0.09)  # paced while the workers keep up
    advance(0.2)  # every worker busy for 0.2 s: 20 slots went by unused
    burst = [limiter.acquire() for _ in range(21)]
    assert burst[:20] == pytest.approx([0.29] * 20)  # made up for at once …
    assert burst[20] == pytest.approx(0.30)  # … and then paced again


def test_the_bank_is_bounded_after_a_long_idle_spell() -> None:
    now = [0.0]

    def advance(seconds: float) -> None:
        now[0] += seconds

    limiter = AdaptiveLimiter(clock=lambda: now[0], sleep=advance, bank_seconds=0.25)
    limiter.fleet = FixedShare(100.0)
    limiter.acquire()
    advance(60.0)  # a minute with nothing to send banks no more than 0.25 s of slots
    sent = [limiter.acquire() for _ in range(100)]
    at_once = sum(1 for t in sent if t == pytest.approx(60.0))
    assert 25 <= at_once <= 26
    window = [t for t in sent if t < 61.0]
    assert len(window) <= 100 * 1.25 + 1  # a second of traffic: the pace plus the bank at most

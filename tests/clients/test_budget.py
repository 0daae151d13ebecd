"""One Purview budget for all instances (clients/budget.py over storage/budget.py), on a real Azurite:
several ``FleetShare``s stand for several instances (each its own instance id, as each process has)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from purview_sync.clients.budget import FleetShare, split
from purview_sync.clients.http import AdaptiveLimiter
from purview_sync.dev.azurite import Azurite
from purview_sync.settings import load_settings
from purview_sync.storage.budget import Board, BudgetRepo, Peer
from purview_sync.storage.clients import StorageClients

BUDGET = 20.0
PERIOD = 0.2
TTL = 1.5


@pytest.fixture
def repo(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> BudgetRepo:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    return BudgetRepo(StorageClients(load_settings()))


@pytest.fixture
def account() -> str:
    return f"acct-{uuid.uuid4().hex[:8]}.purview.azure.com"


class Instance:
    """A FleetShare kept busy (it wants capacity) by a thread that touches it, as requests would."""

    def __init__(self, repo: BudgetRepo, account: str, name: str, want: float = 30.0) -> None:
        self.share = FleetShare(
            repo, account, BUDGET, instance=name, period=PERIOD, ttl=TTL, want=want, idle=30.0
        )
        self.running = threading.Event()
        self.running.set()
        self.thread = threading.Thread(target=self._busy, daemon=True)
        self.thread.start()

    def _busy(self) -> None:
        while self.running.is_set():
            self.share.touch()
            time.sleep(0.02)

    def pause(self) -> None:
        """Nothing to send for a while (its messages are done), but the host is still up."""
        self.running.clear()
        self.thread.join()

    def resume(self) -> None:
        self.running.set()
        self.thread = threading.Thread(target=self._busy, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """A host that shuts down: gives its share back."""
        self.running.clear()
        self.share.stop()

    def die(self) -> None:
        """A host that is killed: its heartbeat stops, its row stays."""
        self.running.clear()
        self.share._stop.set()


@pytest.fixture
def instances(repo: BudgetRepo, account: str) -> Iterator[list[Instance]]:
    made: list[Instance] = []
    yield made
    for inst in made:
        inst.running.clear()
        inst.share._stop.set()


def sample(shares: list[Instance], seconds: float) -> list[float]:
    sums = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        sums.append(sum(i.share.share for i in shares))
        time.sleep(0.01)
    return sums


def wait_until(predicate, timeout: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def test_the_split_rule() -> None:
    now = 1000.0
    board = Board(
        peers=[
            Peer("a", seen_at=now - 0.5, share=20.0, wants=True),
            Peer("gone", seen_at=now - 60, share=50.0, wants=True),  # dead: ignored
            Peer("idle", seen_at=now - 0.5, share=0.0, wants=False),
        ],
        throttle=None,
    )
    # a newcomer: fair is half, but only what a's row leaves free (nothing yet)
    assert split(20.0, "b", board, wants=True, now=now, ttl=10) == 0.0
    # a sees b wanting: it goes down to its fair half at once
    with_b = Board(peers=[*board.peers, Peer("b", now - 0.1, 0.0, True)], throttle=None)
    assert split(20.0, "a", with_b, wants=True, now=now, ttl=10) == 10.0
    # alone (the dead and the idle do not count): everything
    assert split(20.0, "a", board, wants=True, now=now, ttl=10) == 20.0
    assert split(20.0, "a", board, wants=False, now=now, ttl=10) == 0.0


def test_two_instances_share_the_budget_and_a_stopped_one_gives_its_share_back(
    repo: BudgetRepo, account: str, instances: list[Instance]
) -> None:
    a = Instance(repo, account, "a")
    instances.append(a)
    wait_until(lambda: a.share.share == BUDGET, 2)  # alone: all of it, from its first request
    b = Instance(repo, account, "b")
    instances.append(b)
    sums = sample([a, b], 2.0)
    assert max(sums) <= BUDGET + 1e-9, max(sums)  # the shares in force never add up to more
    assert a.share.share == pytest.approx(BUDGET / 2) and b.share.share == pytest.approx(BUDGET / 2)

    b.stop()  # deletes its row
    took = wait_until(lambda: a.share.share == BUDGET, 2)
    assert took < 4 * PERIOD, took


def test_a_dead_instance_gives_its_share_back_after_the_ttl(
    repo: BudgetRepo, account: str, instances: list[Instance]
) -> None:
    a, c = Instance(repo, account, "a"), Instance(repo, account, "c")
    instances += [a, c]
    wait_until(lambda: a.share.share == pytest.approx(BUDGET / 2) and c.share.share > 0, 3)
    c.die()
    took = wait_until(lambda: a.share.share == BUDGET, TTL + 2)
    assert TTL - 2 * PERIOD < took < TTL + 4 * PERIOD, took


def test_paced_limiters_of_two_instances_stay_within_the_budget_in_every_window(
    repo: BudgetRepo, account: str, instances: list[Instance]
) -> None:
    """Two limiters (two instances), four workers each sending as fast as they may, for 6 s."""
    sent: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()
    limiters = []
    for name in ("a", "b"):
        limiter = AdaptiveLimiter()
        limiter.fleet = FleetShare(repo, account, BUDGET, instance=name, period=PERIOD, ttl=TTL)
        limiters.append(limiter)

    def worker(limiter: AdaptiveLimiter) -> None:
        while not stop.is_set():
            limiter.acquire()
            with lock:
                sent.append(time.monotonic())

    threads = [threading.Thread(target=worker, args=(lim,), daemon=True) for lim in limiters for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(6.0)
    stop.set()
    for t in threads:
        t.join(timeout=5)
    for limiter in limiters:
        limiter.fleet.stop()
    sent.sort()
    worst = max(sum(1 for t in sent if w <= t < w + 5.0) for w in [started + i * 0.1 for i in range(11)])
    assert worst <= 1.1 * BUDGET * 5, worst
    assert len(sent) >= 0.8 * BUDGET * 6, len(sent)  # and the budget is used, not starved


def test_a_429_seen_by_one_instance_pauses_the_other(
    repo: BudgetRepo, account: str, instances: list[Instance]
) -> None:
    a, b = AdaptiveLimiter(), AdaptiveLimiter()
    a.fleet = FleetShare(repo, account, BUDGET, instance="a", period=PERIOD, ttl=TTL)
    b.fleet = FleetShare(repo, account, BUDGET, instance="b", period=PERIOD, ttl=TTL)
    b.fleet.on_remote_throttle = b.on_remote_throttle
    try:
        a.acquire()
        b.acquire()
        time.sleep(3 * PERIOD)  # both on the board, b has read the (empty) throttle row
        sent = a.acquire()
        a.on_throttle(sent, retry_after=2.0)
        wait_until(lambda: b._paused_until > time.monotonic(), 3 * PERIOD + 1)
        assert b.rate is not None and b.rate < BUDGET  # and it slowed down
        before = time.monotonic()
        b.acquire()
        assert time.monotonic() - before > 0.5  # it waited out the other instance's Retry-After
    finally:
        a.fleet.stop()
        b.fleet.stop()


def test_instances_joining_at_the_same_moment_never_both_take_the_whole_budget(
    repo: BudgetRepo, account: str
) -> None:
    for round_ in range(5):
        shares = [
            FleetShare(repo, f"{account}-{round_}", BUDGET, instance=name, period=PERIOD, ttl=TTL)
            for name in ("a", "b", "c")
        ]
        barrier = threading.Barrier(len(shares))
        sums: list[float] = []

        def join(share: FleetShare, barrier: threading.Barrier) -> None:
            barrier.wait()
            share.touch()

        threads = [threading.Thread(target=join, args=(s, barrier)) for s in shares]
        for t in threads:
            t.start()
        until = time.monotonic() + 1.5
        while time.monotonic() < until:
            sums.append(sum(s.share for s in shares))
            time.sleep(0.005)
        for t in threads:
            t.join()
        for s in shares:
            s.stop()
        assert max(sums) <= BUDGET + 1e-9, (round_, max(sums))
        assert sums[-1] == pytest.approx(BUDGET), (round_, sums[-1])  # and it is all handed out


def test_an_instance_with_nothing_to_send_gives_its_share_to_the_busy_one_and_takes_it_back_later(
    repo: BudgetRepo, account: str, instances: list[Instance]
) -> None:
    want = 4 * PERIOD
    a, b = Instance(repo, account, "a", want=want), Instance(repo, account, "b", want=want)
    instances += [a, b]
    wait_until(lambda: a.share.share == pytest.approx(BUDGET / 2) and b.share.share == pytest.approx(BUDGET / 2), 3)
    b.pause()  # b's work is done; its host is still up (on the board until it has been idle for 30 s)
    took = wait_until(lambda: a.share.share == BUDGET, 5)  # (without the rule: only after 30 s idle)
    assert took < want + 10 * PERIOD, took  # b's beat says "not wanting", then a's beat takes it (+ load)
    assert b.share.share == 0.0
    assert {p.instance for p in repo.read(account).peers} == {"a", "b"}  # b still on the board, not wanting
    b.resume()  # new work: its half again, and never more than the budget in force on the way
    sums = sample([a, b], 1.5)
    assert max(sums) <= BUDGET + 1e-9, max(sums)
    wait_until(lambda: a.share.share == pytest.approx(BUDGET / 2) and b.share.share == pytest.approx(BUDGET / 2), 3)


def test_an_instance_alone_keeps_its_share_through_a_pause(
    repo: BudgetRepo, account: str, instances: list[Instance]
) -> None:
    a = Instance(repo, account, "a", want=2 * PERIOD)
    instances.append(a)
    wait_until(lambda: a.share.share == BUDGET, 2)
    a.pause()  # e.g. reading the next slice from Qualytics: no Purview request for a while
    assert min(sample([a], 6 * PERIOD)) == BUDGET  # nobody else wants any: no stall when it resumes

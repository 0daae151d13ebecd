"""One Purview budget for all instances (DESIGN.md §3c): this process's share of
``PURVIEW_MAX_OPS_PER_SECOND`` for one Purview account, agreed with the other instances through Table
Storage (``storage/budget.py``), and applied as the ceiling of the account's ``AdaptiveLimiter``.

How the share is agreed — every ``period`` seconds, while this process has requests for the account:

1. read the account's rows (one query) and write this instance's row (one upsert): ≈ 2 storage calls per
   second per busy instance, against up to ``budget`` Purview requests per second. An instance that starts
   wanting capacity first writes its row with no share and takes one only at its next beat (``period``
   later): instances joining together all see each other by then, and one joining later reads the shares
   already taken — so they never both take the whole budget (a first request waits one period);
2. the instances that want capacity split the budget evenly (``fair`` = budget / wanting instances), and an
   instance never takes more than what the others' rows leave (``budget - Σ their shares``). A newcomer
   therefore starts at what is free and gets its fair share once the others have read its row and shrunk;
   a share is lowered *before* its row says so and raised only *after*, so the shares in force never add
   up to more than the budget;
3. an instance whose row is older than ``ttl`` is gone: its share is free again (a host that stops deletes
   its row at once; one that dies frees it after ``ttl`` = 10 s). One that cannot reach storage for longer
   than ``ttl`` stops counting on its share and paces at ``STALE_RATE``;
4. a 429 seen by any instance is written to the account's ``~throttle`` row (once per episode); the others
   see it at their next read and pause until its ``Retry-After`` ends, slowing down as after their own 429.

An instance with nothing to send for ``want`` seconds (3 s) stops wanting as soon as another instance wants
a share: its row says so, and the busy ones take its part at their next beat — a host whose messages are
done does not sit on half the budget (alone, it keeps its share: a pause between two slices costs nothing).
Idle for ``idle`` seconds it leaves the board (deletes its row, stops the heartbeat); its next request joins
again (announce, then take a share one beat later, as on the first request).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable

from purview_sync.storage.budget import Board, BudgetRepo, Peer

log = logging.getLogger(__name__)

INSTANCE_ID = f"{uuid.uuid4().hex[:12]}-{os.getpid()}"  # this process, as the other instances see it
PERIOD_SECONDS = 1.0
PEER_TTL_SECONDS = 10.0
WANT_SECONDS = 3.0
IDLE_SECONDS = 15.0
STALE_RATE = 1.0


def live_others(board: Board, me: str, *, now: float, ttl: float) -> list[Peer]:
    """The other instances' rows that are fresher than ``ttl`` (an older one is a gone instance)."""
    return [p for p in board.peers if p.instance != me and now - p.seen_at < ttl]


def split(budget: float, me: str, board: Board, *, wants: bool, now: float, ttl: float) -> float:
    """This instance's share of ``budget`` given the others' rows (pure: the rule of the module docstring)."""
    if not wants:
        return 0.0
    others = live_others(board, me, now=now, ttl=ttl)
    wanting = 1 + sum(1 for p in others if p.wants)
    claimed = sum(p.share for p in others)
    return max(0.0, min(budget / wanting, budget - claimed))


class FleetShare:
    """This process's share of one Purview account's budget, kept fresh by a heartbeat thread."""

    def __init__(
        self,
        repo: BudgetRepo,
        account: str,
        budget: float,
        *,
        instance: str = INSTANCE_ID,
        period: float = PERIOD_SECONDS,
        ttl: float = PEER_TTL_SECONDS,
        want: float = WANT_SECONDS,
        idle: float = IDLE_SECONDS,
    ) -> None:
        self.repo, self.account, self.budget, self.instance = repo, account, float(budget), instance
        self.period, self.ttl, self.want, self.idle = period, ttl, min(want, idle), idle
        self.share = 0.0  # requests per second this instance may send now
        self.on_remote_throttle: Callable[[float], None] | None = None  # the limiter's pause + slow-down
        self.refreshes = 0
        self._last_demand = float("-inf")
        self._last_ok = float("-inf")
        self._episode = 0
        self._seen_episode: int | None = None
        self._announced = False  # the board shows this instance as wanting a share
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- called by the limiter --------------------------------------------------------------------------
    def touch(self) -> None:
        """A request wants to go: note the demand; join the board (at once, in this thread) if not on it."""
        self._last_demand = time.monotonic()
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self.refresh()
            self._thread = threading.Thread(
                target=self._beat, name=f"budget-{self.account}", daemon=True
            )
            self._thread.start()

    def signal_throttle(self, pause: float) -> None:
        """This instance got a 429 (a new episode): tell the others to pause too."""
        self._episode += 1
        episode = int(time.time() * 1000) * 100 + self._episode % 100
        self._seen_episode = episode
        try:
            self.repo.signal_throttle(self.account, self.instance, until=time.time() + pause, episode=episode)
        except Exception as exc:  # the local pause still holds; the others find out from their own 429s
            log.warning("Purview budget: could not share a 429 with the other instances: %s", exc)

    # --- the heartbeat ------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the board, compute and publish this instance's share (lowered first, raised last)."""
        quiet = time.monotonic() - self._last_demand
        try:
            if quiet < self.idle and not self._announced:
                # say "I want a share" (holding none), and take one only at the next beat: every instance that
                # joins meanwhile is seen by it, and one that joins later reads its share — so instances that
                # join at the same moment never both take the whole budget
                self.share = 0.0
                self.repo.heartbeat(self.account, self.instance, share=0.0, wants=True)
                self._announced = True
                self._last_ok = time.monotonic()
                return
            board = self.repo.read(self.account)
            now = time.time()
            others_want = any(p.wants for p in live_others(board, self.instance, now=now, ttl=self.ttl))
            # nothing sent for ``want`` seconds: keep the share only while no other instance wants one
            wants = quiet < self.want or (quiet < self.idle and not others_want)
            mine = split(self.budget, self.instance, board, wants=wants, now=now, ttl=self.ttl)
            if mine < self.share:
                self.share = mine
            self.repo.heartbeat(self.account, self.instance, share=mine, wants=wants)
            self.share = mine
            self._announced = wants
            self._last_ok = time.monotonic()
            self.refreshes += 1
        except Exception as exc:
            log.warning("Purview budget: the shared budget could not be read or written: %s", exc)
            if time.monotonic() - self._last_ok > self.ttl:
                self.share = min(self.share, STALE_RATE) if self.share else STALE_RATE
            return
        throttle = board.throttle
        if throttle is not None and throttle.episode != self._seen_episode:
            self._seen_episode = throttle.episode
            pause = throttle.until - time.time()  # a past episode (an old row) has nothing left to wait
            if throttle.by != self.instance and pause > 0 and self.on_remote_throttle:
                log.info("Purview budget: instance %s was throttled; pausing %.1fs", throttle.by, pause)
                self.on_remote_throttle(pause)

    def _beat(self) -> None:
        while not self._stop.wait(self.period):
            if time.monotonic() - self._last_demand >= self.idle:
                self._leave()
                return
            self.refresh()

    def _leave(self) -> None:
        with self._lock:
            self.share = 0.0
            self._thread = None
            self._announced = False
            try:
                self.repo.leave(self.account, self.instance)
            except Exception as exc:
                log.info("Purview budget: could not leave the board (its row expires by itself): %s", exc)

    def stop(self) -> None:
        """Give the share back now (a host that shuts down)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._leave()


_SHARES: dict[str, FleetShare] = {}
_SHARES_LOCK = threading.Lock()


def fleet_share(repo_factory: Callable[[], BudgetRepo], account: str, budget: float) -> FleetShare:
    """The one share of this process for an account (every client of the account uses it)."""
    with _SHARES_LOCK:
        share = _SHARES.get(account)
        if share is None or share.budget != float(budget):
            if share is not None:
                share.stop()
            share = _SHARES[account] = FleetShare(repo_factory(), account, budget)
        return share


def stop_all() -> None:
    """Leave every board (process shutdown, tests)."""
    with _SHARES_LOCK:
        shares = list(_SHARES.values())
        _SHARES.clear()
    for share in shares:
        share.stop()


atexit.register(stop_all)  # a host that shuts down gives its shares back at once

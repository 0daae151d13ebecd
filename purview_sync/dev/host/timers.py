"""The local host's timer side, with the timer extension's semantics:

- the schedule (``ncrontab``) fires the function at each occurrence, one invocation at a time; a failure is
  logged and not retried (the next occurrence comes as scheduled);
- ``runOnStartup`` invokes it once when the listener starts (host start, restart, a new instance);
- ``useMonitor`` (default: true when the schedule fires at most once a minute) keeps the schedule status
  (``Last``, ``Next``, ``LastUpdated``) in storage, so an occurrence missed while no host ran is made up at
  start with ``timer.past_due`` true (and then no ``runOnStartup`` call, as on the real host);
- the listener is a singleton over all hosts of one app on one storage (same ``host_id``): one holds a lease
  on a lock row and renews it; the others try again every ``recovery_seconds``.

The real host keeps status and lock in blobs under ``azure-webjobs-hosts``; the devhost keeps the same facts
in the ``DevHostTimers`` table of the host storage (rows ``<host id>`` / ``<function>`` and ``….Listener``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, UpdateMode
from azure.functions.timer import TimerRequest

from purview_sync.dev.host.functions import Function
from purview_sync.dev.host.ncrontab import Schedule

log = logging.getLogger("devhost")

STATUS_TABLE = "DevHostTimers"
NEVER = "0001-01-01T00:00:00"  # how the host renders an unset ``Last``


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment else NEVER


def _parse(text: str | None) -> datetime | None:
    if not text or text == NEVER:
        return None
    return datetime.fromisoformat(text).astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ScheduleStatus:
    last: datetime | None
    next: datetime
    last_updated: datetime

    def as_dict(self) -> dict[str, str]:
        return {"Last": _iso(self.last), "Next": _iso(self.next), "LastUpdated": _iso(self.last_updated)}


class TimerStore:
    """Schedule status and listener locks of one app (``host_id``) in the host storage."""

    def __init__(self, connection_string: str, host_id: str) -> None:
        self.table = TableClient.from_connection_string(connection_string, STATUS_TABLE)
        self.host_id = host_id
        with contextlib.suppress(ResourceExistsError):
            self.table.create_table()

    def get_status(self, function: str) -> ScheduleStatus | None:
        try:
            row = self.table.get_entity(self.host_id, function)
        except ResourceNotFoundError:
            return None
        nxt = _parse(row.get("Next"))
        updated = _parse(row.get("LastUpdated"))
        if nxt is None or updated is None:
            return None
        return ScheduleStatus(_parse(row.get("Last")), nxt, updated)

    def put_status(self, function: str, status: ScheduleStatus) -> None:
        entity = {"PartitionKey": self.host_id, "RowKey": function, **status.as_dict()}
        self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def acquire(self, function: str, owner: str, seconds: float) -> bool:
        """Take or renew the listener lock: free, expired, or already ours (etag-conditional)."""
        key = f"{function}.Listener"
        entity = {"PartitionKey": self.host_id, "RowKey": key, "owner": owner, "until": time.time() + seconds}
        try:
            row = self.table.get_entity(self.host_id, key)
        except ResourceNotFoundError:
            try:
                self.table.create_entity(entity)
                return True
            except ResourceExistsError:
                return False
        if row.get("owner") != owner and float(row.get("until") or 0) > time.time():
            return False
        try:
            self.table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=row.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )  # fmt: skip
            return True
        except (ResourceModifiedError, ResourceNotFoundError):
            return False

    def release(self, function: str, owner: str) -> None:
        key = f"{function}.Listener"
        with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
            row = self.table.get_entity(self.host_id, key)
            if row.get("owner") == owner:
                self.table.delete_entity(
                    self.host_id,
                    key,
                    etag=row.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )


@dataclass
class TimerOptions:
    singleton: bool = True
    lock_seconds: float = 15.0  # the lease on the listener lock (the host's listener lock period is longer)
    recovery_seconds: float = 10.0  # how often a host without the lock tries to take it


class TimerListener:
    """Runs one timer-triggered function on its schedule until ``stop`` is set."""

    def __init__(self, fn: Function, schedule: Schedule, store: TimerStore, options: TimerOptions,
                 stop: threading.Event, invoke: Callable[[Function, Any], None]) -> None:  # fmt: skip
        self.fn, self.schedule, self.store, self.options = fn, schedule, store, options
        self._stop, self._invoke = stop, invoke
        self.owner = uuid.uuid4().hex
        monitor = fn.use_monitor
        if monitor is None:
            monitor = schedule.shortest_interval(_now()) >= timedelta(minutes=1)
        self.use_monitor = monitor
        self._lost = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            if self.options.singleton and not self._try_acquire():
                self._stop.wait(self.options.recovery_seconds)
                continue
            renewer = None
            if self.options.singleton:
                self._lost.clear()
                renewer = threading.Thread(
                    target=self._renew, name=f"devhost-{self.fn.name}-lock", daemon=True
                )
                renewer.start()
            try:
                self._listen()
            finally:
                if self.options.singleton:
                    self._lost.set()
                    if renewer is not None:
                        renewer.join(timeout=5)
                    with contextlib.suppress(Exception):
                        self.store.release(self.fn.name, self.owner)

    def _try_acquire(self) -> bool:
        try:
            return self.store.acquire(self.fn.name, self.owner, self.options.lock_seconds)
        except Exception as exc:  # storage down: try again later, like the host
            log.warning("timer %s: could not take the listener lock (%s)", self.fn.name, exc)
            return False

    def _renew(self) -> None:
        while not self._lost.wait(max(0.2, self.options.lock_seconds / 3)):
            if not self._try_acquire():
                log.warning("timer %s: listener lock lost; this host stops running it", self.fn.name)
                self._lost.set()

    def _running(self) -> bool:
        return not self._stop.is_set() and not self._lost.is_set()

    def _listen(self) -> None:
        now = _now()
        status, past_due = self._startup_status(now)
        if past_due:
            log.info("timer %s is past due (was due %s): invoking now", self.fn.name, _iso(status.next))
            self._fire(status, past_due=True, occurrence=status.next)
        elif self.fn.run_on_startup:
            self._fire(status, past_due=False, occurrence=None)
        while self._running():
            due = self.schedule.next_after(_now())
            while self._running():
                remaining = (due - _now()).total_seconds()
                if remaining <= 0:
                    break
                self._stop.wait(min(remaining, 0.25))
            if not self._running():
                return
            self._fire(status, past_due=False, occurrence=due)

    def _startup_status(self, now: datetime) -> tuple[ScheduleStatus, bool]:
        fresh = ScheduleStatus(last=None, next=self.schedule.next_after(now), last_updated=now)
        if not self.use_monitor:
            return fresh, False
        recorded = self.store.get_status(self.fn.name)
        if recorded is None:
            self.store.put_status(self.fn.name, fresh)
            return fresh, False
        # A changed schedule counts from the last occurrence (or the last update) with the new expression.
        expected = self.schedule.next_after(recorded.last or recorded.last_updated)
        if expected != recorded.next:
            recorded = ScheduleStatus(recorded.last, expected, now)
            self.store.put_status(self.fn.name, recorded)
        return recorded, now > recorded.next

    def _fire(self, status: ScheduleStatus, *, past_due: bool, occurrence: datetime | None) -> None:
        request = TimerRequest(
            past_due=past_due, schedule_status=status.as_dict(), schedule={"AdjustForDST": True}
        )
        started = time.monotonic()
        try:
            self._invoke(self.fn, request)
            log.info("Executed 'Functions.%s' (Succeeded, %.1fs)", self.fn.name, time.monotonic() - started)
        except Exception:
            log.error("Executed 'Functions.%s' (Failed)\n%s", self.fn.name, traceback.format_exc())
        now = _now()
        status.next = self.schedule.next_after(now)
        status.last_updated = now
        if occurrence is not None:  # a runOnStartup call is not an occurrence: Last stays
            status.last = occurrence
        if self.use_monitor:
            try:
                self.store.put_status(self.fn.name, status)
            except Exception as exc:
                log.warning("timer %s: could not record the schedule status (%s)", self.fn.name, exc)

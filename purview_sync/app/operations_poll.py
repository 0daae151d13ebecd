"""The operations poll (DESIGN.md §4, round 2): a timer reads Qualytics' finished scan and profile operations
(``GET /api/operations``, reference/qualytics-api.md §9) and feeds each one's datastore into the same
coalesced push as an event (``events.feed``, every event-driven integration) — so event-driven push works
with nothing configured in Qualytics.

Each operation is pushed once, across restarts, overlapping ticks and several instances:
* the first tick ever records *now* (``origin``): an operation that finished before is history, not pushed;
* an operation is taken on by creating its marker (insert: one tick wins), and marked done after its push
  is scheduled; a claim whose tick died is taken over after ``CLAIM_LEASE_SECONDS`` (so a crash re-pushes
  rather than loses);
* the watermark (every operation that finished before it has been seen) moves forward only after a tick read
  everything, never past the start of an operation still running, and never back (conditional writes).

What the API leaves open [?] and how the poll copes (the simulator has a knob for each):
* which time ``start_date`` compares (created, start or end): each query reaches ``OVERLAP_SECONDS`` behind
  the watermark, and the watermark waits for running operations, so any of the three finds every operation;
* whether ``start_date`` takes a date-time or only a date: a 422 to the date-time makes this process send
  the date (the markers keep the wider window from pushing anything twice);
* ``datastore`` as an id or an object, filters the server may ignore: read either way, filtered again here.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from purview_sync.app import events
from purview_sync.app.services import Services
from purview_sync.clients.http import HttpError
from purview_sync.clients.qualytics import QualyticsClient
from purview_sync.storage.operations import OperationPollRepo

log = logging.getLogger(__name__)

POLLED_TYPES = ("scan", "profile")
OVERLAP_SECONDS = 300.0  # clock skew between Qualytics and us, and operations listed late
CLAIM_LEASE_SECONDS = 300.0
MARKER_KEEP_SECONDS = 7 * 86400.0
MAX_HOLD_SECONDS = 86400.0  # an operation "running" for longer than this no longer holds the watermark
_date_only = False  # set when the API refused a date-time start_date (422) — for this process


@dataclass
class PollResult:
    pushed: list[int] = field(default_factory=list)  # operation ids this tick took on
    skipped: int = 0
    watermark: float = 0.0


def poll(services: Services, *, now: float | None = None) -> PollResult:
    repo = OperationPollRepo(services.storage)
    started = time.time() if now is None else now
    state = repo.state(started)
    since = state.watermark - OVERLAP_SECONDS
    qualytics = services.qualytics()
    try:
        # the very first tick also looks for operations that started long ago and are still running
        running = _running(qualytics, None if state.fresh else since, started)
        finished = _finished(qualytics, since)
    finally:
        qualytics.close()
    result = PollResult()
    for op, ended in finished:
        operation_id = int(op["id"])
        if ended < state.origin or ended < state.watermark - OVERLAP_SECONDS:
            result.skipped += 1  # history (before the first tick), or seen by a tick before
            continue
        etag = repo.claim(operation_id, ended, CLAIM_LEASE_SECONDS)
        if etag is None:
            continue  # pushed already, or another tick is pushing it now
        datastore_id = _datastore_id(op)
        if datastore_id is None:
            log.warning("operation %s names no datastore: not pushed", operation_id)
        else:
            targets = events.feed(services, "scan_completed", datastore_id, None, None)
            log.info("operation %s (%s of datastore %s) finished: push scheduled for %d integration(s)",
                     operation_id, op.get("type"), datastore_id, targets)  # fmt: skip
        repo.done(operation_id, ended, etag)
        result.pushed.append(operation_id)
    hold = min((started, *running))  # never past an operation still running
    result.watermark = repo.advance(state, hold)
    repo.forget_before(result.watermark - MARKER_KEEP_SECONDS)
    return result


def _running(qualytics: QualyticsClient, since: float | None, now: float) -> list[float]:
    """When each operation still running started (the watermark must not pass it)."""
    starts = []
    for op in _list(qualytics, since, finished="false"):
        if op.get("end_time") is None or op.get("result") == "running":
            moment = _epoch(op.get("start_time")) or _epoch(op.get("created"))
            if moment is not None and moment > now - MAX_HOLD_SECONDS:
                starts.append(moment)
    return starts


def _finished(qualytics: QualyticsClient, since: float) -> list[tuple[dict[str, Any], float]]:
    out: dict[int, tuple[dict[str, Any], float]] = {}
    for kind in POLLED_TYPES:
        for op in _list(qualytics, since, operation_type=kind, result="success", finished="true"):
            ended = _epoch(op.get("end_time"))
            if (
                op.get("type") != kind
                or op.get("result") != "success"
                or ended is None
                or op.get("id") is None
            ):
                continue  # a filter the server ignored
            out[int(op["id"])] = (op, ended)
    return sorted(out.values(), key=lambda pair: (pair[1], int(pair[0]["id"])))


def _list(qualytics: QualyticsClient, since: float | None, **params: str) -> Iterator[dict[str, Any]]:
    global _date_only
    query = {**params, "sort_created": "asc"}
    if since is None:
        return qualytics.list_operations(**query)
    moment = dt.datetime.fromtimestamp(since, dt.UTC)
    if not _date_only:
        try:
            # read it all now: a 422 must come before anything is yielded
            return iter(
                list(qualytics.list_operations(**query, start_date=moment.strftime("%Y-%m-%dT%H:%M:%SZ")))
            )
        except HttpError as exc:
            if exc.status != 422:
                raise
            log.info("Qualytics refused a date-time start_date (422): polling by date from now on")
            _date_only = True
    return qualytics.list_operations(**query, start_date=moment.date().isoformat())


def _datastore_id(op: dict[str, Any]) -> int | None:
    value = op.get("datastore")
    if isinstance(value, dict):
        value = value.get("id")
    if value is None:
        value = op.get("datastore_id")
    if isinstance(value, bool):
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def reset_date_mode() -> None:
    """Forget the date-only fallback (tests that switch the simulator's knob)."""
    global _date_only
    _date_only = False

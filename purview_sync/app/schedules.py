"""Scheduled syncs (DESIGN.md §3c): the timer tick starts every sync whose ``schedule`` is due.

For each integration whose ``next_run_at`` has come:

1. the occurrence is *claimed* (``storage.schedules``: one claim per integration and due time, taken with
   create / etag conditions), so several instances ticking at once — or a tick that runs twice — start it
   once;
2. ``next_run_at`` moves on to the cron's next occurrence after now (missed occurrences are not made up one
   by one: a host that was down for a day starts one run, not a day's worth), whoever claimed it — only if
   the row still holds the due time read, so an edit made meanwhile wins;
3. the claimer starts the sync with the schedule's ``pull`` / ``push`` and ``trigger: "schedule"``; a sync
   already running means this occurrence is skipped and logged, not queued.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from purview_sync.app.runs import start_sync
from purview_sync.app.services import Services
from purview_sync.errors import ApiError
from purview_sync.models import Integration, SyncRequest, iso_to_epoch, next_run_after

log = logging.getLogger(__name__)


def run_due_schedules(services: Services, now: datetime | None = None) -> list[dict[str, Any]]:
    """One tick: what happened to each due schedule (``started`` | ``skipped`` | ``claimed_elsewhere`` |
    ``failed``)."""
    moment = now or datetime.now(UTC)
    outcomes = []
    for integration in services.integrations.list():
        try:
            outcome = _tick(services, integration, moment)
        except Exception:
            log.exception("schedule of integration %s: the tick failed; it is retried next tick", integration.id)
            continue
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _tick(services: Services, integration: Integration, now: datetime) -> dict[str, Any] | None:
    schedule, due = integration.schedule, integration.next_run_at
    if not schedule or not due or (iso_to_epoch(due) or 0) > now.timestamp():
        return None
    following = next_run_after(str(schedule["cron"]), now)
    claimed = services.schedule_claims.claim(integration.id, due)
    services.integrations.move_next_run(integration.id, due, following)
    outcome: dict[str, Any] = {"integration_id": integration.id, "due": due, "next_run_at": following}
    if not claimed:
        log.info("scheduled sync of %s due %s: already started by another instance", integration.id, due)
        return {**outcome, "outcome": "claimed_elsewhere"}
    body = SyncRequest(pull=bool(schedule.get("pull", True)), push=bool(schedule.get("push", True)))
    try:
        run = start_sync(services, integration.id, body, trigger="schedule")
    except ApiError as exc:
        if exc.code == "sync_in_progress":
            log.warning(
                "scheduled sync of %s due %s skipped: sync %s is still running; next at %s",
                integration.id, due, exc.extra.get("run_id"), following,
            )  # fmt: skip
            return {**outcome, "outcome": "skipped", "running_run_id": exc.extra.get("run_id")}
        log.error("scheduled sync of %s due %s not started (%s): %s", integration.id, due, exc.code, exc.message)
        return {**outcome, "outcome": "failed", "error": exc.code}
    log.info("scheduled sync %s of %s started (due %s); next at %s", run["id"], integration.id, due, following)
    return {**outcome, "outcome": "started", "run_id": run["id"]}

"""Event-driven push: Qualytics scan / anomaly / check events → a push of that datastore, coalesced.

How a burst becomes one push: the first event for (integration, datastore) records a *due time* in the
EventState table and queues one delayed "push due" message; later events inside the window only merge into
that row. When the message comes due it opens an ordinary one-datastore run (push only) through the
coordinator — so it takes the integration's lock and never runs beside a sync. If a sync (or another push)
holds the lock, the push is deferred, not lost, and dropped only when that sync already pushed the
datastore after the event.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from pydantic import BaseModel

from purview_sync.app import runs
from purview_sync.app.event_intake import parse_event, resolve_datastore
from purview_sync.app.services import Services
from purview_sync.errors import ApiError
from purview_sync.models import EventMessage, Integration, iso_to_epoch
from purview_sync.storage.clients import QUEUE_EVENT_PUSH, QUEUE_EVENTS, TABLE_EVENTS
from purview_sync.storage.tables import replace_if_unchanged

log = logging.getLogger(__name__)

DEFER_SECONDS = 5  # how soon a deferred push looks again whether the running sync is done
ALL_CONTAINERS = "*"


class PushDue(BaseModel):
    integration_id: str
    datastore_id: int


@dataclass
class PendingPush:
    due_at: float
    last_event_at: float
    container: str  # a container id, or "*" for the whole datastore
    etag: str | None = None


class EventState:
    """EventState rows: PartitionKey = integration id, RowKey = ``ds-<datastore id>``."""

    def __init__(self, services: Services) -> None:
        self.table = services.storage.table(TABLE_EVENTS)

    @staticmethod
    def rk(datastore_id: int) -> str:
        return f"ds-{datastore_id:012d}"

    def get(self, integration_id: str, datastore_id: int) -> PendingPush | None:
        try:
            e = self.table.get_entity(integration_id, self.rk(datastore_id))
        except ResourceNotFoundError:
            return None
        return PendingPush(
            float(e["due_at"]), float(e["last_event_at"]), str(e["container"]), e.metadata["etag"]
        )

    def create(self, integration_id: str, datastore_id: int, pending: PendingPush) -> bool:
        try:
            self.table.create_entity(self._entity(integration_id, datastore_id, pending))
            return True
        except ResourceExistsError:
            return False

    def update(self, integration_id: str, datastore_id: int, pending: PendingPush) -> bool:
        entity = self._entity(integration_id, datastore_id, pending)
        return replace_if_unchanged(self.table, entity, pending.etag) is not None

    def clear(self, integration_id: str, datastore_id: int, pending: PendingPush) -> bool:
        """Remove the row unless an event arrived since it was read (etag)."""
        try:
            self.table.delete_entity(
                integration_id,
                self.rk(datastore_id),
                etag=pending.etag,
                match_condition=MatchConditions.IfNotModified,
            )
            return True
        except ResourceNotFoundError:
            return True
        except ResourceModifiedError:
            return False

    def _entity(self, integration_id: str, datastore_id: int, pending: PendingPush) -> dict[str, Any]:
        return {
            "PartitionKey": integration_id,
            "RowKey": self.rk(datastore_id),
            "due_at": pending.due_at,
            "last_event_at": pending.last_event_at,
            "container": pending.container,
        }


# --- intake -----------------------------------------------------------------------------------------


def accept(services: Services, body: EventMessage) -> None:
    """POST /api/events: validated already; queue it like Qualytics would."""
    services.storage.enqueue(QUEUE_EVENTS, body.model_dump())


def handle_event(services: Services, raw: bytes) -> None:
    """qualytics-events: malformed → logged and dead-lettered at once (no retry storm); a datastore that
    does not exist (id or name) → logged and dropped."""
    try:
        event = parse_event(raw)
    except ApiError as exc:
        log.error("malformed %s message dead-lettered (%s: %s)", QUEUE_EVENTS, exc.extra.get("field"), exc.message)
        services.storage.queue(QUEUE_EVENTS + "-poison").send_message(raw.decode("utf-8", "replace"))
        return
    targets = _targets(services, event.type, event.integration_id)
    if not targets:
        return  # before the name is looked up: no Qualytics call for an event nobody takes
    datastore_id = resolve_datastore(services, event)
    if datastore_id is None:
        log.warning("event %s for unknown datastore %r dropped", event.type, event.datastore_name)
        return
    feed(services, event.type, datastore_id, event.container_id, event.integration_id, targets)


def feed(services: Services, kind: str, datastore_id: int, container_id: int | None,
         integration_id: str | None, targets: list[Integration] | None = None) -> int:  # fmt: skip
    """One event for one datastore → a coalesced push for each event-driven integration it concerns (all
    of them when ``integration_id`` is None); how many pushes it scheduled or joined."""
    if targets is None:
        targets = _targets(services, kind, integration_id)
    if not targets:
        return 0
    if services.get_datastore(datastore_id) is None:
        log.warning("event %s for unknown datastore %s dropped", kind, datastore_id)
        return 0
    for integration in targets:
        schedule(services, integration.id, datastore_id, container_id)
    return len(targets)


def _targets(services: Services, kind: str, integration_id: str | None) -> list[Integration]:
    if integration_id is not None:
        integration = services.integrations.get(integration_id)
        if integration is None:
            log.warning("event %s for unknown integration %s dropped", kind, integration_id)
            return []
        candidates = [integration]
    else:
        candidates = services.integrations.list()
    targets = []
    for integration in candidates:
        if integration.event_driven:
            targets.append(integration)
        else:
            log.info("integration %s has event_driven off: event %s ignored", integration.id, kind)
    return targets


def schedule(services: Services, integration_id: str, datastore_id: int, container_id: int | None) -> None:
    state = EventState(services)
    window = services.settings.event_coalesce_seconds
    container = str(container_id) if container_id is not None else ALL_CONTAINERS
    for _ in range(10):
        now = time.time()
        pending = state.get(integration_id, datastore_id)
        if pending is None:
            fresh = PendingPush(due_at=now + window, last_event_at=now, container=container)
            if state.create(integration_id, datastore_id, fresh):
                due = PushDue(integration_id=integration_id, datastore_id=datastore_id)
                services.storage.enqueue(
                    QUEUE_EVENT_PUSH, due.model_dump(), delay_seconds=max(1, round(window))
                )
                log.info("event push of datastore %s for %s due in %ss", datastore_id, integration_id, window)
                return
            continue
        pending.last_event_at = now
        if pending.container != container:
            pending.container = ALL_CONTAINERS
        if state.update(integration_id, datastore_id, pending):
            log.info(
                "event for datastore %s coalesced into the pending push of %s", datastore_id, integration_id
            )
            return
    raise RuntimeError(f"could not record the event for datastore {datastore_id} (contention)")


# --- the push that came due ------------------------------------------------------------------------


def handle_push_due(services: Services, raw: bytes) -> None:
    due = PushDue.model_validate_json(raw)
    state = EventState(services)
    pending = state.get(due.integration_id, due.datastore_id)
    if pending is None:
        return  # done already (redelivery)
    now = time.time()
    if pending.due_at > now + 0.5:
        _requeue(services, due, pending.due_at - now)
        return
    integration = services.integrations.get(due.integration_id)
    if integration is None or not integration.event_driven:
        state.clear(due.integration_id, due.datastore_id, pending)
        return
    if _already_pushed(services, integration.id, due.datastore_id, pending.last_event_at):
        log.info("datastore %s was pushed by a sync after the event; event push dropped", due.datastore_id)
        state.clear(integration.id, due.datastore_id, pending)
        return
    lock = services.syncs.read_lock(integration.id)
    if lock is not None and lock.lease_until > now:
        log.info(
            "integration %s is busy (run %s): event push of %s deferred",
            integration.id,
            lock.run_id,
            due.datastore_id,
        )
        _requeue(services, due, DEFER_SECONDS)
        return
    datastore = services.get_datastore(due.datastore_id)
    if datastore is None:
        state.clear(integration.id, due.datastore_id, pending)
        return
    container_id = None if pending.container == ALL_CONTAINERS else int(pending.container)
    if not state.clear(integration.id, due.datastore_id, pending):
        _requeue(services, due, 0)  # an event arrived meanwhile: take the merged row next time
        return
    try:
        runs.open_run(
            services,
            integration,
            [datastore],
            {"pull": False, "push": True, "trigger": "event", "container_id": container_id},
            container_id=container_id,
            trigger="event",
        )
    except ApiError as exc:
        if exc.code != "sync_in_progress":
            raise
        schedule(
            services, integration.id, due.datastore_id, container_id
        )  # lost the race: not lost, deferred


def _requeue(services: Services, due: PushDue, delay: float) -> None:
    services.storage.enqueue(QUEUE_EVENT_PUSH, due.model_dump(), delay_seconds=max(1, round(delay)))


def _already_pushed(services: Services, integration_id: str, datastore_id: int, event_at: float) -> bool:
    """Did a run push this whole datastore after the event (the running one, or the newest)?"""
    lock = services.syncs.read_lock(integration_id)
    run_ids = [lock.run_id] if lock else []
    recent = services.syncs.list_runs(integration_id)
    run_ids += [r.id for r in recent[:1]]
    for run_id in run_ids:
        run = services.syncs.get_run(integration_id, run_id)
        if run is None or not run.options.get("push") or run.options.get("container_id") is not None:
            continue
        row = services.syncs.get_datastore_row(integration_id, run_id, datastore_id)
        if row is None or row.status != "completed" or not row.started_at:
            continue
        started = iso_to_epoch(row.started_at)
        if started is not None and started > event_at:
            return True
    return False

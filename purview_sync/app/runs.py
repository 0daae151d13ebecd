"""The sync frame: start (lock + fan-out), cancel, finish, report (one datastore: ``app.processing``).

Invariants:
- one sync per integration: a lock row taken with create / etag conditions, with a lease that the work
  renews; an expired lease may be taken over and the abandoned run is marked failed;
- a queue message may arrive more than once: a datastore row that is already finished is not redone, and
  every count is read from the per-datastore rows, never from counters a retry could double;
- the datastore that finishes last finishes the run and frees the lock — a message that exhausted its
  attempts still ends its datastore ``failed``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests

from purview_sync import telemetry
from purview_sync.app.integrations import load
from purview_sync.app.services import Services
from purview_sync.clients.http import HttpError, RetryPolicy
from purview_sync.clients.qualytics import DATABASE_STORE_TYPES, SQL_SERVER_TYPES
from purview_sync.errors import ApiError
from purview_sync.models import (
    COUNT_KEYS,
    DatastoreMessage,
    Integration,
    SyncRequest,
    iso_to_epoch,
    new_id,
    now_iso,
)
from purview_sync.storage.clients import QUEUE_DATASTORE
from purview_sync.storage.runs import DatastoreRow, Run

log = logging.getLogger(__name__)


# --- start ----------------------------------------------------------------------------------------


def skip_reason(ds: dict[str, Any]) -> str | None:
    """Why a datastore is not synced at all: a file datastore, or a database Purview does not scan as SQL."""
    store_type = str(ds.get("store_type") or "").lower()
    if store_type not in DATABASE_STORE_TYPES:
        return (
            f"file-based datastore (store_type '{store_type or 'unknown'}'): only database datastores are "
            "synced with Purview"
        )
    kind = str(ds.get("type") or "").lower()
    if kind and kind not in SQL_SERVER_TYPES:
        return (
            f"database type '{kind}': only SQL Server family databases ({', '.join(sorted(SQL_SERVER_TYPES))}), "
            "which Purview scans as Azure SQL / SQL Server / Synapse assets, are synced with Purview"
        )
    return None


def start_sync(
    services: Services, integration_id: str, body: SyncRequest, *, trigger: str = "manual"
) -> dict[str, Any]:
    integration = load(services, integration_id)
    if not body.pull and not body.push:
        raise ApiError(400, "validation_error", "Choose pull, push or both: both are false.", field="pull")
    # an HTTP call answers fast: a few quick retries, then a 502 that names the cause (not a 500 a minute later)
    qualytics = services.qualytics(timeout=15, retry=RetryPolicy(max_attempts=3, max_delay=2.0))
    try:
        datastores = list(qualytics.list_datastores())
    except (HttpError, requests.RequestException) as exc:
        log.error("sync of %s not started: Qualytics did not list the datastores: %s", integration_id, exc)
        raise qualytics_unavailable(exc) from None
    finally:
        qualytics.close()
    if body.datastore_ids is not None:
        known = {int(d["id"]) for d in datastores}
        unknown = [i for i in body.datastore_ids if i not in known]
        if unknown:
            raise ApiError(
                400,
                "validation_error",
                f"Unknown datastore_ids: {', '.join(map(str, unknown))}.",
                field="datastore_ids",
                unknown=unknown,
            )
        wanted = set(body.datastore_ids)
        datastores = [d for d in datastores if int(d["id"]) in wanted]

    return open_run(
        services,
        integration,
        datastores,
        {"pull": body.pull, "push": body.push, "datastore_ids": body.datastore_ids, "dry_run": body.dry_run},
        trigger=trigger,
    )


def open_run(
    services: Services,
    integration: Integration,
    datastores: list[dict[str, Any]],
    options: dict[str, Any],
    *,
    container_id: int | None = None,
    trigger: str = "manual",
) -> dict[str, Any]:
    """Take the lock, record the run and its datastore rows, and queue one message per database datastore.

    ``trigger`` says who started it: ``manual`` (POST /sync), ``event`` (an event push), ``schedule``.
    ``options.dry_run`` (a preview) is read by each datastore's processing from the run row."""
    options = {"dry_run": False, **options}
    run = Run(
        id=new_id(),
        integration_id=integration.id,
        status="running",
        options=options,
        started_at=now_iso(),
        trigger=trigger,
    )
    ttl = services.settings.sync_lock_ttl_seconds
    taken, previous = services.syncs.try_lock(
        integration.id, run.id, ttl, released=lambda lock: _run_finished(services, integration.id, lock.run_id)
    )
    if not taken:
        running = previous.run_id if previous else None
        raise ApiError(
            409,
            "sync_in_progress",
            "A sync of this integration is already running; wait or cancel it.",
            run_id=running,
        )
    if previous is not None:
        abandon(services, integration.id, previous.run_id, taken_over_by=run.id)

    rows: list[DatastoreRow] = []
    for ds in datastores:
        row = DatastoreRow(run_id=run.id, datastore_id=int(ds["id"]), name=str(ds.get("name") or ""))
        reason = skip_reason(ds)
        if reason is not None:
            row.status, row.reason = "skipped", reason
            row.finished_at = run.started_at
            log.info("run %s: datastore %s '%s' skipped: %s", run.id, row.datastore_id, row.name, row.reason)
        rows.append(row)
    run.datastores_total = len(rows)
    try:
        services.syncs.create_run(run, rows)
        for row in rows:
            if row.status == "pending":
                message = DatastoreMessage(
                    integration_id=integration.id,
                    run_id=run.id,
                    datastore_id=row.datastore_id,
                    pull=bool(options.get("pull")),
                    push=bool(options.get("push")),
                    container_id=container_id,
                )
                services.storage.enqueue(QUEUE_DATASTORE, message.model_dump(exclude={"part"}))
    except Exception:
        services.syncs.release_lock(integration.id, run.id)
        raise
    log.info(
        "run %s started for integration %s (%s): %d datastores (%d queued)",
        run.id, integration.id, options, len(rows), sum(r.status == "pending" for r in rows),
    )  # fmt: skip
    finish_if_done(services, integration.id, run.id)
    services.syncs.prune(integration.id)
    return run_view(services, integration.id, run.id, with_datastores=False)


def _run_finished(services: Services, integration_id: str, run_id: str) -> bool:
    """A lock whose run already ended is free: the finisher releases it a moment after the run's last write,
    and a client that saw the run end must be able to start the next one at once."""
    run = services.syncs.get_run(integration_id, run_id)
    return run is not None and run.finished


def qualytics_unavailable(exc: Exception) -> ApiError:
    if isinstance(exc, HttpError) and exc.status in (401, 403):
        return ApiError(
            502,
            "qualytics_unauthorized",
            f"The Qualytics API refused the app's token (HTTP {exc.status}): check the Function App's "
            "QUALYTICS_API_TOKEN setting, then start the sync again.",
        )
    detail = f"answered HTTP {exc.status}" if isinstance(exc, HttpError) else "could not be reached"
    return ApiError(
        502,
        "qualytics_unavailable",
        f"The Qualytics API {detail} when listing the datastores; no sync was started. Try again in a few "
        "minutes; if it persists, check the Function App's QUALYTICS_API_URL setting and Qualytics' status.",
    )


def abandon(services: Services, integration_id: str, run_id: str, *, taken_over_by: str) -> None:
    run = services.syncs.get_run(integration_id, run_id)
    if run is None or run.finished:
        return
    reason = (
        "abandoned: its lock lease expired (the host stopped or crashed mid-run); "
        f"sync {taken_over_by} took over. Run the sync again to cover these datastores."
    )
    for row in services.syncs.datastore_rows(integration_id, run_id):
        if not row.finished:
            row.status, row.reason, row.finished_at = "failed", "abandoned", now_iso()
            services.syncs.update_datastore_row(integration_id, row)
    run.status, run.reason, run.finished_at = "failed", reason, now_iso()
    services.syncs.update_run(run)
    log.warning("run %s of integration %s %s", run_id, integration_id, reason)


# --- finish / cancel --------------------------------------------------------------------------------


def finish_if_done(services: Services, integration_id: str, run_id: str) -> None:
    rows = services.syncs.datastore_rows(integration_id, run_id)
    if any(not r.finished for r in rows):
        return
    for _ in range(5):
        run = services.syncs.get_run(integration_id, run_id)
        if run is None:
            return
        if not run.finished:
            if run.status == "cancelling":
                run.status = "cancelled"
            elif any(r.status == "failed" or r.errors for r in rows):
                run.status = "completed_with_errors"
            else:
                run.status = "completed"
            run.finished_at = now_iso()
            if not services.syncs.update_run(run):
                continue  # a cancel or another finisher changed it: read again
            summary = run_view(services, integration_id, run_id, with_datastores=False)
            services.integrations.set_last_sync(integration_id, summary)
            log.info("run %s finished: %s %s", run_id, run.status, summary["totals"])
            _record_run(run)
        services.syncs.release_lock(integration_id, run_id)
        return


def _record_run(run: Run) -> None:
    started, finished = iso_to_epoch(run.started_at), iso_to_epoch(run.finished_at)
    if started is None or finished is None:
        return
    ids = {"integration_id": run.integration_id, "run_id": run.id, "status": run.status}
    telemetry.finished_span(telemetry.SPAN_RUN, started, finished, **ids)
    telemetry.add("purview_sync.run.duration", max(finished - started, 1e-6), status=run.status)


def cancel_sync(services: Services, integration_id: str) -> dict[str, Any]:
    load(services, integration_id)
    for _ in range(5):
        lock = services.syncs.read_lock(integration_id)
        run = services.syncs.get_run(integration_id, lock.run_id) if lock else None
        if lock is None or run is None or run.finished or lock.lease_until <= time.time():
            raise ApiError(409, "no_sync_in_progress", "No sync of this integration is running.")
        if run.status != "cancelling":
            run.status = "cancelling"
            if not services.syncs.update_run(run):
                continue
            log.info(
                "run %s: cancel requested; the datastores in progress finish, the rest are skipped", run.id
            )
        finish_if_done(services, integration_id, run.id)
        return run_view(services, integration_id, run.id, with_datastores=False)
    raise ApiError(409, "sync_in_progress", "The run changed while cancelling; try again.")


# --- views ----------------------------------------------------------------------------------------


def run_view(
    services: Services, integration_id: str, run_id: str, *, with_datastores: bool
) -> dict[str, Any]:
    run = services.syncs.get_run(integration_id, run_id)
    if run is None:
        raise ApiError(404, "not_found", "No sync run with that id exists for this integration.")
    rows = services.syncs.datastore_rows(integration_id, run_id)
    return _view(run, rows, with_datastores)


def _view(run: Run, rows: list[DatastoreRow], with_datastores: bool) -> dict[str, Any]:
    totals = {key: sum(int(r.counts.get(key, 0)) for r in rows) for key in COUNT_KEYS}
    totals["errors"] = sum(len(r.errors) + (1 if r.status == "failed" and not r.errors else 0) for r in rows)
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    body: dict[str, Any] = {
        "id": run.id,
        "integration_id": run.integration_id,
        "status": run.status,
        "reason": run.reason,
        "trigger": run.trigger,
        "options": run.options,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "progress": {
            "datastores_total": run.datastores_total,
            "datastores_done": sum(r.finished for r in rows),
            "by_status": by_status,
        },
        "totals": totals,
    }
    if with_datastores:
        body["datastores"] = [r.to_api() for r in rows]
    return body


def list_runs(services: Services, integration_id: str) -> list[dict[str, Any]]:
    load(services, integration_id)
    runs = services.syncs.list_runs(integration_id)
    return [_view(run, services.syncs.datastore_rows(integration_id, run.id), False) for run in runs]

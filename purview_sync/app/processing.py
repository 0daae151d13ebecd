"""One datastore message of a sync run: run the work once (idempotent under redelivery), settle its row.

Failures a retry cannot fix end the datastore at once with an action; transient ones go back to the host.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable

import requests
from azure.core.exceptions import ClientAuthenticationError

from purview_sync import telemetry
from purview_sync.app.runs import finish_if_done
from purview_sync.app.services import Services
from purview_sync.clients.connection import (
    AUTH_FAILED_CODES,
    AUTH_HINT,
    TENANT_CODES,
    aadsts_code,
    purview_refusal,
)
from purview_sync.clients.http import THROTTLED_ACTION, HttpError, ReadOnlyError, ThrottledError
from purview_sync.clients.secrets import SecretStoreError
from purview_sync.models import COUNT_KEYS, DatastoreMessage, DatastoreReport, ErrorEntry, now_iso
from purview_sync.storage.clients import QUEUE_DATASTORE
from purview_sync.storage.runs import DatastoreRow
from purview_sync.sync.datastore import sync_datastore
from purview_sync.sync.job import DatastoreJob

log = logging.getLogger(__name__)

Processor = Callable[[DatastoreJob], None]


def default_processor(job: DatastoreJob) -> None:
    sync_datastore(job)


# --------------------------------------------------------------------------------


def process_datastore(
    services: Services,
    message: DatastoreMessage,
    *,
    dequeue_count: int,
    max_dequeue_count: int,
    processor: Processor = default_processor,
    message_id: str | None = None,
) -> None:
    """One part of one datastore (DESIGN.md §3c, §4). ``message.part`` says which: a message for a part the
    row has moved past only makes sure the next part is on the queue; a copy of the current part's message
    (another id) while that part's holder is alive is dropped; a redelivery of the holder's own message (the
    same id: a crash) takes the part over from the last saved slice."""
    integration_id, run_id, ds_id = message.integration_id, message.run_id, message.datastore_id
    run = services.syncs.get_run(integration_id, run_id)
    if run is None or run.finished:
        log.info(
            "run %s: message for datastore %s ignored (run %s)", run_id, ds_id, run.status if run else "gone"
        )
        return
    row = services.syncs.get_datastore_row(integration_id, run_id, ds_id)
    if row is None or row.finished:
        log.info(
            "run %s: datastore %s already %s; redelivery ignored",
            run_id,
            ds_id,
            row.status if row else "gone",
        )
        finish_if_done(services, integration_id, run_id)
        return
    if message.part != row.part:
        if message.part < row.part and not row.handed_off:
            _hand_off(services, integration_id, row, message)  # the crash came between save and enqueue
        log.info(
            "run %s: datastore %s part %d message ignored (the datastore is at part %d)",
            run_id, ds_id, message.part, row.part,
        )  # fmt: skip
        return
    if run.status == "cancelling":
        _cancel(services, integration_id, row)
        return
    ttl = services.settings.sync_lock_ttl_seconds
    if not _claim(services, integration_id, row, message_id, dequeue_count):
        log.info("run %s: datastore %s part %d is held by another message; copy dropped", run_id, ds_id, row.part)
        return
    services.syncs.renew_lock(integration_id, run_id, ttl)

    integration = services.integrations.get(integration_id)
    if integration is None:
        _settle(services, integration_id, row, "failed", reason="the integration was deleted")
        finish_if_done(services, integration_id, run_id)
        return
    report = report_from_row(row) if row.part or row.cursor is not None else DatastoreReport()
    deadline = time.monotonic() + services.settings.datastore_time_budget_seconds
    job: DatastoreJob | None = None
    try:
        # this read's retries count against the datastore's budget too
        datastore = services.get_datastore(ds_id, deadline=deadline)
        if datastore is None:
            report.status, report.reason = "failed", "the datastore no longer exists in Qualytics"
        else:
            job = DatastoreJob(
                services=services,
                integration=integration,
                datastore=datastore,
                pull=message.pull,
                push=message.push,
                deadline=deadline,
                heartbeat=lambda: services.syncs.renew_lock(integration_id, run_id, ttl),
                report=report,
                container_id=message.container_id,
                part=row.part,
                after_table=row.cursor,
                dry_run=bool(run.options.get("dry_run")),
                run_id=run_id,
            )
            job.on_progress = lambda: _save_progress(services, integration_id, row, job)  # type: ignore[arg-type]
            processor(job)
            report = job.report
    except Exception as exc:
        report = job.report if job is not None else report
        last = dequeue_count >= max_dequeue_count
        log.error(
            "run %s: datastore %s '%s' attempt %d/%d failed: %s",
            run_id, ds_id, row.name, dequeue_count, max_dequeue_count, exc,
        )  # fmt: skip
        permanent = permanent_failure(exc, integration.tenant_id)
        if permanent is not None:  # another attempt would fail the same way: say what to fix, now
            report.status, report.reason = "failed", permanent[0]
            report.error(permanent[1], permanent[2])
            _settle_report(services, integration_id, row, report)
            finish_if_done(services, integration_id, run_id)
            return
        if last:
            report.status, report.reason = "failed", f"failed after {dequeue_count} attempts"
            report.error(
                _short(exc)
                if isinstance(exc, (HttpError, requests.RequestException))
                else f"{type(exc).__name__}: {_short(exc)}",
                "Check that Purview and Qualytics are reachable, then run the sync again; the function logs "
                "have the details.",
            )
            _settle_report(services, integration_id, row, report)
            finish_if_done(services, integration_id, run_id)
        else:
            log.debug("%s", traceback.format_exc())
        raise  # the host retries, and poisons the message after the last attempt
    if job is not None and not job.done:
        _continue(services, integration_id, row, job, message)
        return
    _settle_report(services, integration_id, row, report)
    services.syncs.renew_lock(integration_id, run_id, ttl)
    log.info(
        "run %s: datastore %s '%s' %s %s",
        run_id, ds_id, row.name, report.status, {k: v for k, v in report.counts().items() if v},
    )  # fmt: skip
    finish_if_done(services, integration_id, run_id)


# --- parts ------------------------------------------------------------------------------------------


def _held_by_another(row: DatastoreRow, message_id: str | None) -> bool:
    return (
        message_id is not None
        and row.part_message not in (None, message_id)
        and row.part_lease_until > time.time()
    )


def _claim(
    services: Services, integration_id: str, row: DatastoreRow, message_id: str | None, dequeue_count: int
) -> bool:
    """Take the datastore's current part for this message (etag-conditional); False when another copy of
    the part's message holds it (its lease is live), so this one must do nothing."""
    for _ in range(3):
        if _held_by_another(row, message_id):
            return False
        row.status, row.attempts, row.started_at = "running", dequeue_count, row.started_at or now_iso()
        row.part_message, row.handed_off = message_id, True
        row.part_lease_until = time.time() + services.settings.sync_lock_ttl_seconds
        if services.syncs.update_datastore_row(integration_id, row):
            return True
        latest = services.syncs.get_datastore_row(integration_id, row.run_id, row.datastore_id)
        if latest is None or latest.finished or latest.part != row.part:
            return False
        row.__dict__.update(latest.__dict__)
    raise RuntimeError(f"datastore {row.datastore_id}: its row keeps changing; the host retries")


def report_from_row(row: DatastoreRow) -> DatastoreReport:
    """The counts, errors and warnings the earlier parts (or slices) of this datastore saved."""
    report = DatastoreReport()
    for key in COUNT_KEYS:
        setattr(report, key, int(row.counts.get(key) or 0))
    report.errors = [ErrorEntry(e.get("message", ""), e.get("action", ""), e.get("asset")) for e in row.errors]
    report.warnings = list(row.warnings)
    report.unmatched_sample = list(row.unmatched_sample)
    report.suggestions = list(row.suggestions)
    return report


def _progress_into(row: DatastoreRow, report: DatastoreReport) -> None:
    row.counts = report.counts()
    row.errors = [{"message": e.message, "action": e.action, "asset": e.asset} for e in report.errors]
    row.warnings = report.warnings
    row.unmatched_sample = report.unmatched_sample
    row.suggestions = report.suggestions


def _save_progress(services: Services, integration_id: str, row: DatastoreRow, job: DatastoreJob) -> None:
    """After each slice: the cursor and the counts so far, so a crash resumes from here; the part's lease."""
    row.cursor = job.after_table
    row.part_lease_until = time.time() + services.settings.sync_lock_ttl_seconds
    _progress_into(row, job.report)
    if not services.syncs.update_datastore_row(integration_id, row):
        latest = services.syncs.get_datastore_row(integration_id, row.run_id, row.datastore_id)
        if latest is None or latest.finished or latest.part != row.part:
            raise RuntimeError(f"datastore {row.datastore_id}: its row moved on while part {row.part} ran")
        row.etag = latest.etag
        services.syncs.update_datastore_row(integration_id, row)


def _continue(
    services: Services, integration_id: str, row: DatastoreRow, job: DatastoreJob, message: DatastoreMessage
) -> None:
    """The budget ran out with slices left: save the cursor as the next part's, then enqueue that part —
    or, after a cancel, end the datastore here."""
    run = services.syncs.get_run(integration_id, row.run_id)
    if run is not None and run.status == "cancelling":
        _save_progress(services, integration_id, row, job)
        _cancel(services, integration_id, row, parts_done=row.part + 1)
        return
    row.part += 1
    row.handed_off, row.part_message = False, None
    _save_progress(services, integration_id, row, job)
    log.info(
        "run %s: datastore %s '%s' continues in part %d after table %s %s",
        row.run_id, row.datastore_id, row.name, row.part, row.cursor,
        {k: v for k, v in job.report.counts().items() if v},
    )  # fmt: skip
    _hand_off(services, integration_id, row, message)
    services.syncs.renew_lock(integration_id, row.run_id, services.settings.sync_lock_ttl_seconds)


def _hand_off(services: Services, integration_id: str, row: DatastoreRow, message: DatastoreMessage) -> None:
    services.storage.enqueue(QUEUE_DATASTORE, {**message.model_dump(), "part": row.part})
    row.handed_off = True
    if not services.syncs.update_datastore_row(integration_id, row):
        log.info("datastore %s: part %d already under way", row.datastore_id, row.part)


def _cancel(services: Services, integration_id: str, row: DatastoreRow, parts_done: int | None = None) -> None:
    """End the datastore ``cancelled``: before it started, or after the part that was in progress (its
    counts so far stay on the entry)."""
    if parts_done is None:
        parts_done = row.part + (1 if row.cursor is not None else 0)
    if parts_done == 0:
        reason = "the sync was cancelled before this datastore started"
    else:
        reason = (
            f"the sync was cancelled while this datastore was in progress; it stopped after part {parts_done} "
            "(the values written so far stay)"
        )
    _settle(services, integration_id, row, "cancelled", reason=reason)
    finish_if_done(services, integration_id, row.run_id)


def permanent_failure(exc: BaseException, tenant_id: str | None = None) -> tuple[str, str, str] | None:
    """``(reason, message, action)`` for a failure that a redelivery cannot fix (refused credentials,
    missing roles, a wrong Qualytics token); None for the transient rest, which the host retries."""
    if isinstance(exc, ThrottledError):  # the time budget is spent: another delivery would spend it again
        return "throttled", str(exc), THROTTLED_ACTION
    if isinstance(exc, ReadOnlyError):  # a preview reached a write: the client's guard stopped it
        return (
            "write_refused",
            f"The preview stopped before a write: {exc}",
            "Nothing was written. This is a defect of the preview; report it, and run without dry_run to sync.",
        )
    if isinstance(exc, ClientAuthenticationError) and aadsts_code(exc) in AUTH_FAILED_CODES | TENANT_CODES:
        detail = _short(exc).removeprefix("Authentication failed: ")
        return (
            "authentication_failed",
            f"Entra ID refused the integration's credentials: {detail}",
            f"{AUTH_HINT} Then update the integration (PATCH /api/integrations/{{id}} with client_id and "
            "client_secret) and run the sync again.",
        )
    if isinstance(exc, SecretStoreError):
        return (
            "secret_unavailable",
            f"The integration's client secret cannot be read: {exc}",
            "Set the client secret again with PATCH /api/integrations/{id}, then run the sync again.",
        )
    if isinstance(exc, HttpError) and exc.status in (401, 403):
        if exc.service == "purview":
            return purview_refusal(exc, what="the request", role="Data Curator", tenant_id=tenant_id)
        if exc.service == "qualytics":
            return (
                "qualytics_unauthorized",
                f"The Qualytics API refused the request (HTTP {exc.status}).",
                "Check the Function App's QUALYTICS_API_TOKEN setting (a valid, unexpired Qualytics API "
                "token), then run the sync again.",
            )
    return None


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:500] if str(exc) else ""


def _settle(services: Services, integration_id: str, row: DatastoreRow, status: str, *, reason: str) -> None:
    row.status, row.reason, row.finished_at = status, reason, now_iso()
    _save_row(services, integration_id, row)


def _settle_report(
    services: Services, integration_id: str, row: DatastoreRow, report: DatastoreReport
) -> None:
    row.status = report.status
    row.reason = report.reason
    row.counts = report.counts()
    row.errors = [{"message": e.message, "action": e.action, "asset": e.asset} for e in report.errors]
    row.warnings = report.warnings
    row.unmatched_sample = report.unmatched_sample
    row.lineage_unmatched_sources = report.lineage_unmatched_sources
    row.suggestions = report.suggestions
    row.finished_at = now_iso()
    _save_row(services, integration_id, row)
    telemetry.add("purview_sync.attributes_written", report.attributes_written, datastore_id=row.datastore_id)
    telemetry.add("purview_sync.tags_changed", report.tags_added, change="added")
    telemetry.add("purview_sync.tags_changed", report.tags_removed, change="removed")


def _save_row(services: Services, integration_id: str, row: DatastoreRow) -> None:
    if services.syncs.update_datastore_row(integration_id, row):
        return
    latest = services.syncs.get_datastore_row(integration_id, row.run_id, row.datastore_id)
    if latest is not None and not latest.finished:
        row.etag = latest.etag
        services.syncs.update_datastore_row(integration_id, row)



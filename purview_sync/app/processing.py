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
from purview_sync.clients.http import THROTTLED_ACTION, HttpError, ThrottledError
from purview_sync.clients.secrets import SecretStoreError
from purview_sync.models import DatastoreMessage, DatastoreReport, now_iso
from purview_sync.storage.runs import DatastoreRow
from purview_sync.sync.datastore import sync_datastore
from purview_sync.sync.job import DatastoreJob

log = logging.getLogger(__name__)

DATASTORE_TIME_BUDGET_SECONDS = 20 * 60  # below the 30-min functionTimeout of host.json


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
) -> None:
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
    if run.status == "cancelling":
        _settle(
            services,
            integration_id,
            row,
            "cancelled",
            reason="the sync was cancelled before this datastore started",
        )
        finish_if_done(services, integration_id, run_id)
        return
    row.status, row.attempts, row.started_at = "running", dequeue_count, row.started_at or now_iso()
    services.syncs.update_datastore_row(integration_id, row)
    ttl = services.settings.sync_lock_ttl_seconds
    services.syncs.renew_lock(integration_id, run_id, ttl)

    integration = services.integrations.get(integration_id)
    if integration is None:
        _settle(services, integration_id, row, "failed", reason="the integration was deleted")
        finish_if_done(services, integration_id, run_id)
        return
    report = DatastoreReport()
    deadline = time.monotonic() + DATASTORE_TIME_BUDGET_SECONDS
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
            )
            processor(job)
    except Exception as exc:
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
    _settle_report(services, integration_id, row, report)
    services.syncs.renew_lock(integration_id, run_id, ttl)
    log.info(
        "run %s: datastore %s '%s' %s %s",
        run_id, ds_id, row.name, report.status, {k: v for k, v in report.counts().items() if v},
    )  # fmt: skip
    finish_if_done(services, integration_id, run_id)


def permanent_failure(exc: BaseException, tenant_id: str | None = None) -> tuple[str, str, str] | None:
    """``(reason, message, action)`` for a failure that a redelivery cannot fix (refused credentials,
    missing roles, a wrong Qualytics token); None for the transient rest, which the host retries."""
    if isinstance(exc, ThrottledError):  # the time budget is spent: another delivery would spend it again
        return "throttled", str(exc), THROTTLED_ACTION
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



"""Integration lifecycle: connect (prove, then store), edit (re-prove what changed), delete, collections."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from purview_sync.app.services import Services
from purview_sync.clients.connection import call_purview, prove_connection
from purview_sync.errors import ApiError, not_found
from purview_sync.models import (
    ConnectRequest,
    Integration,
    PatchRequest,
    ScheduleBody,
    new_id,
    next_run_after,
    now_iso,
)

log = logging.getLogger(__name__)


def load(services: Services, integration_id: str) -> Integration:
    integration = services.integrations.get(integration_id)
    if integration is None:
        raise not_found()
    return integration


def set_schedule(integration: Integration, schedule: ScheduleBody | None) -> None:
    """The schedule (or none) and when it is next due: the cron's first occurrence after now."""
    integration.schedule = schedule.model_dump() if schedule else None
    integration.next_run_at = next_run_after(schedule.cron, datetime.now(UTC)) if schedule else None


def connect(services: Services, body: ConnectRequest) -> Integration:
    secret = body.client_secret.get_secret_value() if body.client_secret else None
    proven = prove_connection(
        purview_url=body.purview_url,
        tenant_id=body.tenant_id,
        client_id=body.client_id,
        client_secret=secret,
        domains=body.domains,
        settings=services.settings,
    )
    stamp = now_iso()
    integration = Integration(
        id=new_id(),
        purview_url=proven.purview_url,
        tenant_id=body.tenant_id,
        client_id=body.client_id,
        auth="client_secret" if secret else "managed_identity",
        domains=body.domains,
        event_driven=body.event_driven,
        overwrite_tags=body.overwrite_tags,
        lineage=body.lineage,
        dimension_scores=body.dimension_scores,
        created_at=stamp,
        updated_at=stamp,
    )
    set_schedule(integration, body.schedule)
    if secret:
        integration.secret_ref = services.secrets.protect(integration.id, secret)
    try:
        services.integrations.create(integration)
    except Exception:
        if integration.secret_ref:  # leave nothing half-written
            services.secrets.delete(integration.id, integration.secret_ref)
        raise
    log.info("integration %s connected to %s (%s)", integration.id, integration.purview_url, integration.auth)
    return integration


def update(services: Services, integration_id: str, body: PatchRequest) -> Integration:
    current = load(services, integration_id)
    changed = body.model_fields_set
    updated = replace(current, updated_at=now_iso())
    flags = ("event_driven", "overwrite_tags", "lineage", "dimension_scores")
    for name in ("purview_url", "tenant_id", "domains", *flags):
        if name in changed and getattr(body, name) is not None:
            setattr(updated, name, getattr(body, name))
    if "schedule" in changed:
        set_schedule(updated, body.schedule)
    if "client_id" in changed:
        updated.client_id = body.client_id
    new_secret: str | None = None
    if "client_secret" in changed:
        if body.client_secret is None:  # switch to the managed identity (user-assigned when client_id given)
            updated.auth = "managed_identity"
            if "client_id" not in changed:
                updated.client_id = None
        else:
            if not updated.client_id:
                raise ApiError(
                    400, "validation_error", "client_secret needs client_id.", field="client_secret"
                )
            new_secret = body.client_secret.get_secret_value()
            updated.auth = "client_secret"
    elif "client_id" in changed and current.auth == "managed_identity":
        updated.auth = "managed_identity"
    if updated.auth == "client_secret" and not updated.client_id:
        raise ApiError(
            400,
            "validation_error",
            "client_id is needed while the integration signs in with a client secret; send client_secret: null "
            "as well to switch to the managed identity.",
            field="client_id",
        )
    reprove = changed & {"purview_url", "tenant_id", "client_id", "client_secret", "domains"}
    if reprove:
        secret = new_secret
        if secret is None and updated.auth == "client_secret" and current.secret_ref:
            secret = services.secrets.reveal(current.id, current.secret_ref)
        proven = prove_connection(
            purview_url=updated.purview_url,
            tenant_id=updated.tenant_id,
            client_id=updated.client_id,
            client_secret=secret if updated.auth == "client_secret" else None,
            domains=updated.domains,
            settings=services.settings,
        )
        updated.purview_url = proven.purview_url
    if new_secret is not None:  # a new reference (Key Vault: a new name, see KeyVaultSecretStore)
        updated.secret_ref = services.secrets.protect(updated.id, new_secret)
    elif updated.auth == "managed_identity":
        updated.secret_ref = None
    try:
        services.integrations.save(updated)
    except Exception:
        if updated.secret_ref and updated.secret_ref != current.secret_ref:  # leave nothing half-written
            services.secrets.delete(updated.id, updated.secret_ref)
        raise
    if current.secret_ref and current.secret_ref != updated.secret_ref:  # replaced or no longer needed
        services.secrets.delete(current.id, current.secret_ref)
    log.info("integration %s updated (%s)", updated.id, ", ".join(sorted(changed)) or "nothing")
    return updated


def delete(services: Services, integration_id: str) -> None:
    integration = load(services, integration_id)
    lock = services.syncs.read_lock(integration.id)
    if lock is not None and lock.lease_until > time.time():
        raise ApiError(
            409,
            "sync_in_progress",
            "A sync is running; cancel it and wait for it to stop first.",
            run_id=lock.run_id,
        )
    services.mappings.delete_all(integration.id)
    services.lineage.delete_all(integration.id)
    services.push_state.delete_all(integration.id)
    services.syncs.delete_partition(integration.id)
    if integration.secret_ref:
        services.secrets.delete(integration.id, integration.secret_ref)
    services.integrations.delete(integration.id)
    log.info("integration %s deleted", integration.id)


def collections(services: Services, integration_id: str) -> list[dict[str, Any]]:
    integration = load(services, integration_id)
    client = services.purview_for(integration)
    try:
        raw = call_purview(
            lambda: list(client.list_collections()),
            "the collections API",
            "Collection Admin",
            tenant_id=integration.tenant_id,
        )
    finally:
        client.close()
    return [
        {
            "name": c.get("name"),
            "friendly_name": c.get("friendlyName"),
            "parent": (c.get("parentCollection") or {}).get("referenceName"),
            "description": c.get("description"),
        }
        for c in raw
    ]

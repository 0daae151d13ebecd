"""OpenAPI 3 description of the HTTP API (DESIGN.md §3), built from the same pydantic models that
validate the request bodies, plus response models that document what the handlers return."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from purview_sync.models import COUNT_KEYS, ConnectRequest, EventMessage, PatchRequest, SyncRequest

REF = "#/components/schemas/{model}"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    message: str


class ErrorBody(_Out):
    error: ErrorDetail


class Progress(_Out):
    datastores_total: int
    datastores_done: int
    by_status: dict[str, int]


Totals = create_model("Totals", __base__=_Out, **{key: (int, ...) for key in (*COUNT_KEYS, "errors")})


class DatastoreError(_Out):
    message: str
    action: str
    asset: str | None


class Suggestion(_Out):
    kind: Literal["table", "column", "datastore"]
    name: str = Field(description="the unmatched Qualytics name: table, table.column or database.schema")
    candidates: list[str] = Field(description="closest existing Purview names, best first (at most 3)")


class _DatastoreResult(_Out):
    datastore_id: int
    name: str
    status: Literal["pending", "running", "completed", "skipped", "failed", "cancelled"]
    reason: str | None
    attempts: int
    errors: list[DatastoreError]
    warnings: list[str]
    unmatched_sample: list[str]
    lineage_unmatched_sources: list[str]
    parts: int  # executions this datastore took so far (DESIGN.md §3c: large datastores); 0 = not started
    suggestions: list[Suggestion] = Field(
        description="a preview (dry_run) only: near misses for up to 50 unmatched names; empty otherwise"
    )
    started_at: str | None
    finished_at: str | None


DatastoreResult = create_model(
    "DatastoreResult", __base__=_DatastoreResult, **{key: (int | None, None) for key in COUNT_KEYS}
)

RunStatus = Literal["running", "cancelling", "cancelled", "completed", "completed_with_errors", "failed"]


class RunSummary(_Out):
    id: str
    integration_id: str
    status: RunStatus
    reason: str | None
    trigger: Literal["manual", "event", "schedule"] = Field(
        description="who started the run: POST /sync, an event push, or the integration's schedule"
    )
    options: dict[str, Any] = Field(description="pull, push, datastore_ids, dry_run (and container_id)")
    started_at: str
    finished_at: str | None
    progress: Progress
    totals: Totals


class RunDetail(RunSummary):
    datastores: list[DatastoreResult]


class IntegrationSchedule(_Out):
    cron: str
    pull: bool
    push: bool
    next_run_at: str | None


class Integration(_Out):
    id: str
    purview_url: str
    tenant_id: str
    client_id: str | None
    auth: Literal["client_secret", "managed_identity"]
    domains: list[str]
    event_driven: bool
    overwrite_tags: bool
    lineage: bool
    dimension_scores: bool
    created_at: str
    updated_at: str
    schedule: IntegrationSchedule | None
    last_sync: RunSummary | None


class IntegrationList(_Out):
    items: list[Integration]


class RunList(_Out):
    items: list[RunSummary]


class Collection(_Out):
    name: str
    friendly_name: str | None
    parent: str | None
    description: str | None


class CollectionList(_Out):
    items: list[Collection]


class Health(_Out):
    status: Literal["ok", "degraded"]
    storage: dict[str, str]


class DiagnosticCheck(_Out):
    name: str
    status: Literal["ok", "warning", "failed"]
    detail: str
    action: str | None


class Diagnostics(_Out):
    checks: list[DiagnosticCheck]


class EventBody(BaseModel):
    """What ``POST /api/events`` takes: our own event, or a Qualytics Flow's message (extra keys ignored;
    a text body with a …/datastores/<id> link works too). One datastore reference is needed: datastore_id,
    a …/datastores/<id> link in any string value, or datastore_name."""

    model_config = ConfigDict(extra="allow")
    type: Literal["scan_completed", "anomaly_updated", "check_archived"] = "scan_completed"
    datastore_id: int | None = None
    datastore_link: str | None = None
    target_link: str | None = None
    datastore_name: str | None = None
    container_id: int | None = None
    integration_id: str | None = None


class EventAccepted(_Out):
    status: Literal["accepted"]
    event: EventMessage


MODELS: tuple[type[BaseModel], ...] = (
    ConnectRequest, PatchRequest, SyncRequest, EventBody, EventMessage, ErrorBody, Integration, IntegrationList,
    RunSummary, RunDetail, RunList, CollectionList, Health, EventAccepted, Diagnostics,
)  # fmt: skip


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "validation_error — malformed input; `field` names what to fix",
        401: "missing or wrong function key",
        404: "not_found — unknown integration or run id",
        409: "sync_in_progress (with run_id) / no_sync_in_progress",
        413: "payload_too_large",
        422: "connection check failed: authentication_failed, tenant_mismatch, invalid_endpoint, "
        "insufficient_permissions, unknown_domain",
        502: "qualytics_unavailable / qualytics_unauthorized — the Qualytics API could not list the datastores",
    }
    return {str(c): _json(ErrorBody, text[c]) if c != 401 else {"description": text[c]} for c in codes}


ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "integration id",
}
RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _op(
    summary: str,
    responses: dict[str, Any],
    body: type[BaseModel] | None = None,
    *,
    text_body: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    if body is not None:
        content: dict[str, Any] = {"application/json": {"schema": _ref(body)}}
        if text_body:
            content["text/plain"] = {"schema": {"type": "string", "description": "a message with a link"}}
        op["requestBody"] = {"required": True, "content": content}
    return op


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in MODELS:
        schema = model.model_json_schema(
            ref_template=REF, mode="serialization" if issubclass(model, _Out) else "validation"
        )
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    paths = {
        "/integrations": {
            "post": _op("Connect a Purview account (proves the connection, then stores it)",
                        {"201": _json(Integration, "connected"), **_errors(400, 401, 413, 422)}, ConnectRequest),
            "get": _op("List integrations", {"200": _json(IntegrationList, "integrations"), **_errors(401)}),
        },
        "/integrations/{id}": {
            "parameters": [ID],
            "get": _op("Read an integration", {"200": _json(Integration, "the integration"), **_errors(401, 404)}),
            "patch": _op("Edit an integration (credential / URL / domain changes are re-proven)",
                         {"200": _json(Integration, "updated"), **_errors(400, 401, 404, 413, 422)}, PatchRequest),
            "delete": _op("Delete config, secret, runs and tag mappings",
                          {"204": {"description": "deleted"}, **_errors(401, 404, 409)}),
        },
        "/integrations/{id}/collections": {
            "parameters": [ID],
            "get": _op("Purview collections to pick as domains",
                       {"200": _json(CollectionList, "collections"), **_errors(401, 404, 422)}),
        },
        "/integrations/{id}/sync": {
            "parameters": [ID],
            "post": _op("Start a sync", {"202": _json(RunSummary, "started"), **_errors(400, 401, 404, 409, 413, 502)},
                        SyncRequest),
        },
        "/integrations/{id}/cancel": {
            "parameters": [ID],
            "post": _op("Cancel the running sync (stops after the datastores in progress)",
                        {"202": _json(RunSummary, "cancelling"), **_errors(401, 404, 409)}),
        },
        "/integrations/{id}/syncs": {
            "parameters": [ID],
            "get": _op("Sync runs, newest first", {"200": _json(RunList, "runs"), **_errors(401, 404)}),
        },
        "/integrations/{id}/syncs/{run_id}": {
            "parameters": [ID, RUN_ID],
            "get": _op("One run with per-datastore logs", {"200": _json(RunDetail, "the run"), **_errors(401, 404)}),
        },
        "/integrations/{id}/diagnostics": {
            "parameters": [ID],
            "get": _op("What this integration can and cannot do, check by check (read-only: writes nothing)",
                       {"200": _json(Diagnostics, "the checks, each with what to do"), **_errors(401, 404)}),
        },
        "/events": {
            "post": _op("Accept a Qualytics event and queue it (event-driven push)",
                        {"202": _json(EventAccepted, "queued (an unknown datastore is dropped later, logged)"),
                         **_errors(400, 401, 413)}, EventBody, text_body=True),
        },
        "/health": {
            "get": _op("Liveness and storage reachability (anonymous)",
                       {"200": _json(Health, "healthy"), "503": _json(Health, "storage unreachable")}, security=[]),
        },
        "/openapi.json": {"get": _op("This document", {"200": {"description": "OpenAPI 3 document"}})},
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "purview-sync",
            "version": "1.0.0",
            "description": "Connects Qualytics to Microsoft Purview. Errors are "
            '`{"error": {"code", "message", ...}}`; every route but /health needs the function key.',
        },
        "servers": [{"url": "/api"}],
        "security": [{"functionKey": []}, {"functionCode": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionCode": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
    }

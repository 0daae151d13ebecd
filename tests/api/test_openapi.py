"""GET /api/openapi.json is a valid OpenAPI 3 document and the handlers' real responses conform to it."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from purview_sync.dev.local_env import LocalEnvironment
from tests.conftest import Api
from tests.helpers import run_sync
from tests.sync.test_preview import make_estate


@pytest.fixture(scope="module")
def document(api: Api) -> dict[str, Any]:
    resp = api.get("/openapi.json")
    assert resp.status_code == 200
    return resp.json()


def conforms(document: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    response = document["paths"][path][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": document["components"]})


def test_document_is_valid_and_covers_every_route(document: dict[str, Any]) -> None:
    validate(document)
    assert set(document["paths"]) == {
        "/integrations", "/integrations/{id}", "/integrations/{id}/collections", "/integrations/{id}/sync",
        "/integrations/{id}/cancel", "/integrations/{id}/syncs", "/integrations/{id}/syncs/{run_id}",
        "/integrations/{id}/diagnostics", "/events", "/health", "/openapi.json",
    }  # fmt: skip
    connect = document["components"]["schemas"]["ConnectRequest"]
    assert {"purview_url", "tenant_id"} <= set(connect["required"])


def test_real_responses_conform(document: dict[str, Any], api: Api, local: LocalEnvironment) -> None:
    created = api.post("/integrations", json=local.connect_body(domains=["fin01"]))
    conforms(document, "/integrations", "post", 201, created.json())
    iid = created.json()["id"]
    conforms(document, "/integrations", "get", 200, api.get("/integrations").json())
    conforms(document, "/integrations/{id}", "get", 200, api.get(f"/integrations/{iid}").json())
    diagnostics = api.get(f"/integrations/{iid}/diagnostics").json()
    conforms(document, "/integrations/{id}/diagnostics", "get", 200, diagnostics)
    conforms(
        document,
        "/integrations/{id}/collections",
        "get",
        200,
        api.get(f"/integrations/{iid}/collections").json(),
    )
    bad = api.post("/integrations", json=local.connect_body(client_secret="nope"))
    conforms(document, "/integrations", "post", 422, bad.json())
    conforms(document, "/integrations", "post", 400, api.post("/integrations", json={}).json())
    conforms(document, "/integrations/{id}", "get", 404, api.get(f"/integrations/{'0' * 32}").json())
    run = run_sync(api, iid, push=True, pull=True)
    conforms(document, "/integrations/{id}/syncs/{run_id}", "get", 200, run)
    conforms(document, "/integrations/{id}/syncs", "get", 200, api.get(f"/integrations/{iid}/syncs").json())
    conforms(document, "/integrations/{id}", "get", 200, api.get(f"/integrations/{iid}").json())
    conforms(
        document, "/integrations/{id}/cancel", "post", 409, api.post(f"/integrations/{iid}/cancel").json()
    )
    event = api.post("/events", json={"type": "scan_completed", "datastore_id": 1, "integration_id": iid})
    conforms(document, "/events", "post", 202, event.json())
    conforms(document, "/health", "get", 200, api.get("/health").json())


def test_round_two_fields_are_documented_and_a_preview_conforms(
    document: dict[str, Any], api: Api, local: LocalEnvironment
) -> None:
    schemas = document["components"]["schemas"]
    for model in ("ConnectRequest", "PatchRequest", "Integration"):
        assert "dimension_scores" in schemas[model]["properties"], model
    assert schemas["SyncRequest"]["properties"]["dry_run"]["type"] == "boolean"
    assert schemas["RunSummary"]["properties"]["trigger"]["enum"] == ["manual", "event", "schedule"]
    assert "suggestions" in schemas["DatastoreResult"]["properties"]
    assert set(schemas["Suggestion"]["properties"]) == {"kind", "name", "candidates"}
    created = api.post("/integrations", json=local.connect_body(domains=["fin01"], dimension_scores=True))
    conforms(document, "/integrations", "post", 201, created.json())
    estate = make_estate(local)  # with near misses: cust_phone / phone, staging_tmp / staging
    run = run_sync(api, created.json()["id"], dry_run=True, datastore_ids=[estate.ds])
    assert run["options"]["dry_run"] is True and run["datastores"][0]["suggestions"]
    conforms(document, "/integrations/{id}/syncs/{run_id}", "get", 200, run)

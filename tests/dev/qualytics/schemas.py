"""Validation of what the Qualytics simulator served (and what it was sent) against
``shared/specs/qualytics/schemas.json``: the simulator's own schema test and the product's fidelity test
use it."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from purview_sync.dev.qualytics import Recorded
from tests.shared_specs import qualytics_schemas_path

SPECS = qualytics_schemas_path()
DEFS = json.loads(SPECS.read_text())["$defs"]

# route kind → the $def of its 2xx body; a list means "an array of"
RESPONSES: dict[str, str | list[str]] = {
    "datastores.list": "DatastoreListPage",
    "datastores.get": "DatastoreItem",
    "datastores.put": "DatastoreItem",
    "datastores.listing": ["DatastoreStub"],
    "datastores.quality_scores": "DatastoreQualityScoreHistory",
    "containers.list": "ContainerListPage",
    "containers.get": "ContainerItem",
    "containers.put": "ContainerItem",
    "containers.patch": ["ContainerItem"],
    "containers.listing": "ContainerListing",
    "fields.list": "FieldListPage",
    "fields.get": "FieldItem",
    "fields.put": "FieldItem",
    "fields.patch": ["FieldItem"],
    "fields.listing": ["FieldStub"],
    "anomalies.list": "AnomalyListPage",
    "anomalies.get": "AnomalyListItem",
    "checks.list": "QualityCheckListPage",
    "checks.get": "QualityCheckListItem",
    "tags.list": "GlobalTagListPage",
    "tags.get": "GlobalTagItem",
    "tags.create": "GlobalTagItem",
    "tags.put": "GlobalTagItem",
    "tags.listing": ["GlobalTagListingItem"],
    "operations.list": "PageEnvelope",  # its items: "Operation" (tests/dev/qualytics/test_operations.py)
    "operations.get": "Operation",
}
REQUESTS = {
    "datastores.put": "UpdateDatastoreBody",
    "containers.put": "UpdateContainerBody",
    "containers.patch": "BulkUpdateContainersBody",
    "fields.put": "UpdateFieldBody",
    "fields.patch": "BulkUpdateFieldsBody",
    "tags.create": "CreateGlobalTagBody",
}
NO_DEF = {"health", "status", "users.me", "connections.get", "tags.delete", "lineage.edges.list",
          "lineage.edges.create", "lineage.edges.delete", "containers.create"}  # no $def in schemas.json


def validator(name: str | list[str]) -> Draft202012Validator:
    ref: dict[str, Any] = {"$ref": f"#/$defs/{name}"} if isinstance(name, str) else {
        "type": "array", "items": {"$ref": f"#/$defs/{name[0]}"}}
    return Draft202012Validator({**ref, "$defs": DEFS}, format_checker=FormatChecker())


def problems(recorded: list[Recorded]) -> list[str]:
    out = []
    for r in recorded:
        if 200 <= r.status < 300 and r.kind in RESPONSES:
            for error in validator(RESPONSES[r.kind]).iter_errors(r.body):
                out.append(f"{r.method} {r.path} answer ({RESPONSES[r.kind]}): {error.message[:300]} at "
                           f"{list(error.absolute_path)}")
        if 200 <= r.status < 300 and r.kind in REQUESTS and r.request_body:
            for error in validator(REQUESTS[r.kind]).iter_errors(json.loads(r.request_body)):
                out.append(f"{r.method} {r.path} request ({REQUESTS[r.kind]}): {error.message[:300]}")
    return out



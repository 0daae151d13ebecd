"""GET /api/operations of the Qualytics simulator: filters, paging, the payload (checked against the
``Operation`` and ``PageEnvelope`` schemas of specs/qualytics/schemas.json) and the knobs of the unknowns."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from typing import Any

import jsonschema
import pytest

from purview_sync.dev.qualytics import QualyticsSim
from tests.dev.qualytics.support import Api
from tests.shared_specs import qualytics_schemas_path

NOW = dt.datetime.now(dt.UTC)


@lru_cache(maxsize=1)
def schemas() -> dict[str, Any]:
    return json.loads(qualytics_schemas_path().read_text())


def conforms(instance: Any, definition: str) -> None:
    document = schemas()
    schema = {"$schema": document["$schema"], "$defs": document["$defs"], "$ref": f"#/$defs/{definition}"}
    jsonschema.validate(instance, schema, format_checker=jsonschema.FormatChecker())


def ops(api: Api, **params: Any) -> list[dict[str, Any]]:
    return api.all_items("/operations", **params)


@pytest.fixture
def recorded(sim: QualyticsSim) -> dict[str, int]:
    a = sim.add_datastore("alpha")
    b = sim.add_datastore("beta")
    hour = dt.timedelta(hours=1)
    return {
        "a": a,
        "b": b,
        "old_scan": sim.record_operation(a, "scan", end_time=NOW - 3 * hour, start_time=NOW - 4 * hour),
        "profile": sim.record_operation(a, "profile", end_time=NOW - hour, start_time=NOW - 2 * hour),
        "failed": sim.record_operation(b, "scan", "failure"),
        "running": sim.record_operation(b, "scan", "running", start_time=NOW - 2 * hour),
        "scan_b": sim.record_operation(b, "scan"),
        "sync": sim.record_operation(a, "sync"),
    }


def test_the_payload_conforms_to_the_schemas(api: Api, recorded: dict[str, int]) -> None:
    page = api.get("/operations", size=2).json()
    conforms(page, "PageEnvelope")
    assert (page["total"], page["pages"], len(page["items"])) == (6, 3, 2)
    for item in ops(api):
        conforms(item, "Operation")
        assert set(item) >= {"id", "created", "type", "start_time", "end_time", "result", "message",
                             "triggered_by", "datastore", "status"}  # fmt: skip
        conforms(item["datastore"], "DatastoreStub")
    one = api.get(f"/operations/{recorded['scan_b']}").json()
    assert one["datastore"]["id"] == recorded["b"] and one["result"] == "success" and one["end_time"]
    assert api.get("/operations/999").status_code == 404


def test_filters(api: Api, recorded: dict[str, int]) -> None:
    ids = lambda **p: [o["id"] for o in ops(api, **p)]  # noqa: E731
    assert ids(operation_type="scan") == [recorded[k] for k in ("old_scan", "failed", "running", "scan_b")]
    assert ids(operation_type="scan", result="success", finished="true") == [
        recorded["old_scan"],
        recorded["scan_b"],
    ]
    assert ids(finished="false") == [recorded["running"]]
    assert ids(datastore=recorded["a"], operation_type="profile") == [recorded["profile"]]
    assert ids(result="failure,aborted") == [recorded["failed"]]
    recent = (NOW - dt.timedelta(minutes=90)).isoformat()
    assert ids(operation_type="scan", start_date=recent) == [recorded["failed"], recorded["scan_b"]]
    newest_first = ids(sort_created="desc")
    assert (
        newest_first[0] in (recorded["sync"], recorded["scan_b"]) and newest_first[-1] == recorded["old_scan"]
    )
    assert api.get("/operations", operation_type="bogus").status_code == 422
    assert api.get("/operations", start_date="yesterday").status_code == 422
    assert api.get("/operations", size=101).status_code == 422


def test_knob_date_field(sim: QualyticsSim, api: Api, recorded: dict[str, int]) -> None:
    since = (NOW - dt.timedelta(minutes=90)).isoformat()
    sim.operation_knobs.date_field = "end_time"
    assert [o["id"] for o in ops(api, finished="true", start_date=since, operation_type="profile")] == [
        recorded["profile"]
    ]
    sim.operation_knobs.date_field = "start_time"  # started two hours ago: not "since"
    assert ops(api, finished="true", start_date=since, operation_type="profile") == []


def test_knob_date_format(sim: QualyticsSim, api: Api, recorded: dict[str, int]) -> None:
    sim.operation_knobs.date_format = "date"
    assert api.get("/operations", start_date=NOW.isoformat()).status_code == 422
    resp = api.get("/operations", start_date=NOW.date().isoformat())
    assert resp.status_code == 200 and resp.json()["total"] >= 1


def test_knob_datastore_shape_and_ignored_filters(
    sim: QualyticsSim, api: Api, recorded: dict[str, int]
) -> None:
    sim.operation_knobs.datastore_shape = "id"
    assert api.get(f"/operations/{recorded['scan_b']}").json()["datastore"] == recorded["b"]
    sim.operation_knobs.ignored_filters = {"result", "finished"}
    assert len(ops(api, operation_type="scan", result="success", finished="true")) == 4


def test_a_running_operation_finishes(sim: QualyticsSim, api: Api, recorded: dict[str, int]) -> None:
    sim.finish_operation(recorded["running"])
    item = api.get(f"/operations/{recorded['running']}").json()
    assert item["result"] == "success" and item["end_time"] and item["status"]["containers_analyzed"] == 0
    with pytest.raises(ValueError):
        sim.record_operation(12345)

"""The Qualytics simulator serves only what ``shared/specs/qualytics/schemas.json`` allows: every payload
it answers, under every knob setting, is rendered and validated against the ``$def`` of its endpoint, and
so is every request body the tests send (issue 13: a simulator kinder than the documented API hid four
product bugs)."""

from __future__ import annotations

from typing import Any

import pytest

from purview_sync.dev.qualytics import QualyticsSim
from purview_sync.dev.qualytics.knobs import CHOICES
from tests.dev.qualytics.schemas import NO_DEF, problems, validator
from tests.dev.qualytics.support import Api


def exercise(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    """Every route with a payload def, on a datastore with checks, anomalies, tags, a view, an archived
    table, a file container and a DFS datastore."""
    ds, tx, view, amount = estate["ds"], estate["tx"], estate["view"], estate["amount"]
    check = sim.add_check(ds, tx, ["amount"])
    sim.add_check(ds, view, ["total"], status="Draft")
    anomaly = sim.add_anomaly(ds, tx, check_id=check)
    sim.add_anomaly(ds, tx, ["currency"], status="Resolved")
    sim.add_quality_score(ds, 81.5)
    sim.create_tag("Catalog", type="external")
    sim.set_tags("container", view, ["Catalog"])
    for name in ("finance", "pii"):
        assert api.post("/global-tags", {"type": "global", "name": name, "category": "Microsoft Purview",
                                         "description": "d", "color": "#0078D4"}).status_code == 200
    assert api.put(f"/datastores/{ds}", {"tags": ["finance"]}).status_code == 200
    assert api.put(f"/containers/{tx}", {"container_type": "table", "tags": ["pii"]}).status_code == 200
    assert api.patch("/containers", [{"id": tx, "tags": ["pii", "finance"]}]).status_code == 200
    assert api.put(f"/fields/{amount}", {"tags": ["pii"]}).status_code == 200
    assert api.patch("/fields", [{"id": amount, "tags": ["pii", "x"]}]).status_code == 200
    assert api.put("/global-tags/pii", {"type": "global", "description": "e"}).status_code == 200
    for lake_or_ds in (ds, estate["lake"], estate["enrich"]):
        api.get(f"/datastores/{lake_or_ds}")
    api.all_items("/datastores")
    api.all_items("/datastores", enrichment_only="true")
    api.get("/datastores/listing")
    api.get(f"/datastores/{ds}/quality-scores")
    for params in ({"datastore": ds}, {"container_type": "file"}, {"archived": "include"}):
        api.all_items("/containers", **params)
    api.get("/containers/listing", datastore=ds)
    api.get("/containers/listing", archived="include")
    for cid in (tx, view, estate["old"]):
        api.get(f"/containers/{cid}")
    api.all_items("/fields", container_id=tx)
    api.all_items("/fields", tag="pii")
    api.get(f"/fields/{amount}")
    api.get("/fields/listing", container_id=tx)
    api.all_items("/anomalies", datastore=ds, archived="include")
    api.get(f"/anomalies/{anomaly}")
    api.all_items("/quality-checks", datastore=ds, archived="include")
    api.get(f"/quality-checks/{check}")
    api.all_items("/global-tags")
    api.get("/global-tags/listing")
    api.get("/global-tags/Catalog")
    api.get("/global-tags/pii")
    operation = sim.record_operation(ds, "scan")
    sim.record_operation(ds, "profile", "running")
    api.all_items("/operations", datastore=ds)
    api.get(f"/operations/{operation}")


SETTINGS = [{}] + [{knob: value} for knob, values in CHOICES.items() for value in values[1:]]


@pytest.mark.parametrize("knobs", SETTINGS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "strict")
def test_every_payload_validates_against_its_schema(sim: QualyticsSim, api: Api, estate: dict[str, int],
                                                    knobs: dict[str, Any]) -> None:
    sim.configure(**knobs)
    sim.recording = []
    try:
        exercise(sim, api, estate)
        recorded = list(sim.recording)
    finally:
        sim.recording = None
    assert not problems(recorded), "\n".join(problems(recorded))
    served = {r.kind for r in recorded if 200 <= r.status < 300}
    kinds = {kind for _, _, kind, _ in sim.server.routes}
    assert kinds - NO_DEF - served == set(), "routes with a payload def that the test did not render"


def test_the_validation_would_catch_a_kindness(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    """The check is not vacuous: the kindnesses the simulator used to serve fail it."""
    field = api.get(f"/fields/{estate['amount']}").json()
    assert list(validator("FieldItem").iter_errors({**field, "container_id": estate["tx"]}))
    container = api.get(f"/containers/{estate['tx']}").json()
    assert list(validator("ContainerItem").iter_errors({**container, "archived": False}))
    page = api.get("/anomalies", datastore=estate["ds"]).json()
    assert not list(validator("AnomalyListPage").iter_errors(page))
    assert list(validator("AnomalyListPage").iter_errors({**page, "items": [{"id": 1}]}))

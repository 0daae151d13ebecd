"""The simulator's seeded dimension scores (a value or null where the schema allows null) and its call log."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from purview_sync.dev.qualytics import QualyticsSim
from purview_sync.dev.qualytics.records import DIMENSIONS, dimension_scores
from tests.dev.qualytics.support import Api
from tests.shared_specs import qualytics_schemas_path

SCHEMAS = qualytics_schemas_path()


def quality_score_validator() -> Draft202012Validator:
    doc = json.loads(SCHEMAS.read_text())
    return Draft202012Validator({"$ref": "#/$defs/QualityScore", "$defs": doc["$defs"]})


def test_seeded_dimensions_override_the_derived_ones_at_every_level(sim: QualyticsSim, api: Api) -> None:
    ds = sim.add_datastore("d", database="db", schema="dbo")
    sim.add_quality_score(ds, 80.0, completeness=91.2, accuracy=None)
    cid = sim.add_container(ds, "t", quality_score=75.0, dimensions={"timeliness": None})
    fid = sim.add_field(cid, "c", quality_score=60.0, dimensions={"precision": 1.5})

    snapshot = api.get(f"/datastores/{ds}/quality-scores").json()[0]
    assert snapshot["completeness"] == 91.2 and snapshot["accuracy"] is None
    container = api.get(f"/containers/{cid}").json()["metrics"]["quality_score"]
    assert container["timeliness"] is None and container["total"] == 75.0
    assert container["coverage"] == dimension_scores(75.0)["coverage"]
    fld = api.get(f"/fields/{fid}").json()["quality_score"]
    assert fld["precision"] == 1.5 and set(DIMENSIONS) <= set(fld)
    validator = quality_score_validator()
    for score in (container, fld):
        validator.validate(score)  # null dimensions are what the schema allows


def test_an_unknown_dimension_is_refused(sim: QualyticsSim) -> None:
    ds = sim.add_datastore("d")
    with pytest.raises(ValueError, match="unknown dimensions"):
        sim.add_container(ds, "t", dimensions={"freshness": 1.0})


def test_every_answered_request_is_logged_and_writes_are_told_apart(sim: QualyticsSim, api: Api) -> None:
    ds = sim.add_datastore("d")
    assert api.get("/datastores", size=5).status_code == 200
    assert api.put(f"/datastores/{ds}", {"tags": ["x"]}).status_code == 200
    assert api.get("/datastores/999").status_code == 404
    assert sim.calls[0].query == {"size": ["5"]}
    assert [(c.method, c.path, c.status) for c in sim.calls] == [
        ("GET", "/api/datastores", 200), ("PUT", f"/api/datastores/{ds}", 200), ("GET", "/api/datastores/999", 404),
    ]  # fmt: skip
    assert [(c.method, c.path) for c in sim.writes()] == [("PUT", f"/api/datastores/{ds}")]
    sim.reset()
    assert list(sim.calls) == []

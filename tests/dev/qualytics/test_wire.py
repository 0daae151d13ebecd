"""The Qualytics simulator's wire: bearer auth, FastAPI-shaped errors, paging and the fault knobs."""

from __future__ import annotations

from purview_sync.dev.qualytics import QualyticsSim
from tests.dev.qualytics.support import Api


def test_health_is_anonymous_and_everything_else_needs_the_bearer_token(sim: QualyticsSim) -> None:
    anonymous = Api(sim, token=None)
    assert anonymous.get("/health").status_code == 204
    missing = anonymous.get("/datastores")
    assert missing.status_code == 401 and isinstance(missing.json()["detail"], str)
    assert Api(sim, token="wrong").get("/users/me").status_code == 401
    assert Api(sim).get("/users/me").json()["role"] == "Admin"

    sim.token = "rotated"  # a revoked token stops working at once
    assert Api(sim).get("/datastores").status_code == 401
    assert Api(sim, token="rotated").get("/datastores").status_code == 200


def test_unknown_routes_and_ids_answer_fastapi_style_errors(api: Api, estate: dict[str, int]) -> None:
    assert api.get("/nope").json() == {"detail": "Not Found"}
    assert api.get("/datastores/999").status_code == 404
    bad = api.get("/containers/abc")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["path", "id"]


def test_pagination_shape_limits_and_page_past_the_end(sim: QualyticsSim, api: Api) -> None:
    ds = sim.add_datastore("paged")
    ids = [sim.add_container(ds, f"t{i}") for i in range(5)]

    first = api.get("/containers", datastore=ds, page=1, size=2).json()
    assert set(first) == {"items", "total", "page", "size", "pages"}
    assert (first["total"], first["page"], first["size"], first["pages"]) == (5, 1, 2, 3)
    assert [c["id"] for c in api.all_items("/containers", size=2, datastore=ds)] == ids

    past = api.get("/containers", datastore=ds, page=4, size=2).json()
    assert past["items"] == [] and past["total"] == 5 and past["page"] == 4
    assert api.get("/containers").json()["size"] == 50  # default page size

    too_big = api.get("/containers", size=101)
    assert too_big.status_code == 422
    [error] = too_big.json()["detail"]
    assert error["loc"] == ["query", "size"] and error["type"] == "value_error.number.not_le"
    both = api.get("/fields", page=0, size=0).json()["detail"]
    assert {tuple(e["loc"]) for e in both} == {("query", "page"), ("query", "size")}
    assert api.get("/datastores", page="x").json()["detail"][0]["type"] == "type_error.integer"


def test_fault_knobs_apply(sim: QualyticsSim, api: Api) -> None:
    sim.set_faults(error_rate=1.0)
    assert api.get("/datastores").status_code in (500, 502, 503)
    sim.set_faults(error_rate=0.0, rate_limit_per_s=0.5, rate_burst=1)
    assert api.get("/datastores").status_code == 200
    throttled = api.get("/datastores")
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert sim.stats["datastores.list"] == 1

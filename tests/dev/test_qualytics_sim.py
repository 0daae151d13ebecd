"""The Qualytics simulator over real HTTP: auth, paging, filters, metrics and — above all — tag semantics,
since the product's pull logic is only as right as the simulator it is tested against."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from purview_sync.dev.qualytics_sim import QualyticsSim

TOKEN = "test-token"


class Api:
    """A thin authenticated client so the tests read like the calls they make."""

    def __init__(self, sim: QualyticsSim, token: str | None = TOKEN) -> None:
        self.base = sim.api_url
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=10)

    def put(self, path: str, body: Any) -> requests.Response:
        return self.session.put(self.base + path, json=body, timeout=10)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.session.patch(self.base + path, json=body, timeout=10)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=10)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.base + path, timeout=10)

    def all_items(self, path: str, size: int = 100, **params: Any) -> list[dict[str, Any]]:
        """Page to the end the way a client must (size ≤ 100)."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.get(path, page=page, size=size, **params)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            items += body["items"]
            if page >= body["pages"]:
                return items
            page += 1


@pytest.fixture(scope="module")
def _server() -> Iterator[QualyticsSim]:
    with QualyticsSim(TOKEN) as s:
        yield s


@pytest.fixture
def sim(_server: QualyticsSim) -> QualyticsSim:
    """One server for the module (stopping costs 0.5 s), fresh state, token and faults per test."""
    _server.reset()
    _server.token = TOKEN
    _server.set_faults(latency_s=0.0, rate_limit_per_s=None, rate_burst=None, error_rate=0.0)
    return _server


@pytest.fixture
def api(sim: QualyticsSim) -> Api:
    return Api(sim)


@pytest.fixture
def estate(sim: QualyticsSim) -> dict[str, int]:
    """finance_db.dbo with a table, a view and an archived table; a DFS datastore; an enrichment one."""
    ds = sim.add_datastore("finance", database="finance_db", schema="dbo", host="sql1.example.net")
    tx = sim.add_container(ds, "transactions", quality_score=88.5, records=1000)
    view = sim.add_container(ds, "v_totals", table_type="view", quality_score=None)
    old = sim.add_container(ds, "old_stuff", archived=True)
    amount = sim.add_field(tx, "amount", quality_score=70.0, type="Fractional")
    currency = sim.add_field(tx, "currency", quality_score=95.0)
    masked = sim.add_field(tx, "secret", status="masked")
    total = sim.add_field(view, "total")
    lake = sim.add_datastore("lake", type="abfs", store_type="dfs", root_path="/raw")
    sim.add_container(lake, "events.csv", container_type="file")
    enrich = sim.add_datastore("enrichment", type="postgresql", enrichment_only=True)
    return {"ds": ds, "tx": tx, "view": view, "old": old, "amount": amount, "currency": currency,
            "masked": masked, "total": total, "lake": lake, "enrich": enrich}


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


def test_datastore_listing_filters_and_payload(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    items = api.all_items("/datastores")
    assert [d["name"] for d in items] == ["finance", "lake"]  # enrichment_only defaults to false
    assert [d["name"] for d in api.all_items("/datastores", enrichment_only="true")] == ["enrichment"]
    assert [d["id"] for d in api.all_items("/datastores", id=[estate["lake"], estate["ds"]])] == [
        estate["ds"], estate["lake"]]
    assert [d["name"] for d in api.all_items("/datastores", name="lake")] == ["lake"]
    assert [d["name"] for d in api.all_items("/datastores", datastore_type=["sqlserver", "snowflake"])] == ["finance"]
    # a filter the real API does not have is ignored, not applied
    assert len(api.all_items("/datastores", store_type="jdbc")) == 2

    ds = api.get(f"/datastores/{estate['ds']}").json()
    assert (ds["type"], ds["store_type"], ds["database"], ds["schema"]) == ("sqlserver", "jdbc", "finance_db", "dbo")
    assert ds["connection"]["host"] == "sql1.example.net"
    assert "score" not in ds and "quality_score" not in ds
    lake = api.get(f"/datastores/{estate['lake']}").json()
    assert (lake["store_type"], lake["root_path"], lake["database"]) == ("dfs", "/raw", None)
    assert api.get(f"/connections/{ds['connection']['id']}").json()["host"] == "sql1.example.net"


def test_quality_scores_keep_ten_newest_first(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    ds = estate["ds"]
    assert api.get(f"/datastores/{ds}/quality-scores").json() == []
    for day in range(1, 13):
        sim.add_quality_score(ds, 60.0 + day, date=f"2026-03-{day:02d}")
    sim.add_quality_score(ds, 99.9, date="2026-03-12")  # same day: replaced, not duplicated
    scores = api.get(f"/datastores/{ds}/quality-scores").json()
    assert len(scores) == 10
    assert [s["date"] for s in scores] == [f"2026-03-{d:02d}" for d in range(12, 2, -1)]
    assert scores[0]["total"] == 99.9 and scores[0]["completeness"] != scores[0]["total"]
    sim.set_score("datastore", ds, 42.0)  # today's snapshot becomes the newest
    assert api.get(f"/datastores/{ds}/quality-scores").json()[0]["total"] == 42.0
    assert api.get("/datastores/999/quality-scores").status_code == 404


def test_container_filters_views_and_archived(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    names = [c["name"] for c in api.all_items("/containers", datastore=estate["ds"])]
    assert names == ["transactions", "v_totals"]  # archived excluded by default
    assert [c["name"] for c in api.all_items("/containers", datastore=estate["ds"], archived="only")] == ["old_stuff"]
    assert len(api.all_items("/containers", datastore=estate["ds"], archived="include")) == 3
    assert [c["name"] for c in api.all_items("/containers", container_type="file")] == ["events.csv"]
    both = api.all_items("/containers", datastore=[estate["ds"], estate["lake"]], container_type=["table", "file"])
    assert len(both) == 3
    assert [c["name"] for c in api.all_items("/containers", name="v_totals")] == ["v_totals"]
    assert api.get("/containers", container_type="tabel").status_code == 422

    view = api.get(f"/containers/{estate['view']}").json()
    assert (view["container_type"], view["table_type"]) == ("table", "view")
    assert view["metrics"]["quality_score"] is None
    tx = api.get(f"/containers/{estate['tx']}").json()
    assert tx["metrics"]["quality_score"]["total"] == 88.5 and tx["datastore"]["store_type"] == "jdbc"
    assert "table_type" not in api.all_items("/containers", container_type="file")[0]
    sim.set_score("container", estate["view"], 50.0)
    assert api.get(f"/containers/{estate['view']}").json()["metrics"]["quality_score"]["total"] == 50.0


def test_field_filters_and_scores(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    by_container = api.all_items("/fields", container_id=estate["tx"])
    assert [f["name"] for f in by_container] == ["amount", "currency"]  # masked is not a default status
    assert by_container[0]["quality_score"]["total"] == 70.0 and by_container[0]["container_id"] == estate["tx"]
    assert [f["name"] for f in api.all_items("/fields", datastore=estate["ds"])] == ["amount", "currency", "total"]
    assert [f["name"] for f in api.all_items("/fields", container=[estate["view"]])] == ["total"]
    assert [f["name"] for f in api.all_items("/fields", container_id=estate["tx"], status="masked")] == ["secret"]
    assert [f["name"] for f in api.all_items("/fields", datastore=estate["ds"], name="currency")] == ["currency"]
    assert api.get(f"/fields/{estate['total']}").json()["quality_score"] is None
    assert api.get("/fields", status="gone").status_code == 422


def test_anomalies_and_checks_filters_and_per_field_aggregation(sim: QualyticsSim, api: Api,
                                                                 estate: dict[str, int]) -> None:
    ds, tx, view = estate["ds"], estate["tx"], estate["view"]
    not_null = sim.add_check(ds, tx, ["amount"])
    sim.add_check(ds, tx, ["amount", "currency"], rule_type="isUnique")
    sim.add_check(ds, view, ["total"])
    sim.add_check(ds, tx, ["currency"], status="Discarded")
    sim.add_anomaly(ds, tx, check_id=not_null)  # fields come from the check
    sim.add_anomaly(ds, tx, ["amount", "currency"])
    sim.add_anomaly(ds, tx, ["currency"], status="Acknowledged")
    sim.add_anomaly(ds, view, ["total"])
    sim.add_anomaly(ds, tx, ["amount"], status="Resolved")

    # one paged listing of the datastore is enough to count per container and per field
    active = api.all_items("/anomalies", size=2, datastore=ds, status="Active")
    per_container = Counter(a["container"]["id"] for a in active)
    per_field = Counter((a["container"]["id"], f["name"])
                        for a in active
                        for f in {f["name"]: f for fc in a["failed_checks"] for f in fc["quality_check"]["fields"]}.values())
    assert per_container == {tx: 2, view: 1}
    assert per_field == {(tx, "amount"): 2, (tx, "currency"): 1, (view, "total"): 1}
    assert {a["datastore"]["id"] for a in active} == {ds}

    assert len(api.all_items("/anomalies", datastore=ds)) == 4  # archived (Resolved) excluded by default
    assert [a["status"] for a in api.all_items("/anomalies", datastore=ds, archived="only")] == ["Resolved"]
    assert len(api.all_items("/anomalies", datastore=ds, status="Active,Acknowledged")) == 4
    assert len(api.all_items("/anomalies", datastore=ds, container=[view])) == 1
    assert len(api.all_items("/anomalies", datastore=ds, field=["currency"], status=["Active"])) == 1
    assert api.get("/anomalies", status="Open").status_code == 422

    checks = api.all_items("/quality-checks", datastore=ds, status="Active")
    assert len(checks) == 3 and all(c["container"]["datastore"]["id"] == ds for c in checks)
    assert Counter(f["name"] for c in checks for f in c["fields"]) == {"amount": 2, "currency": 1, "total": 1}
    assert len(api.all_items("/quality-checks", datastore=ds, field=["currency"])) == 1  # Discarded is archived
    assert len(api.all_items("/quality-checks", datastore=ds, archived="include", field=["currency"])) == 2
    assert api.get(f"/quality-checks/{not_null}").json()["anomaly_count"] == 1
    missing = api.get("/quality-checks")
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["query", "datastore"]


def test_metrics_follow_stored_anomalies_and_checks(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    ds, tx, view = estate["ds"], estate["tx"], estate["view"]
    check = sim.add_check(ds, tx, ["amount"])
    sim.add_check(ds, view, ["total"], status="Draft")
    first = sim.add_anomaly(ds, tx, check_id=check)
    sim.add_anomaly(ds, view, ["total"])
    sim.add_anomaly(ds, tx, ["currency"], status="Acknowledged")

    def metrics(kind: str, ident: int) -> dict[str, Any]:
        return api.get(f"/{kind}/{ident}").json()["metrics"]

    tx_m = metrics("containers", tx)
    assert (tx_m["active_anomalies"], tx_m["anomalies"], tx_m["active_checks"], tx_m["failing_checks"]) == (1, 2, 1, 1)
    assert metrics("containers", view)["active_checks"] == 0  # a Draft check is not active
    ds_m = metrics("datastores", ds)
    assert (ds_m["active_anomalies"], ds_m["active_checks"], ds_m["containers"], ds_m["records"]) == (2, 1, 2, 1000)
    listed = api.all_items("/anomalies", datastore=ds, status="Active")
    assert ds_m["active_anomalies"] == len(listed)

    sim.set_status("anomaly", first, "Resolved")  # archiving drops it from every count
    sim.set_status("check", check, "Discarded")
    assert metrics("containers", tx)["active_anomalies"] == 0
    assert metrics("datastores", ds)["active_checks"] == 0
    sim.delete_check(check)
    stub = api.get(f"/anomalies/{first}").json()["failed_checks"][0]["quality_check"]
    assert stub["id"] == check and stub["deleted_at"] is not None


def test_put_tags_is_full_replacement(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    ds = estate["ds"]
    resp = api.put(f"/datastores/{ds}", {"tags": ["production", "critical"]})
    assert resp.status_code == 200
    assert [t["name"] for t in resp.json()["global_tags"]] == ["production", "critical"]
    assert sim.tags["critical"].type == "global"  # auto-created as a global tag
    assert api.get("/global-tags/critical").json()["type"] == "global"

    api.put(f"/datastores/{ds}", {"tags": ["critical"]})
    assert sim.tags_of("datastore", ds) == ["critical"]
    assert "production" in sim.tags  # unassigned, not deleted

    api.put(f"/datastores/{ds}", {"description": "no tags key"})
    api.put(f"/datastores/{ds}", {"tags": None})
    assert sim.tags_of("datastore", ds) == ["critical"]  # omitted / null leave tags alone
    assert api.get(f"/datastores/{ds}").json()["description"] == "no tags key"

    api.put(f"/datastores/{ds}", {"tags": []})
    assert sim.tags_of("datastore", ds) == []

    field_put = api.put(f"/fields/{estate['amount']}", {"tags": ["pii", "pii"]})
    assert [t["name"] for t in field_put.json()["global_tags"]] == ["pii"]
    assert api.put(f"/datastores/{ds}", {"tags": "pii"}).status_code == 422
    assert api.put(f"/datastores/{ds}", {"tags": [""]}).status_code == 422


def test_container_put_requires_the_container_type_discriminator(sim: QualyticsSim, api: Api,
                                                                  estate: dict[str, int]) -> None:
    tx = estate["tx"]
    missing = api.put(f"/containers/{tx}", {"tags": ["x"]})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "container_type"]
    assert sim.tags_of("container", tx) == []
    ok = api.put(f"/containers/{tx}", {"container_type": "table", "tags": ["x"]})
    assert ok.status_code == 200 and sim.tags_of("container", tx) == ["x"]


def test_bulk_patch_replaces_tags_atomically(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    tx, view = estate["tx"], estate["view"]
    sim.set_tags("container", view, ["keep-me"])
    resp = api.patch("/containers", [{"id": tx, "tags": ["Confidential"]}, {"id": view}])
    assert resp.status_code == 200 and [c["id"] for c in resp.json()] == [tx, view]
    assert sim.tags_of("container", tx) == ["Confidential"]
    assert sim.tags_of("container", view) == ["keep-me"]  # no "tags" key: unchanged

    failed = api.patch("/containers", [{"id": tx, "tags": []}, {"id": 999, "tags": []}])
    assert failed.status_code == 404
    assert sim.tags_of("container", tx) == ["Confidential"]  # nothing applied
    assert api.patch("/containers", {"id": tx}).status_code == 422

    fields = api.patch("/fields", [{"id": estate["amount"], "tags": ["Email"]},
                                   {"id": estate["currency"], "tags": [], "status": "excluded"}])
    assert fields.status_code == 200
    assert sim.tags_of("field", estate["amount"]) == ["Email"]
    assert sim.fields[estate["currency"]].status == "excluded"
    assert api.patch("/fields", [{"id": estate["amount"], "status": "bogus"}]).status_code == 422


def test_inherited_tags_are_visible_marked_and_not_in_the_own_list(sim: QualyticsSim, api: Api,
                                                                   estate: dict[str, int]) -> None:
    ds, tx, amount = estate["ds"], estate["tx"], estate["amount"]
    api.put(f"/datastores/{ds}", {"tags": ["production"]})
    api.patch("/containers", [{"id": tx, "tags": ["finance"]}])
    api.put(f"/fields/{amount}", {"tags": ["pii", "production"]})  # also inherited: listed once, as own

    tags = api.get(f"/fields/{amount}").json()["global_tags"]
    assert [(t["name"], t["inherited"]) for t in tags] == [("pii", False), ("production", False),
                                                            ("finance", True)]
    assert tags[2]["inherited_from"] == {"type": "container", "id": tx, "name": "transactions"}
    currency = api.get(f"/fields/{estate['currency']}").json()["global_tags"]
    assert {t["name"]: t["inherited_from"]["type"] for t in currency} == {"finance": "container",
                                                                          "production": "datastore"}
    assert sim.tags_of("field", estate["currency"]) == []
    assert sim.effective_tags_of("field", estate["currency"]) == ["finance", "production"]

    # replacing a container's own tags leaves what it inherits
    api.patch("/containers", [{"id": tx, "tags": []}])
    assert [t["name"] for t in api.get(f"/containers/{tx}").json()["global_tags"]] == ["production"]
    # and removing a datastore tag removes it from every child
    api.put(f"/datastores/{ds}", {"tags": []})
    assert api.get(f"/containers/{tx}").json()["global_tags"] == []
    assert len(api.all_items("/fields", container_id=tx, tag="production")) == 1  # only the field's own

    # external tags (seeded as a catalog pull would) do not cascade from tables to columns
    sim.create_tag("Sensitive", type="external", category="Microsoft Purview")
    sim.set_tags("container", tx, ["Sensitive"])
    assert [t["type"] for t in api.get(f"/containers/{tx}").json()["global_tags"]] == ["external"]
    assert "Sensitive" not in sim.effective_tags_of("field", estate["currency"])


def test_global_tag_crud_and_detach_on_delete(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    created = api.post("/global-tags", {"type": "global", "name": "Credit Card Number", "color": "#F44336",
                                        "description": "From Purview classification MICROSOFT.FINANCIAL.CREDIT_CARD_NUMBER",
                                        "category": "Microsoft Purview", "weight_modifier": 2})
    assert created.status_code == 200
    tag = created.json()
    assert {k: tag[k] for k in ("type", "name", "category", "weight_modifier")} == {
        "type": "global", "name": "Credit Card Number", "category": "Microsoft Purview", "weight_modifier": 2}
    assert set(tag) >= {"id", "created", "color", "description"}

    assert api.post("/global-tags", {"type": "global", "name": "Credit Card Number"}).status_code == 409
    external = api.post("/global-tags", {"type": "external", "name": "Finance"})
    assert external.status_code == 422 and "Finance" not in sim.tags
    assert api.post("/global-tags", {"name": "no-type"}).status_code == 422
    assert api.post("/global-tags", {"type": "global", "name": "w", "weight_modifier": 11}).status_code == 422

    path = "/global-tags/" + quote("Credit Card Number")
    assert api.get(path).json()["id"] == tag["id"]
    updated = api.put(path, {"description": "now from label X", "category": "Microsoft Purview", "color": "#000000"})
    assert updated.json()["description"] == "now from label X" and sim.tags["Credit Card Number"].color == "#000000"

    api.put(f"/datastores/{estate['ds']}", {"tags": ["Credit Card Number"]})
    api.patch("/fields", [{"id": estate["amount"], "tags": ["Credit Card Number", "pii"]}])
    listing = {t["name"]: t["count"] for t in api.get("/global-tags/listing").json()}
    assert listing == {"Credit Card Number": 2, "pii": 1}
    assert [t["name"] for t in api.all_items("/global-tags")] == ["Credit Card Number", "pii"]

    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert sim.tags_of("datastore", estate["ds"]) == []
    assert sim.tags_of("field", estate["amount"]) == ["pii"]
    assert [t["name"] for t in api.get(f"/fields/{estate['amount']}").json()["global_tags"]] == ["pii"]

    sim.create_tag("Catalog", type="external")
    assert api.delete("/global-tags/Catalog").status_code == 403
    assert api.put("/global-tags/Catalog", {"color": "#111111"}).status_code == 422
    assert api.put("/global-tags/Catalog", {"category": "Governance"}).json()["category"] == "Governance"


def test_renaming_a_tag_keeps_its_assignments(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    sim.set_tags("container", estate["tx"], ["old-name"])
    assert api.put("/global-tags/old-name", {"name": "new-name"}).status_code == 200
    assert sim.tags_of("container", estate["tx"]) == ["new-name"] and "old-name" not in sim.tags
    sim.create_tag("taken")
    assert api.put("/global-tags/new-name", {"name": "taken"}).status_code == 409


def test_fault_knobs_apply(sim: QualyticsSim, api: Api) -> None:
    sim.set_faults(error_rate=1.0)
    assert api.get("/datastores").status_code in (500, 502, 503)
    sim.set_faults(error_rate=0.0, rate_limit_per_s=0.5, rate_burst=1)
    assert api.get("/datastores").status_code == 200
    throttled = api.get("/datastores")
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert sim.stats["datastores.list"] == 1

"""The Qualytics simulator's catalog over real HTTP: datastore, container and field filters, payloads,
quality-score snapshots and the container PUT discriminator."""

from __future__ import annotations

from purview_sync.dev.qualytics import QualyticsSim
from tests.dev.qualytics.support import Api


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
    assert set(ds["connection"]) == {"id", "name", "type"} and "host" not in ds  # the 2026 stub: no host
    assert "score" not in ds and "quality_score" not in ds
    assert "active_anomalies" not in ds["metrics"]  # the schema's DatastoreMetrics (knob datastore_metrics)
    lake = api.get(f"/datastores/{estate['lake']}").json()
    assert (lake["store_type"], lake["uri"], "database" in lake) == ("dfs", "abfs://storage/raw", False)
    assert api.get(f"/connections/{ds['connection']['id']}").json()["host"] == "sql1.example.net"
    sim.configure(datastore_host="inline", datastore_metrics="2026")
    ds = api.get(f"/datastores/{estate['ds']}").json()
    assert ds["host"] == "sql1.example.net" and "connection" not in ds
    assert (ds["metrics"]["active_anomalies"], ds["metrics"]["active_checks"]) == (0, 0)


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
    assert names == ["transactions", "v_totals"]  # archived excluded by default (knob archived_in_listing)
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
    sim.configure(archived_in_listing=True, list_item_metrics="empty")
    listed = api.all_items("/containers", datastore=estate["ds"])
    assert [(c["name"], c["deleted_at"] is not None) for c in listed] == [
        ("transactions", False), ("v_totals", False), ("old_stuff", True)]
    assert all(c["metrics"] == {} for c in listed)  # list items without metrics; GET has them
    assert api.get(f"/containers/{estate['tx']}").json()["metrics"]["active_checks"] == 0


def test_field_filters_and_scores(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    by_container = api.all_items("/fields", container_id=estate["tx"])
    assert [f["name"] for f in by_container] == ["amount", "currency"]  # masked is not a default status
    assert by_container[0]["quality_score"]["total"] == 70.0
    assert "container_id" not in by_container[0] and "container" not in by_container[0]  # ModelField has none
    assert [f["name"] for f in api.all_items("/fields", datastore=estate["ds"])] == ["amount", "currency", "total"]
    assert [f["name"] for f in api.all_items("/fields", container=[estate["view"]])] == ["total"]
    assert [f["name"] for f in api.all_items("/fields", container_id=estate["tx"], status="masked")] == ["secret"]
    assert [f["name"] for f in api.all_items("/fields", datastore=estate["ds"], name="currency")] == ["currency"]
    assert api.get(f"/fields/{estate['total']}").json()["quality_score"] is None
    assert api.get("/fields", status="gone").status_code == 422


def test_container_put_requires_the_container_type_discriminator(sim: QualyticsSim, api: Api,
                                                                  estate: dict[str, int]) -> None:
    tx = estate["tx"]
    missing = api.put(f"/containers/{tx}", {"tags": ["x"]})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "container_type"]
    assert sim.tags_of("container", tx) == []
    ok = api.put(f"/containers/{tx}", {"container_type": "table", "tags": ["x"]})
    assert ok.status_code == 200 and sim.tags_of("container", tx) == ["x"]

"""What the snapshot reads from Qualytics, against the strict simulator and its knobs (issue 13 points 1, 2,
8 and 11): fields per table, counts only from documented data, a value that cannot be attributed left
unknown (never 0), list items without metrics read again, archived containers skipped, the host from the
connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from purview_sync.clients.qualytics import QualyticsClient
from purview_sync.dev.qualytics import QualyticsSim
from purview_sync.sync.snapshot import DatastoreSnapshot

TOKEN = "snapshot-token"


@pytest.fixture(scope="module")
def _server() -> Iterator[QualyticsSim]:
    with QualyticsSim(TOKEN) as sim:
        yield sim


@pytest.fixture
def sim(_server: QualyticsSim) -> QualyticsSim:
    _server.reset()
    _server.set_faults(fail_kinds={})
    return _server


@pytest.fixture
def client(sim: QualyticsSim) -> Iterator[QualyticsClient]:
    c = QualyticsClient(sim.api_url, TOKEN)
    yield c
    c.close()


def seed(sim: QualyticsSim, wide: int = 3) -> dict[str, Any]:
    ds = sim.add_datastore("db.dbo", database="db", schema="dbo", host="sql-a.database.windows.net")
    orders = sim.add_container(ds, "orders", quality_score=70.0)
    wide_t = sim.add_container(ds, "wide", quality_score=71.0)
    old = sim.add_container(ds, "old", archived=True)
    for name in ("id", "amount"):
        sim.add_field(orders, name)
    for i in range(wide):
        sim.add_field(wide_t, f"c{i}")
    sim.add_field(old, "id")
    check = sim.add_check(ds, orders, ["amount"])
    sim.add_check(ds, orders, ["id"])
    sim.add_anomaly(ds, orders, check_id=check)
    sim.add_anomaly(ds, old, ["id"])
    return {"ds": ds, "orders": orders, "wide": wide_t, "old": old}


def load(client: QualyticsClient, ids: dict[str, Any], **kwargs: Any) -> DatastoreSnapshot:
    datastore = client.get_datastore(ids["ds"])
    assert datastore is not None
    return DatastoreSnapshot.load(client, datastore, with_counts=True, **kwargs)


def test_fields_are_read_per_table_one_request_under_100_columns(sim: QualyticsSim, client: QualyticsClient) -> None:
    ids = seed(sim, wide=150)
    snap = load(client, ids)
    assert sorted(snap.fields_by_table) == sorted([ids["orders"], ids["wide"]])  # the archived one is not read
    assert [f["name"] for f in snap.fields_by_table[ids["orders"]]] == ["id", "amount"]
    assert len(snap.fields_by_table[ids["wide"]]) == 150
    assert sim.stats["fields.list"] == 1 + 2  # orders: 1 page; wide: 2 pages of 100
    assert all(c.query.get("container_id") for c in sim.calls if c.path == "/api/fields")


def test_counts_come_from_documented_metrics_and_listings(sim: QualyticsSim, client: QualyticsClient) -> None:
    ids = seed(sim)
    snap = load(client, ids)
    orders = next(t for t in snap.tables if t["id"] == ids["orders"])
    assert (snap.table_count("anomalies", orders), snap.table_count("checks", orders)) == (1, 2)
    # the schema's DatastoreMetrics has no active_* : the Active listings' totals (archived table left out)
    assert "active_anomalies" not in snap.datastore["metrics"]
    assert (snap.datastore_count("anomalies"), snap.datastore_count("checks")) == (1, 2)
    assert snap.attributable == {"anomalies": True, "checks": True}
    assert snap.column_count("anomalies", ids["orders"], "AMOUNT") == 1
    assert snap.column_count("checks", ids["orders"], "id") == 1
    assert snap.column_count("anomalies", ids["orders"], "id") == 0  # attributable: a real 0
    assert sim.stats["anomalies.list"] == 1 and sim.stats["checks.list"] == 1


def test_items_without_fields_are_counted_per_column_and_an_unreadable_count_stays_unknown(
    sim: QualyticsSim, client: QualyticsClient
) -> None:
    sim.configure(finding_fields=False)
    ids = seed(sim)
    snap = load(client, ids)
    assert snap.attributable == {"anomalies": False, "checks": False}
    assert snap.column_count("anomalies", ids["orders"], "amount") is None  # not asked yet: unknown, not 0
    snap.prefetch_columns([(ids["orders"], "amount"), (ids["orders"], "id")])
    assert snap.column_count("anomalies", ids["orders"], "amount") == 1
    assert snap.column_count("checks", ids["orders"], "id") == 1
    assert snap.column_count("anomalies", ids["orders"], "id") == 0
    sim.set_faults(fail_kinds={"anomalies.list": 400, "checks.list": 400})  # the per-column count is refused
    snap.prefetch_columns([(ids["wide"], "c0")])
    assert snap.column_count("anomalies", ids["wide"], "c0") is None
    assert snap.column_count("checks", ids["wide"], "c0") is None


def test_list_items_without_metrics_are_read_again(sim: QualyticsSim, client: QualyticsClient) -> None:
    sim.configure(list_item_metrics="empty")
    ids = seed(sim)
    snap = load(client, ids)
    assert sim.stats["containers.get"] == 2  # the two live tables, once each
    orders = next(t for t in snap.tables if t["id"] == ids["orders"])
    assert orders["metrics"]["quality_score"]["total"] == 70.0 and snap.table_count("checks", orders) == 2


def test_archived_containers_are_skipped_whatever_the_listing_default(
    sim: QualyticsSim, client: QualyticsClient
) -> None:
    sim.configure(archived_in_listing=True)
    ids = seed(sim)
    snap = load(client, ids)
    assert ids["old"] not in {t["id"] for t in snap.tables} and ids["old"] not in snap.fields_by_table


@pytest.mark.parametrize("where", ["connection", "inline"])
def test_the_host_comes_from_the_connection_when_the_datastore_shows_none(
    sim: QualyticsSim, client: QualyticsClient, where: str
) -> None:
    sim.configure(datastore_host=where)
    ids = seed(sim)
    snap = load(client, ids)
    assert snap.datastore["host"] == "sql-a.database.windows.net"
    assert sim.stats["connections.get"] == (1 if where == "connection" else 0)

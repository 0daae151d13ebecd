"""Lineage pull end to end (DESIGN.md §5b): Purview processes between matched tables → Qualytics lineage
edges, LineageMappings, and lineage off / 403 behaviour, through the devhost against the simulators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from purview_sync.app.services import Services
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.dev.qualytics import QualyticsSim
from purview_sync.sync import datastore as datastore_module
from purview_sync.sync.lineage_pull import LINEAGE_FORBIDDEN
from tests.conftest import Api
from tests.helpers import run_sync
from tests.sync.lineage_estate import LineageEstate, computed_entities, connect, guids_of, make_estate, sync


@pytest.fixture(scope="module")
def integration(api: Api, local: LocalEnvironment) -> str:
    return connect(api, local, lineage=True)


@pytest.fixture
def qualytics(local: LocalEnvironment) -> Iterator[QualyticsSim]:
    assert local.qualytics
    yield local.qualytics
    local.qualytics.lineage_addon = True
    local.qualytics.lineage_accepts_purview = True
    local.qualytics.lineage_description_writable = True


def add_copy(local: LocalEnvironment, estate: LineageEstate, source: str, target: str, name: str) -> str:
    """An ADF-style copy activity in Purview reading ``source`` and writing ``target``."""
    assert local.purview
    return local.purview.add_process(
        "adf_copy_activity",
        f"https://adf.example/pipelines/{estate.db}/{name}",
        name=name,
        inputs=[estate.table_guid(source)],
        outputs=[estate.table_guid(target)],
        collection="fin01",
    )


def edges_between(q: QualyticsSim, source: int, target: int) -> list[dict]:
    return [e for e in q.edges() if (e["source_container_id"], e["target_container_id"]) == (source, target)]


def test_a_purview_process_becomes_one_edge_and_goes_when_the_process_goes(
    api: Api, local: LocalEnvironment, integration: str, qualytics: QualyticsSim, services: Services
) -> None:
    assert local.purview
    estate = make_estate(local, computed=False)
    c = estate.containers
    process = add_copy(local, estate, "orders", "payments", "copy_orders")
    add_copy(local, estate, "regions", "customers", "copy_regions")  # across the two datastores
    users = qualytics.add_lineage_edge(c["customers"], c["payments"], description="drawn by a user")

    entry = sync(api, integration, estate.ds, push=False, pull=True)
    assert entry["status"] == "completed" and entry["errors"] == [] and entry["warnings"] == [], entry
    [edge] = edges_between(qualytics, c["orders"], c["payments"])
    assert edge["source_type"] == "purview"
    assert "copy_orders" in edge["description"] and "adf_copy_activity" in edge["description"]
    [across] = edges_between(qualytics, c["regions"], c["customers"])
    assert across["source_type"] == "purview"
    assert entry["lineage_edges_added"] == 2 and entry["totals"]["lineage_edges_added"] == 2
    rows = services.lineage.list_for_datastore(integration, estate.ds)
    assert {(r.source_container_id, r.target_container_id, r.edge_id) for r in rows} == {
        (c["orders"], c["payments"], edge["id"]),
        (c["regions"], c["customers"], across["id"]),
    }

    again = sync(api, integration, estate.ds, push=False, pull=True)
    assert again["lineage_edges_added"] == 0 and again["lineage_edges_removed"] == 0
    assert len(edges_between(qualytics, c["orders"], c["payments"])) == 1

    local.purview.delete_entity(process)
    gone = sync(api, integration, estate.ds, push=False, pull=True)
    assert gone["lineage_edges_removed"] == 1 and gone["lineage_edges_added"] == 0
    assert edges_between(qualytics, c["orders"], c["payments"]) == []
    assert len(edges_between(qualytics, c["regions"], c["customers"])) == 1
    assert users in {e["id"] for e in qualytics.edges()}  # the user's manual edge is untouched
    assert {r.source_container_id for r in services.lineage.list_for_datastore(integration, estate.ds)} == {
        c["regions"]
    }


@pytest.mark.parametrize(
    ("accepts_purview", "description_writable"), [(False, True), (True, False), (False, False)]
)
def test_what_qualytics_refuses_on_an_edge_is_left_out_or_falls_back(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    qualytics: QualyticsSim,
    accepts_purview: bool,
    description_writable: bool,
) -> None:
    """``source_type: purview`` refused → ``manual``; ``description`` refused → the edge goes without one."""
    estate = make_estate(local, computed=False)
    c = estate.containers
    add_copy(local, estate, "orders", "payments", "copy_a")
    add_copy(local, estate, "customers", "orders", "copy_b")
    qualytics.lineage_accepts_purview = accepts_purview
    qualytics.lineage_description_writable = description_writable
    entry = sync(api, integration, estate.ds, push=False, pull=True)
    assert entry["lineage_edges_added"] == 2 and entry["errors"] == [] and entry["warnings"] == [], entry
    for source, target in ((c["orders"], c["payments"]), (c["customers"], c["orders"])):
        [edge] = edges_between(qualytics, source, target)
        assert edge["source_type"] == ("purview" if accepts_purview else "manual")
        assert (edge["description"] is not None) is description_writable


def test_lineage_refused_with_403_is_one_warning(
    api: Api, local: LocalEnvironment, integration: str, qualytics: QualyticsSim
) -> None:
    estate = make_estate(local, computed=False)
    add_copy(local, estate, "orders", "payments", "copy_a")
    add_copy(local, estate, "customers", "orders", "copy_b")
    qualytics.lineage_addon = False
    entry = sync(api, integration, estate.ds, push=False, pull=True)
    assert entry["status"] == "completed" and entry["errors"] == []
    assert entry["warnings"] == [LINEAGE_FORBIDDEN]
    assert "Manager" in LINEAGE_FORBIDDEN and "add-on" in LINEAGE_FORBIDDEN
    assert entry["lineage_edges_added"] == 0


def test_lineage_off_sends_no_lineage_request_at_all(
    api: Api, local: LocalEnvironment, qualytics: QualyticsSim
) -> None:
    assert local.purview
    estate = make_estate(local)  # computed containers and ...
    add_copy(local, estate, "orders", "payments", "copy_a")  # ... a Purview process
    off = connect(api, local)  # lineage defaults to false
    p_since, q_since = len(local.purview.calls), len(qualytics.calls)
    entry = sync(api, off, estate.ds, push=True, pull=True)
    assert entry["status"] == "completed", entry
    purview_calls = list(local.purview.calls)[p_since:]
    assert purview_calls  # the sync did talk to Purview ...
    for call in purview_calls:  # ... but never about lineage
        assert "entitydef" not in call.path and "uniqueAttribute" not in call.path, call
        assert not (call.path.endswith("/entity/bulk") and call.method != "GET"), call
        assert b"qualytics_computed" not in call.body, call
    for path, query in ((c.path, c.query) for c in list(qualytics.calls)[q_since:]):
        assert "/lineage" not in path
        assert not any(t.startswith("computed") for t in query.get("container_type", [])), (path, query)
    assert all(entry[k] == 0 for k in ("lineage_entities_written", "lineage_edges_added"))
    assert not [e for e in qualytics.edges() if e["target_container_id"] in estate.containers.values()]


def test_the_sample_estate_shows_lineage_both_ways(api: Api, local: LocalEnvironment) -> None:
    """What a newcomer sees after scripts/run with the printed connect body (lineage on)."""
    assert local.purview and local.qualytics and local.estate
    estate, q = local.estate, local.qualytics
    integration = connect(api, local, lineage=True, domains=[])
    finance, sales = estate.datastores["finance_db.dbo"], estate.datastores["sales_dw.sales"]
    run = run_sync(api, integration, push=True, pull=True, datastore_ids=[finance, sales])
    assert run["status"] == "completed", run
    assert run["totals"]["lineage_entities_written"] == 4 and run["totals"]["lineage_edges_added"] == 1
    c = estate.containers
    _, process = computed_entities(local, finance, c["finance_db.dbo.large_transactions"])
    fin = "mssql://sql-finance.database.windows.net/finance_db/dbo"
    sales_qn = "mssql://analytics-ws.sql.azuresynapse.net/sales_dw/sales"
    g = estate.purview_guids
    assert process and guids_of(process["attributes"]["inputs"]) == {
        g[f"{fin}/transactions"],
        g[f"{fin}/customers"],
    }
    join, join_process = computed_entities(local, sales, c["sales_dw.sales.orders_with_customers"])
    assert join and join["collectionId"] == "mkt02"
    assert join_process and guids_of(join_process["attributes"]["inputs"]) == {
        g[f"{sales_qn}/orders"],
        g[f"{fin}/customers"],
    }
    [edge] = edges_between(q, c["sales_dw.sales.orders"], c["finance_db.dbo.transactions"])
    assert edge["source_type"] == "purview" and "copy_orders" in edge["description"]


def test_deleting_the_integration_forgets_its_lineage_mappings_and_keeps_the_edges(
    api: Api, local: LocalEnvironment, qualytics: QualyticsSim, services: Services
) -> None:
    estate = make_estate(local, computed=False)
    add_copy(local, estate, "orders", "payments", "copy_a")
    integration = connect(api, local, lineage=True)
    assert sync(api, integration, estate.ds, push=False, pull=True)["lineage_edges_added"] == 1
    assert services.lineage.list_for_datastore(integration, estate.ds)
    assert api.delete(f"/integrations/{integration}").status_code == 204
    assert services.lineage.list_for_datastore(integration, estate.ds) == []
    c = estate.containers
    assert len(edges_between(qualytics, c["orders"], c["payments"])) == 1  # what is in Qualytics stays


def test_a_sliced_datastore_keeps_the_edges_of_the_other_slices(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    qualytics: QualyticsSim,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One table per slice: each slice decides the edges that end in its tables; the last one also forgets
    the edges whose target container is gone from Qualytics."""
    assert local.purview
    monkeypatch.setattr(datastore_module, "SLICE_TABLES", 1)
    estate = make_estate(local, computed=False)
    c = estate.containers
    first = add_copy(local, estate, "orders", "payments", "copy_a")
    add_copy(local, estate, "customers", "orders", "copy_b")
    add_copy(local, estate, "payments", "customers", "copy_c")
    assert sync(api, integration, estate.ds, push=False, pull=True)["lineage_edges_added"] == 3

    local.purview.delete_entity(first)
    entry = sync(api, integration, estate.ds, push=False, pull=True)
    assert entry["lineage_edges_removed"] == 1 and entry["lineage_edges_added"] == 0
    assert len(edges_between(qualytics, c["customers"], c["orders"])) == 1
    assert len(edges_between(qualytics, c["payments"], c["customers"])) == 1

    qualytics.remove_container(c["customers"])  # Qualytics drops the edges that touch it
    sync(api, integration, estate.ds, push=False, pull=True)
    rows = services.lineage.list_for_datastore(integration, estate.ds)
    assert [(r.source_container_id, r.target_container_id) for r in rows] == []

"""Lineage push end to end (DESIGN.md §5b): Qualytics computed containers → Purview entities of the product's
own types, through the devhost's real queue function against Azurite and the simulators."""

from __future__ import annotations

import json
import time

import pytest

from purview_sync.app.services import Services
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.dev.purview.knobs import STRICT
from purview_sync.sync.job import DatastoreJob, SyncContext
from purview_sync.sync.lineage_push import LineagePush
from purview_sync.sync.lineage_typedef import COMPUTED_PROCESS, COMPUTED_TABLE
from purview_sync.sync.matcher import Matcher
from purview_sync.sync.snapshot import DatastoreSnapshot
from purview_sync.sync.typedef import CORE_ATTRIBUTES
from tests.conftest import Api
from tests.sync.lineage_estate import (
    computed_entities,
    computed_qn,
    connect,
    guids_of,
    make_estate,
    sync,
)


@pytest.fixture(scope="module")
def integration(api: Api, local: LocalEnvironment) -> str:
    return connect(api, local, lineage=True)


def entity_writes(local: LocalEnvironment, since: int) -> list:
    assert local.purview
    return [
        c for c in list(local.purview.calls)[since:]
        if c.path.endswith("/atlas/v2/entity/bulk") and c.method in ("POST", "DELETE")
    ]  # fmt: skip


def test_computed_containers_land_with_their_inputs_outputs_and_values(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    assert local.purview and local.qualytics
    p = local.purview
    estate = make_estate(local)
    since = len(p.calls)
    entry = sync(api, integration, estate.ds, push=True, pull=False)
    assert entry["status"] == "completed" and entry["errors"] == [], entry
    writes = [c for c in entity_writes(local, since) if c.method == "POST"]
    assert writes and all(len(c.json()["entities"]) <= 50 for c in writes)
    assert {e["typeName"] for c in writes for e in c.json()["entities"]} == {COMPUTED_TABLE, COMPUTED_PROCESS}

    # the two types, and the Qualytics group applicable to the computed one
    table_def, process_def = p.typedef(COMPUTED_TABLE), p.typedef(COMPUTED_PROCESS)
    assert table_def and table_def["superTypes"] == ["DataSet"] and table_def["serviceType"] == "Qualytics"
    assert (
        process_def and process_def["superTypes"] == ["Process"] and process_def["serviceType"] == "Qualytics"
    )
    assert [a["name"] for a in process_def["attributeDefs"]] == ["columnMapping"]
    group = p.typedef("Qualytics")
    core = {a.name for a in CORE_ATTRIBUTES}  # the values a computed entity carries (not the dimension scores)
    assert group and all(
        COMPUTED_TABLE in json.loads(a["options"]["applicableEntityTypes"])
        for a in group["attributeDefs"]
        if a["name"] in core
    )

    c, g = estate.containers, estate.table_guid
    # computed table: the query's tables (not the CTE, not the subquery); ghost_table is unmatched
    table, process = computed_entities(local, estate.ds, estate.computed["big_orders"])
    assert table and process
    assert table["attributes"]["name"] == "big_orders" and table["collectionId"] == "fin01"
    assert "computed table 'big_orders'" in table["attributes"]["description"]
    assert guids_of(process["attributes"]["inputs"]) == {g("orders"), g("customers"), g("payments")}
    assert guids_of(process["attributes"]["outputs"]) == {table["guid"]}
    assert "columnMapping" not in process["attributes"]  # a query: not derived
    assert entry["lineage_unmatched_sources"] == ["big_orders: ghost_table"]
    values = p.business_metadata(table["guid"])["Qualytics"]
    ui = local.qualytics.ui_url
    assert values["QualityScore"] == 64.0
    assert values["QualyticsURL"] == f"{ui}/datastores/{estate.ds}/tables/{estate.computed['big_orders']}"

    # computed join across two datastores, with its column mapping
    join, join_process = computed_entities(local, estate.ds, estate.computed["orders_by_region"])
    assert join and join_process
    assert guids_of(join_process["attributes"]["inputs"]) == {g("orders"), g("regions")}
    assert guids_of(join_process["attributes"]["outputs"]) == {join["guid"]}
    mapping = json.loads(join_process["attributes"]["columnMapping"])
    orders_qn = p.entity(g("orders"))["attributes"]["qualifiedName"]  # type: ignore[index]
    regions_qn = p.entity(g("regions"))["attributes"]["qualifiedName"]  # type: ignore[index]
    join_qn = computed_qn(local, estate.ds, estate.computed["orders_by_region"])
    assert mapping == [
        {"DatasetMapping": {"Source": orders_qn, "Sink": join_qn},
         "ColumnMapping": [{"Source": "id", "Sink": "left_id"}, {"Source": "amount", "Sink": "amount"}]},
        {"DatasetMapping": {"Source": regions_qn, "Sink": join_qn},
         "ColumnMapping": [{"Source": "name", "Sink": "region"}]},
    ]  # fmt: skip
    assert p.business_metadata(join["guid"])["Qualytics"]["QualityScore"] == 81.5

    # computed file: its source container
    file_entity, file_process = computed_entities(local, estate.ds, estate.computed["customer_names"])
    assert file_entity and file_process
    assert guids_of(file_process["attributes"]["inputs"]) == {g("customers")}
    assert json.loads(file_process["attributes"]["columnMapping"])[0]["ColumnMapping"] == [
        {"Source": "id", "Sink": "id"}, {"Source": "name", "Sink": "customer"},
    ]  # fmt: skip
    # the scanned tables show the process reading them
    orders = p.entity(g("orders"))
    assert orders and {join_process["guid"], process["guid"]} <= guids_of(
        orders["relationshipAttributes"]["inputToProcesses"]
    )
    assert entry["lineage_entities_written"] == 6 and entry["totals"]["lineage_entities_written"] == 6
    assert c  # the containers exist in both datastores


def test_nothing_changed_no_entity_write_then_a_changed_definition_updates_the_inputs(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    assert local.purview and local.qualytics
    estate = make_estate(local)
    sync(api, integration, estate.ds, push=True, pull=False)

    since = len(local.purview.calls)
    again = sync(api, integration, estate.ds, push=True, pull=False)
    assert again["status"] == "completed" and again["errors"] == []
    assert entity_writes(local, since) == []  # not one POST /entity/bulk, not one delete
    assert again["lineage_entities_written"] == 0 and again["lineage_entities_deleted"] == 0
    assert not [c for c in list(local.purview.calls)[since:] if "/businessmetadata" in c.path]

    cid = estate.computed["big_orders"]
    local.qualytics.set_definition(cid, query="SELECT id FROM orders")
    changed = sync(api, integration, estate.ds, push=True, pull=False)
    _, process = computed_entities(local, estate.ds, cid)
    assert process and guids_of(process["attributes"]["inputs"]) == {estate.table_guid("orders")}
    assert changed["lineage_entities_written"] == 1  # the process only; the computed entity is unchanged
    assert changed["lineage_unmatched_sources"] == []


def test_a_removed_computed_container_loses_its_two_entities(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    assert local.purview and local.qualytics
    estate = make_estate(local)
    sync(api, integration, estate.ds, push=True, pull=False)
    cid = estate.computed["orders_by_region"]
    table, process = computed_entities(local, estate.ds, cid)
    assert table and process

    local.qualytics.remove_container(cid)
    entry = sync(api, integration, estate.ds, push=True, pull=False)
    assert entry["lineage_entities_deleted"] == 2 and entry["lineage_entities_written"] == 0
    assert computed_entities(local, estate.ds, cid) == (None, None)
    assert local.purview.entity(table["guid"])["status"] == "DELETED"  # type: ignore[index]
    # the others stay
    assert all(
        computed_entities(local, estate.ds, estate.computed[n])[1] for n in ("big_orders", "customer_names")
    )


def test_a_query_naming_only_unknown_tables_makes_no_process(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    assert local.qualytics
    estate = make_estate(local, computed=False)
    cid = local.qualytics.add_computed_table(
        estate.ds, "nowhere", "SELECT * FROM other_db.dbo.orders JOIN nope ON 1=1"
    )
    entry = sync(api, integration, estate.ds, push=True, pull=False)
    table, process = computed_entities(local, estate.ds, cid)
    assert table is not None and process is None
    assert sorted(entry["lineage_unmatched_sources"]) == ["nowhere: nope", "nowhere: other_db.dbo.orders"]
    assert entry["lineage_entities_written"] == 1


@pytest.mark.parametrize("shape", ["objects", "sources"])
def test_a_join_is_read_in_every_shape_the_api_may_answer(
    api: Api, local: LocalEnvironment, integration: str, shape: str
) -> None:
    assert local.qualytics
    local.qualytics.computed_join_shape = shape
    local.qualytics.computed_listing_brief = True  # the definition only on GET /containers/{id}
    try:
        estate = make_estate(local)
        sync(api, integration, estate.ds, push=True, pull=False)
    finally:
        local.qualytics.computed_join_shape, local.qualytics.computed_listing_brief = "ids", False
    _, process = computed_entities(local, estate.ds, estate.computed["orders_by_region"])
    assert process and guids_of(process["attributes"]["inputs"]) == {
        estate.table_guid("orders"),
        estate.table_guid("regions"),
    }
    assert ("columnMapping" in process["attributes"]) is (shape == "objects")


def test_an_event_push_of_one_table_also_lands_the_lineage(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    """An event push reads one table only; the computed containers' sources are matched on demand."""
    estate = make_estate(local)
    body = {"type": "scan_completed", "datastore_id": estate.ds, "container_id": estate.containers["orders"],
            "integration_id": integration}  # fmt: skip
    assert api.post("/events", json=body).status_code == 202
    deadline = time.monotonic() + 30
    while computed_entities(local, estate.ds, estate.computed["orders_by_region"])[1] is None:
        assert time.monotonic() < deadline, "the event push did not land the lineage"
        time.sleep(0.2)
    runs = api.get(f"/integrations/{integration}/syncs").json()["items"]
    assert [r["options"]["container_id"] for r in runs if r["options"].get("trigger") == "event"] == [
        estate.containers["orders"]
    ]
    _, process = computed_entities(local, estate.ds, estate.computed["big_orders"])
    assert process and guids_of(process["attributes"]["inputs"]) == {
        estate.table_guid("orders"),
        estate.table_guid("customers"),
        estate.table_guid("payments"),
    }
    _, join = computed_entities(local, estate.ds, estate.computed["orders_by_region"])
    assert join and guids_of(join["attributes"]["inputs"]) == {
        estate.table_guid("orders"),
        estate.table_guid("regions"),
    }


def test_a_table_gone_since_matching_fails_only_its_own_computed_container(
    local: LocalEnvironment, integration: str, services: Services
) -> None:
    """Atlas fails a whole bulk call on one unresolvable reference (404 ATLAS-404-00-00A): the push retries
    container by container, so the others still land and the one is reported against its entity."""
    assert local.purview and local.qualytics
    estate = make_estate(local)
    found = services.integrations.get(integration)
    assert found
    qualytics, purview = services.qualytics(), services.purview_for(found)
    datastore = qualytics.get_datastore(estate.ds)
    assert datastore
    job = DatastoreJob(services, found, datastore, pull=False, push=True, deadline=time.monotonic() + 60,
                       heartbeat=lambda: None)  # fmt: skip
    snapshot = DatastoreSnapshot.load(qualytics, datastore, with_counts=True)
    match = Matcher(purview, found.domains).match(
        snapshot.datastore, snapshot.tables, snapshot.fields_by_table
    )
    local.purview.delete_entity(estate.table_guid("payments"))  # deleted in Purview after the match
    since = len(local.purview.calls)
    try:
        LineagePush(job, SyncContext(qualytics, purview, snapshot, match)).run()
    finally:
        qualytics.close()
        purview.close()
    statuses = [c.status for c in entity_writes(local, since) if c.method == "POST"]
    assert statuses[0] == 404 and statuses[1:].count(404) == 1 and statuses.count(200) == 2
    big = computed_qn(local, estate.ds, estate.computed["big_orders"])
    assert [e.asset for e in job.report.errors] == [big]
    assert all(
        computed_entities(local, estate.ds, estate.computed[n])[1]
        for n in ("orders_by_region", "customer_names")
    )
    assert computed_entities(local, estate.ds, estate.computed["big_orders"]) == (None, None)


def test_push_is_idempotent_and_cleans_up_under_the_strictest_purview(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    """Case-sensitive search that refuses ``prefix`` (knobs.STRICT): the push still finds its own entities."""
    assert local.purview and local.qualytics
    local.purview.set_knobs(**STRICT)
    try:
        estate = make_estate(local)
        first = sync(api, integration, estate.ds, push=True, pull=False)
        assert first["errors"] == [] and first["lineage_entities_written"] == 6, first
        since = len(local.purview.calls)
        assert sync(api, integration, estate.ds, push=True, pull=False)["lineage_entities_written"] == 0
        assert entity_writes(local, since) == []
        local.qualytics.remove_container(estate.computed["customer_names"])
        assert sync(api, integration, estate.ds, push=True, pull=False)["lineage_entities_deleted"] == 2
    finally:
        local.purview.reset_knobs()
    assert computed_entities(local, estate.ds, estate.computed["customer_names"]) == (None, None)


def test_many_computed_containers_go_in_calls_of_at_most_50_entities(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    assert local.purview and local.qualytics
    estate = make_estate(local, computed=False)
    cids = [
        local.qualytics.add_computed_file(
            estate.ds, f"slice_{i}", estate.containers["orders"], select_clause="id"
        )
        for i in range(30)
    ]
    since = len(local.purview.calls)
    entry = sync(api, integration, estate.ds, push=True, pull=False)
    sizes = [len(c.json()["entities"]) for c in entity_writes(local, since) if c.method == "POST"]
    assert sizes == [50, 10] and entry["lineage_entities_written"] == 60  # a container's two in one call
    assert all(computed_entities(local, estate.ds, cid)[1] for cid in cids)


@pytest.mark.parametrize(
    "knobs", [{"bm_group_post": "replace"}, {"bulk_get_business_attributes": False}],
    ids=["bm_post_replaces_group", "bulk_get_without_business_attributes"],
)  # fmt: skip
def test_a_computed_entity_keeps_every_value_and_is_not_rewritten_whatever_the_account_does(
    api: Api, local: LocalEnvironment, integration: str, knobs: dict
) -> None:
    """Issue 13 points 12 and 13 for the computed entities too: a changed value sends all of the group's
    values (a replacing POST keeps the others), and an account whose reads leave the values out is compared
    with what was last written (no rewrite on every push)."""
    assert local.purview and local.qualytics
    p = local.purview
    p.set_knobs(**knobs)
    try:
        estate = make_estate(local)
        sync(api, integration, estate.ds, push=True, pull=False)
        cid = estate.computed["big_orders"]
        table, _ = computed_entities(local, estate.ds, cid)
        assert table
        before = p.business_metadata(table["guid"])["Qualytics"]
        assert set(before) == {"QualityScore", "AnomalyCount", "CheckCount", "QualyticsURL"}

        since = len(p.calls)
        again = sync(api, integration, estate.ds, push=True, pull=False)
        assert again["errors"] == [], again
        assert not [c for c in list(p.calls)[since:] if table["guid"] in c.path and "businessmetadata" in c.path]

        local.qualytics.set_score("container", cid, 55.5)
        changed = sync(api, integration, estate.ds, push=True, pull=False)
        assert changed["errors"] == [], changed
        assert p.business_metadata(table["guid"])["Qualytics"] == before | {"QualityScore": 55.5}
    finally:
        p.reset_knobs()

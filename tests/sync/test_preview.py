"""Preview (``"dry_run": true`` on POST /sync) end to end through the devhost: a run like any other that
writes nothing to Purview, Qualytics or the mapping table, counts what the real run then does, and
suggests the Purview names closest to what did not match."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from purview_sync.app.services import Services
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.models import COUNT_KEYS
from tests.conftest import Api
from tests.helpers import datastore_entry, run_sync, wait_for_run
from tests.sync.lineage_estate import make_estate as lineage_estate
from tests.sync.test_lineage_pull import add_copy
from tests.sync.test_push import Estate

GROUP = "Qualytics"
SEARCH_PATH = "/datamap/api/search/query"


@dataclass
class PreviewEstate(Estate):
    uid: str = ""


def make_estate(local: LocalEnvironment) -> PreviewEstate:
    """Purview has customers(id, phone, email), orders(id, amount), staging; Qualytics calls the phone column
    ``cust_phone`` and has ``staging_tmp`` instead of ``staging`` — the near misses a preview should name."""
    assert local.purview and local.qualytics
    uid = uuid.uuid4().hex[:8]
    db, server = f"prev_{uid}", f"prev-{uid}"
    purview_tables = {"customers": ["id", "phone", "email"], "orders": ["id", "amount"], "staging": ["x"]}
    guids = local.purview.add_sql_database(server, db, collection="fin01", schemas={"dbo": purview_tables})
    host = f"{server}.database.windows.net"
    q = local.qualytics
    ds = q.add_datastore(f"{db}.dbo", type="sqlserver", database=db, schema="dbo", host=host)
    q.add_quality_score(ds, 81.0)
    estate = PreviewEstate(db=db, host=host, ds=ds, guids=guids, uid=uid)
    qualytics_tables = {"customers": ["id", "cust_phone", "email"], "orders": ["id", "amount"], "staging_tmp": ["x"]}
    for table, columns in qualytics_tables.items():
        cid = q.add_container(ds, table, quality_score=72.0)
        estate.containers[table] = cid
        for column in columns:
            estate.fields[f"{table}.{column}"] = q.add_field(cid, column, quality_score=64.0)
    q.add_check(ds, estate.containers["orders"], ["amount"])
    return estate


def purview_writes(local: LocalEnvironment, since: int) -> list[tuple[str, str]]:
    assert local.purview
    calls = list(local.purview.calls)[since:]
    return [(c.method, c.path) for c in calls if c.method != "GET" and not c.path.endswith(SEARCH_PATH)]


def qualytics_writes(local: LocalEnvironment, since: int) -> list[tuple[str, str]]:
    assert local.qualytics
    return [(c.method, c.path) for c in list(local.qualytics.calls)[since:] if c.method != "GET"]


@pytest.fixture(scope="module")
def integration(api: Api, local: LocalEnvironment) -> str:
    resp = api.post("/integrations", json=local.connect_body(domains=["fin01"]))
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def test_a_preview_writes_nothing_and_counts_what_the_real_run_then_does(
    api: Api, local: LocalEnvironment, integration: str, services: Services
) -> None:
    assert local.purview and local.qualytics
    p, q = local.purview, local.qualytics
    estate = make_estate(local)
    # a second datastore no Purview schema matches, named like one that exists
    lost = q.add_datastore(f"{estate.db}_v2.dbo", type="sqlserver", database=f"{estate.db}_v2", schema="dbo",
                           host=estate.host)  # fmt: skip
    # pull material: a classification and a label to turn into new tags, and one whose name is a user's tag
    secret, label, users = f"Secret_{estate.uid}", f"gold_{estate.uid}", f"Team_{estate.uid}"
    p.add_classification(estate.guid("/customers#email"), secret)
    p.set_labels(estate.guid("/orders"), [label])
    q.create_tag(users)
    p.add_classification(estate.guid("/orders#amount"), users)
    mappings_before = len(services.mappings.list(integration))
    p_since, q_since = len(p.calls), len(q.calls)
    tags_before = set(q.tags)

    preview = run_sync(api, integration, pull=True, push=True, dry_run=True, datastore_ids=[estate.ds, lost])

    assert preview["status"] == "completed_with_errors", preview  # the lost datastore: not_matched
    assert preview["options"]["dry_run"] is True and preview["trigger"] == "manual"
    assert preview["progress"]["datastores_done"] == 2
    assert purview_writes(local, p_since) == []
    assert qualytics_writes(local, q_since) == []
    assert set(q.tags) == tags_before
    assert len(services.mappings.list(integration)) == mappings_before
    assert p.business_metadata(estate.guid()).get(GROUP) is None
    entry = datastore_entry(preview, estate.ds)
    assert entry["status"] == "completed" and entry["errors"] == [], entry
    assert entry["attributes_written"] > 0 and entry["tags_added"] == 2 and entry["tags_skipped"] == 1
    assert {"kind": "column", "name": "customers.cust_phone", "candidates": ["phone"]} in entry["suggestions"]
    assert {"kind": "table", "name": "staging_tmp", "candidates": ["staging"]} in entry["suggestions"]
    assert all(s["candidates"] for s in entry["suggestions"])  # only names with a near miss are listed
    missing = datastore_entry(preview, lost)
    assert missing["status"] == "failed" and missing["reason"] == "not_matched"
    assert missing["suggestions"][0]["kind"] == "datastore"
    assert missing["suggestions"][0]["name"] == f"{estate.db}_v2.dbo"
    assert missing["suggestions"][0]["candidates"][0] == f"{estate.db}.dbo"

    real = run_sync(api, integration, pull=True, push=True, datastore_ids=[estate.ds, lost])

    assert real["options"]["dry_run"] is False
    for ds in (estate.ds, lost):
        before, after = datastore_entry(preview, ds), datastore_entry(real, ds)
        assert {k: before[k] for k in COUNT_KEYS} == {k: after[k] for k in COUNT_KEYS}, ds
        assert after["suggestions"] == []  # suggestions are a preview's
    assert preview["totals"] == real["totals"]
    assert purview_writes(local, p_since) and qualytics_writes(local, q_since)  # the real run did write
    values = p.business_metadata(estate.guid()).get(GROUP) or {}
    assert values.get("QualityScore") == 81.0
    assert q.tags_of("field", estate.fields["customers.email"]) == [secret]


def test_a_preview_holds_the_lock_and_can_be_cancelled(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    assert local.purview and local.qualytics
    estates = [make_estate(local) for _ in range(3)]
    local.purview.server.set_faults(latency_s=0.3)
    try:
        resp = api.post(f"/integrations/{integration}/sync",
                        json={"dry_run": True, "datastore_ids": [e.ds for e in estates]})  # fmt: skip
        assert resp.status_code == 202, resp.text
        run_id = resp.json()["id"]
        assert resp.json()["options"]["dry_run"] is True
        busy = api.post(f"/integrations/{integration}/sync", json={})
        assert busy.status_code == 409 and busy.json()["error"]["run_id"] == run_id
        assert api.post(f"/integrations/{integration}/cancel").status_code == 202
    finally:
        local.purview.server.set_faults(latency_s=0.0)
    run = wait_for_run(api, integration, run_id)
    assert run["status"] in ("cancelled", "completed"), run


@pytest.mark.parametrize("value", ["true", 1, "yes", None])
def test_dry_run_must_be_a_json_boolean(api: Api, integration: str, value: object) -> None:
    resp = api.post(f"/integrations/{integration}/sync", json={"dry_run": value})
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "dry_run", resp.text


def test_a_preview_of_lineage_writes_no_entity_edge_or_mapping_and_counts_the_same(
    api: Api, local: LocalEnvironment, services: Services
) -> None:
    assert local.purview and local.qualytics
    p, q = local.purview, local.qualytics
    resp = api.post("/integrations", json=local.connect_body(domains=["fin01"], lineage=True))
    assert resp.status_code == 201, resp.text
    integration = resp.json()["id"]
    estate = lineage_estate(local)  # three computed containers of the first datastore
    copy = add_copy(local, estate, "orders", "payments", "copy_orders")  # a Purview process: one edge

    def both(*, first: bool) -> tuple[dict, dict]:
        p_since, q_since = len(p.calls), len(q.calls)
        preview = run_sync(api, integration, dry_run=True, datastore_ids=[estate.ds])
        assert purview_writes(local, p_since) == [] and qualytics_writes(local, q_since) == []
        rows = services.lineage.list_for_datastore(integration, estate.ds)
        assert (rows == []) is first  # no mapping row written (nor removed) by the preview
        real = run_sync(api, integration, datastore_ids=[estate.ds])
        before, after = datastore_entry(preview, estate.ds), datastore_entry(real, estate.ds)
        assert before["status"] == after["status"] == "completed", (before, after)
        assert {k: before[k] for k in COUNT_KEYS} == {k: after[k] for k in COUNT_KEYS}
        return before, after

    created, _ = both(first=True)
    assert created["lineage_entities_written"] >= 5 and created["lineage_edges_added"] == 1
    p.delete_entity(copy)  # the process is gone from Purview: the edge goes
    q.remove_container(estate.computed["customer_names"])  # a computed container gone: its entities go
    removed, _ = both(first=False)
    assert removed["lineage_edges_removed"] == 1 and removed["lineage_entities_deleted"] == 2

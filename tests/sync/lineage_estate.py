"""A lineage estate for the lineage tests: two databases scanned in Purview, their two Qualytics datastores,
and (optionally) computed containers of the first one. Every call makes uniquely named databases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.sync.lineage_push import computed_prefix
from purview_sync.sync.lineage_typedef import COMPUTED_PROCESS, COMPUTED_TABLE
from tests.conftest import Api
from tests.helpers import datastore_entry, run_sync

HOST = "lineage-srv.database.windows.net"
SALES = {
    "orders": ["id", "amount", "customer_id"],
    "customers": ["id", "name"],
    "payments": ["id", "order_id"],
}
GEO = {"regions": ["id", "name"]}


@dataclass
class LineageEstate:
    db: str
    geo_db: str
    ds: int
    geo_ds: int
    guids: dict[str, str]
    containers: dict[str, int] = field(default_factory=dict)  # table name → container id (both datastores)
    computed: dict[str, int] = field(default_factory=dict)

    def table_guid(self, name: str) -> str:
        db = self.geo_db if name in GEO else self.db
        return self.guids[f"mssql://{HOST}/{db}/dbo/{name}"]


def make_estate(local: LocalEnvironment, *, computed: bool = True) -> LineageEstate:
    assert local.purview and local.qualytics
    q = local.qualytics
    uid = uuid.uuid4().hex[:8]
    db, geo_db = f"lin_{uid}", f"geo_{uid}"
    guids = local.purview.add_sql_database(HOST, db, collection="fin01", schemas={"dbo": SALES})
    guids |= local.purview.add_sql_database(HOST, geo_db, collection="fin01", schemas={"dbo": GEO})
    ds = q.add_datastore(f"{db}.dbo", type="sqlserver", database=db, schema="dbo", host=HOST)
    geo_ds = q.add_datastore(f"{geo_db}.dbo", type="sqlserver", database=geo_db, schema="dbo", host=HOST)
    estate = LineageEstate(db=db, geo_db=geo_db, ds=ds, geo_ds=geo_ds, guids=guids)
    for target, tables in ((ds, SALES), (geo_ds, GEO)):
        for table, columns in tables.items():
            cid = q.add_container(target, table, quality_score=70.0)
            estate.containers[table] = cid
            for column in columns:
                q.add_field(cid, column)
    if computed:
        c = estate.containers
        estate.computed["big_orders"] = q.add_computed_table(
            ds,
            "big_orders",
            "WITH recent AS (SELECT * FROM dbo.orders WHERE amount > 100) "
            f"SELECT r.id, cu.name FROM recent r JOIN [{db}].dbo.customers cu ON cu.id = r.customer_id "
            "WHERE NOT EXISTS (SELECT 1 FROM ghost_table g WHERE g.id = r.id) "
            "AND r.id IN (SELECT order_id FROM (SELECT order_id FROM payments) p)",
            quality_score=64.0,
        )
        estate.computed["orders_by_region"] = q.add_computed_join(
            ds, "orders_by_region", c["orders"], c["regions"], left_join_field_name="customer_id",
            select_clause="left_id, left_amount AS amount, right_name AS region", quality_score=81.5,
        )  # fmt: skip
        estate.computed["customer_names"] = q.add_computed_file(
            ds, "customer_names", c["customers"], select_clause="id, name AS customer"
        )
    return estate


def connect(api: Api, local: LocalEnvironment, **overrides: Any) -> str:
    resp = api.post("/integrations", json=local.connect_body(**{"domains": ["fin01"], **overrides}))
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def sync(api: Api, integration: str, ds: int, *, push: bool, pull: bool) -> dict[str, Any]:
    run = run_sync(api, integration, push=push, pull=pull, datastore_ids=[ds])
    return datastore_entry(run, ds) | {"totals": run["totals"]}


def computed_qn(local: LocalEnvironment, ds: int, cid: int) -> str:
    assert local.qualytics
    return computed_prefix(local.qualytics.ui_url, ds) + str(cid)


def computed_entities(local: LocalEnvironment, ds: int, cid: int) -> tuple[dict | None, dict | None]:
    """(the computed entity, its process) as Purview renders them, None when absent."""
    assert local.purview
    qn = computed_qn(local, ds, cid)
    return local.purview.entity_by_qn(qn, COMPUTED_TABLE), local.purview.entity_by_qn(
        f"{qn}/process", COMPUTED_PROCESS
    )


def guids_of(refs: list[dict] | None) -> set[str]:
    return {r["guid"] for r in refs or []}

"""The matcher against the Purview simulator: qualifiedName shapes of the four SQL flavours, case and
URL-encoding, the collection filter, host tie-breaks and ambiguity, dropped columns."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest

from purview_sync.app.services import Services
from purview_sync.clients.purview import PurviewClient
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.sync.matcher import Matcher, ParsedName, parse_qualified_name
from tests.conftest import Api

_ids = itertools.count(10_000)


def _uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def integration_ids(api: Api, local: LocalEnvironment) -> dict[str, str]:
    ids = {}
    for key, domains in (("all", []), ("fin", ["fin01"])):
        resp = api.post("/integrations", json=local.connect_body(domains=domains))
        assert resp.status_code == 201, resp.text
        ids[key] = resp.json()["id"]
    return ids


def matcher(services: Services, integration_id: str) -> tuple[Matcher, PurviewClient]:
    integration = services.integrations.get(integration_id)
    assert integration is not None
    purview = services.purview_for(integration)
    return Matcher(purview, integration.domains), purview


def qualytics_side(
    database: str, schema: str | None, host: str | None, tables: dict[str, list[str]]
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """A Qualytics datastore, its containers and fields, shaped as the API answers them."""
    datastore = {"id": next(_ids), "database": database, "schema": schema, "connection": {"host": host}}
    containers, fields = [], {}
    for name, columns in tables.items():
        cid = next(_ids)
        containers.append({"id": cid, "name": name})
        fields[cid] = [{"id": next(_ids), "name": c, "container_id": cid} for c in columns]
    return datastore, containers, fields


@pytest.mark.parametrize(
    ("qualified_name", "type_name", "expected"),
    [
        (
            "mssql://srv.database.windows.net/finance_db/dbo/transactions#amount",
            "azure_sql_column",
            ParsedName("srv.database.windows.net", "finance_db", "dbo", "transactions"),
        ),
        (
            "mssql://mi-01.abc123.database.windows.net:3342/midb/sales",
            "azure_sql_mi_schema",
            ParsedName("mi-01.abc123.database.windows.net", "midb", "sales"),
        ),
        (
            "mssql://onprem-sql01/MSSQLSERVER/hr_db/dbo/employees",
            "mssql_table",
            ParsedName("onprem-sql01", "hr_db", "dbo", "employees"),
        ),
        (
            "mssql://ws.sql.azuresynapse.net/pool1/sales/orders",
            "azure_synapse_dedicated_sql_table",
            ParsedName("ws.sql.azuresynapse.net", "pool1", "sales", "orders"),
        ),
        (
            "mssql://SRV.database.windows.net/Sales%20DB/my%20schema/order%20items#unit%20price",
            "azure_sql_column",
            ParsedName("srv.database.windows.net", "Sales DB", "my schema", "order items"),
        ),
        (
            "mssql://srv.database.windows.net/db_only",
            "azure_sql_db",
            ParsedName("srv.database.windows.net", "db_only", None),
        ),
        ("https://ws.dev.azuresynapse.net", "azure_synapse_workspace", None),
        ("mssql://srv.database.windows.net/db/dbo", "hive_table", None),
    ],
)
def test_qualified_names_of_the_sql_flavours(
    qualified_name: str, type_name: str, expected: ParsedName | None
) -> None:
    assert parse_qualified_name(qualified_name, type_name) == expected


@pytest.mark.parametrize(
    ("flavor", "server", "qn_host"),
    [
        ("azure_sql", "mt-az-{u}", "mt-az-{u}.database.windows.net"),
        ("azure_sql_mi", "mt-mi-{u}.abc123", "mt-mi-{u}.abc123.database.windows.net:3342"),
        ("mssql", "mt-onprem-{u}", "mt-onprem-{u}/MSSQLSERVER"),
        ("synapse_dedicated", "mt-ws-{u}", "mt-ws-{u}.sql.azuresynapse.net"),
    ],
)
def test_each_flavour_matches_schema_tables_views_and_columns(
    local: LocalEnvironment,
    services: Services,
    integration_ids: dict[str, str],
    flavor: str,
    server: str,
    qn_host: str,
) -> None:
    assert local.purview
    u = _uid()
    db = f"mt_{flavor}_{u}"
    guids = local.purview.add_sql_database(
        server.format(u=u), db, flavor=flavor, collection="fin01",
        schemas={"dbo": {"orders": ["id", "amount"]}}, views={"dbo": {"v_orders": ["id"]}},
    )  # fmt: skip
    root_qn = f"mssql://{qn_host.format(u=u)}/{db}/dbo"
    assert root_qn in guids
    datastore, tables, fields = qualytics_side(
        db, "dbo", None, {"orders": ["id", "amount"], "v_orders": ["id"]}
    )
    m, purview = matcher(services, integration_ids["all"])
    try:
        result = m.match(datastore, tables, fields)
    finally:
        purview.close()
    assert result.status == "matched" and result.root is not None
    assert result.root.qualified_name == root_qn and result.root.guid == guids[root_qn]
    orders, view = tables[0]["id"], tables[1]["id"]
    assert result.tables[orders].qualified_name == f"{root_qn}/orders"
    assert result.tables[view].qualified_name == f"{root_qn}/v_orders"
    assert result.tables[view].type_name.endswith("_view")
    amount = fields[orders][1]["id"]
    assert result.columns[amount].guid == guids[f"{root_qn}/orders#amount"]
    assert result.columns[fields[view][0]["id"]].type_name.endswith("_view_column")
    assert len(result.columns) == 3 and not result.unmatched_tables and not result.unmatched_columns


def test_names_compare_case_insensitively_and_url_decoded(
    local: LocalEnvironment, services: Services, integration_ids: dict[str, str]
) -> None:
    assert local.purview
    u = _uid()
    db = f"Sales DB {u}"
    guids = local.purview.add_sql_database(
        f"mt-case-{u}", db, collection="fin01",
        schemas={"My Schema": {"Order Items": ["Unit Price", "Qty"], "Customers": ["ID"]}},
    )  # fmt: skip
    root_qn = f"mssql://mt-case-{u}.database.windows.net/Sales%20DB%20{u}/My%20Schema"
    assert root_qn in guids
    datastore, tables, fields = qualytics_side(
        db.upper(), "my schema", f"MT-CASE-{u}.database.windows.net",
        {"order items": ["unit price", "QTY", "missing_col"], "CUSTOMERS": ["id"], "not_scanned": ["x"]},
    )  # fmt: skip
    m, purview = matcher(services, integration_ids["all"])
    try:
        result = m.match(datastore, tables, fields)
    finally:
        purview.close()
    assert result.status == "matched" and result.root and result.root.guid == guids[root_qn]
    items = tables[0]["id"]
    assert result.tables[items].qualified_name == f"{root_qn}/Order%20Items"
    assert result.columns[fields[items][0]["id"]].qualified_name == f"{root_qn}/Order%20Items#Unit%20Price"
    assert fields[items][1]["id"] in result.columns  # QTY ~ Qty
    assert result.unmatched_tables == ["not_scanned"]
    assert result.unmatched_columns == ["order items.missing_col"]


def test_a_datastore_without_schema_matches_the_database(
    local: LocalEnvironment, services: Services, integration_ids: dict[str, str]
) -> None:
    assert local.purview
    u = _uid()
    guids = local.purview.add_sql_database(f"mt-noschema-{u}", f"flat_{u}", collection="fin01",
                                           schemas={"dbo": {"t": ["c"]}})  # fmt: skip
    datastore, tables, fields = qualytics_side(f"flat_{u}", None, None, {})
    m, purview = matcher(services, integration_ids["all"])
    try:
        result = m.match(datastore, tables, fields)
    finally:
        purview.close()
    db_qn = f"mssql://mt-noschema-{u}.database.windows.net/flat_{u}"
    assert result.status == "matched" and result.root and result.root.guid == guids[db_qn]
    assert result.root.type_name == "azure_sql_db"


def test_collections_host_tie_break_and_ambiguity(
    local: LocalEnvironment, services: Services, integration_ids: dict[str, str]
) -> None:
    assert local.purview
    u = _uid()
    db = f"twin_{u}"
    a = local.purview.add_sql_database(f"mt-a-{u}", db, collection="fin01", schemas={"dbo": {"t": ["c"]}})
    b = local.purview.add_sql_database(f"mt-b-{u}", db, collection="fin01", schemas={"dbo": {"t": ["c"]}})
    qn_a = f"mssql://mt-a-{u}.database.windows.net/{db}/dbo"
    qn_b = f"mssql://mt-b-{u}.database.windows.net/{db}/dbo"
    lone = f"lone_{u}"
    local.purview.add_sql_database(f"mt-c-{u}", lone, collection="mkt02", schemas={"dbo": {"t": ["c"]}})

    m_all, p_all = matcher(services, integration_ids["all"])
    m_fin, p_fin = matcher(services, integration_ids["fin"])
    try:
        by_host = m_all.find_root(
            {"database": db, "schema": "dbo", "connection": {"host": f"MT-B-{u}.database.windows.net:1433"}}
        )
        assert by_host.status == "matched" and by_host.root and by_host.root.guid == b[qn_b]
        short_host = m_all.find_root({"database": db, "schema": "dbo", "connection": {"host": f"mt-a-{u}"}})
        assert short_host.root and short_host.root.guid == a[qn_a]
        neither = m_all.find_root(
            {"database": db, "schema": "dbo", "connection": {"host": "elsewhere.database.windows.net"}}
        )
        assert neither.status == "ambiguous" and neither.candidates == sorted([qn_a, qn_b])
        assert m_fin.find_root({"database": lone, "schema": "dbo"}).status == "outside_collections"
        assert m_all.find_root({"database": lone, "schema": "dbo"}).status == "matched"
        assert m_fin.find_root({"database": f"nowhere_{u}", "schema": "dbo"}).status == "not_found"
    finally:
        p_all.close()
        p_fin.close()


def test_a_dropped_column_is_not_matched(
    local: LocalEnvironment, services: Services, integration_ids: dict[str, str]
) -> None:
    assert local.purview
    u = _uid()
    guids = local.purview.add_sql_database(f"mt-drop-{u}", f"drop_{u}", collection="fin01",
                                           schemas={"dbo": {"t": ["kept", "dropped"]}})  # fmt: skip
    local.purview.delete_entity(guids[f"mssql://mt-drop-{u}.database.windows.net/drop_{u}/dbo/t#dropped"])
    datastore, tables, fields = qualytics_side(f"drop_{u}", "dbo", None, {"t": ["kept", "dropped"]})
    m, purview = matcher(services, integration_ids["all"])
    try:
        result = m.match(datastore, tables, fields)
    finally:
        purview.close()
    assert [a.qualified_name.rsplit("#", 1)[1] for a in result.columns.values()] == ["kept"]
    assert result.unmatched_columns == ["t.dropped"]

"""The simulator's seeding of scanned SQL sources: qualified names, relationships, and the other SQL
flavours (MI, SQL Server, Synapse).
"""

from __future__ import annotations

from purview_sync.dev.purview import PurviewSim
from tests.dev.purview.helpers import SQL_DB, Client


def test_sql_qualified_names_and_relationships(
    sim: PurviewSim, client: Client, estate: dict[str, str]
) -> None:
    table = f"{SQL_DB}/dbo/transactions"
    assert {
        "mssql://srv1.database.windows.net",
        SQL_DB,
        f"{SQL_DB}/dbo",
        table,
        f"{table}#amount",
        f"{SQL_DB}/dbo/v_balances#balance",
    } <= set(estate)
    resp = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{estate[table]}")
    assert resp.status_code == 200
    entity = resp.json()["entity"]
    assert entity["typeName"] == "azure_sql_table" and entity["collectionId"] == "fin01"
    rels = entity["relationshipAttributes"]
    assert rels["dbSchema"]["guid"] == estate[f"{SQL_DB}/dbo"]
    assert rels["dbSchema"]["relationshipType"] == "azure_sql_schema_tables"
    assert {c["displayText"] for c in rels["columns"]} == {"id", "amount"}
    assert all(c["typeName"] == "azure_sql_column" and c["entityStatus"] == "ACTIVE" for c in rels["columns"])
    referred = resp.json()["referredEntities"]
    assert referred[estate[f"{table}#amount"]]["attributes"]["data_type"] == "decimal"
    column = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{estate[f'{table}#amount']}").json()[
        "entity"
    ]
    assert column["relationshipAttributes"]["table"]["guid"] == estate[table]
    schema = sim.entity(estate[f"{SQL_DB}/dbo"])
    assert schema is not None and schema["relationshipAttributes"]["db"]["guid"] == estate[SQL_DB]
    assert {t["displayText"] for t in schema["relationshipAttributes"]["tables"]} == {
        "transactions",
        "accounts",
    }
    view_col = sim.entity_by_qn(f"{SQL_DB}/dbo/v_balances#balance")
    assert view_col is not None and view_col["typeName"] == "azure_sql_view_column"
    slim = client.call(
        "GET", f"/datamap/api/atlas/v2/entity/guid/{estate[table]}", params={"ignoreRelationships": "true"}
    ).json()
    assert "relationshipAttributes" not in slim["entity"] and slim["referredEntities"] == {}


def test_other_sql_flavours(sim: PurviewSim) -> None:
    mi = sim.add_sql_database(
        "mi1.abc123", "sales", flavor="azure_sql_mi", schemas={"dbo": {"orders": ["id"]}}
    )
    assert "mssql://mi1.abc123.database.windows.net:3342/sales/dbo/orders#id" in mi
    onprem = sim.add_sql_database(
        "sql01.corp.local", "erp", flavor="mssql", schemas={"dbo": {"items": ["sku"]}}
    )
    assert "mssql://sql01.corp.local/MSSQLSERVER/erp/dbo/items#sku" in onprem
    syn = sim.add_sql_database("ws1", "pool1", flavor="synapse_dedicated", schemas={"dbo": {"facts": ["k"]}})
    qn = "mssql://ws1.sql.azuresynapse.net/pool1/dbo/facts"
    assert qn in syn
    facts = sim.entity_by_qn(qn)
    assert facts is not None and facts["typeName"] == "azure_synapse_dedicated_sql_table"
    spaced = sim.add_sql_database("srv9", "db", schemas={"dbo": {"my table": ["a b"]}})
    assert "mssql://srv9.database.windows.net/db/dbo/my%20table#a%20b" in spaced

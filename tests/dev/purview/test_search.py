"""The simulator's search: filters, collections, continuation, limits and api-version, readable-collection
scoping, classifications and labels.
"""

from __future__ import annotations

from purview_sync.dev.purview import PurviewSim
from purview_sync.dev.tls import DevTLS
from tests.dev.purview.helpers import SQL_DB, Client, as_client, make_token


def test_search_filter_collection_and_continuation(sim: PurviewSim, client: Client) -> None:
    sim.add_collection("fin01", "Finance")
    sim.add_collection("other1", "Other")
    tables = {f"t{i:02d}": ["id"] for i in range(23)}
    sim.add_sql_database("srv1", "finance_db", collection="fin01", schemas={"dbo": tables})
    sim.add_sql_database("srv1", "finance_db2", collection="fin01", schemas={"dbo": {"x": ["id"]}})
    sim.add_sql_database("srv3", "finance_db", collection="other1", schemas={"dbo": tables})
    query = {
        "keywords": None,
        "limit": 7,
        "filter": {
            "and": [
                {"or": [{"entityType": "azure_sql_table"}, {"entityType": "azure_sql_view"}]},
                {"or": [{"collectionId": "fin01"}, {"collectionId": "nope"}]},
                {"attributeName": "qualifiedName", "operator": "prefix", "attributeValue": f"{SQL_DB}/"},
            ]
        },
    }
    names: list[str] = []
    pages = 0
    body = dict(query)
    while True:
        resp = client.search(body)
        assert resp.status_code == 200, resp.text
        result = resp.json()
        assert result["@search.count"] == 23
        names += [v["name"] for v in result["value"]]
        assert all(v["qualifiedName"].startswith(f"{SQL_DB}/") for v in result["value"])
        assert all(
            v["entityType"] == "azure_sql_table" and v["objectType"] == "Tables" for v in result["value"]
        )
        pages += 1
        if "continuationToken" not in result:
            break
        body = dict(query, continuationToken=result["continuationToken"])
    assert pages == 4 and sorted(names) == sorted(tables)
    # a token only continues the query it came from
    other = dict(
        query,
        filter={"entityType": "azure_sql_column"},
        continuationToken=client.search(query).json()["continuationToken"],
    )
    assert client.search(other).status_code == 400
    by_name = client.search(
        {
            "filter": {
                "and": [
                    {"entityType": "azure_sql_db"},
                    {"attributeName": "name", "operator": "eq", "attributeValue": "FINANCE_DB"},
                ]
            }
        }
    )
    assert sorted(v["qualifiedName"] for v in by_name.json()["value"]) == [
        SQL_DB,
        "mssql://srv3.database.windows.net/finance_db",
    ]
    negated = client.search(
        {"filter": {"and": [{"entityType": "azure_sql_db"}, {"not": {"collectionId": "other1"}}]}}
    )
    assert {v["name"] for v in negated.json()["value"]} == {"finance_db", "finance_db2"}


def test_search_limits_and_api_version(sim: PurviewSim, client: Client) -> None:
    resp = client.search({"keywords": None, "limit": 1001})
    assert resp.status_code == 400
    assert set(resp.json()) == {"requestId", "errorCode", "errorMessage"}
    assert client.search({"keywords": None, "limit": 1000}).status_code == 200
    assert (
        client.call("POST", "/datamap/api/search/query", json={}).status_code == 400
    )  # api-version required
    assert client.search({"filter": {"bogus": 1}}).status_code == 400
    assert (
        client.search(
            {"filter": {"attributeName": "name", "operator": "gt", "attributeValue": "x"}}
        ).status_code
        == 400
    )


def test_search_only_shows_readable_collections(sim: PurviewSim, tls: DevTLS, estate: dict[str, str]) -> None:
    reader = "d0d0d0d0-0000-4000-8000-00000000000d"
    sim.grant(reader, "data_reader", collection="hr0002")
    hr_only = as_client(sim, tls, make_token(reader))
    result = hr_only.search({"filter": {"entityType": "azure_sql_table"}}).json()
    assert [v["name"] for v in result["value"]] == ["people"]
    table = estate[f"{SQL_DB}/dbo/transactions"]
    denied = hr_only.call("GET", f"/datamap/api/atlas/v2/entity/guid/{table}")
    assert denied.status_code == 403 and denied.json()["errorCode"] == "ATLAS-403-00-001"
    admin_only = "e0e0e0e0-0000-4000-8000-00000000000e"
    sim.grant(admin_only, "collection_admin")
    assert as_client(sim, tls, make_token(admin_only)).search({}).status_code == 403


def test_search_classification_and_labels(sim: PurviewSim, client: Client, estate: dict[str, str]) -> None:
    sim.add_classification_def("CONTOSO.PII")
    sim.add_classification_def("CONTOSO.PII.EMAIL", super_types=["CONTOSO.PII"])
    email_col = estate[f"{SQL_DB}/dbo/accounts#email"]
    sim.add_classification(email_col, "CONTOSO.PII.EMAIL")
    sim.set_labels(email_col, ["gold"])
    exact = client.search({"filter": {"classification": "CONTOSO.PII"}}).json()
    assert exact["@search.count"] == 0
    family = client.search(
        {
            "filter": {"classification": "CONTOSO.PII", "includeSubClassifications": True},
            "facets": [{"facet": "classification", "count": 5}],
        }
    ).json()
    assert [v["id"] for v in family["value"]] == [email_col]
    assert family["value"][0]["classification"] == ["CONTOSO.PII.EMAIL"]
    assert family["value"][0]["label"] == ["gold"]
    assert family["@search.facets"]["classification"] == [{"count": 1, "value": "CONTOSO.PII.EMAIL"}]
    keyword = client.search({"keywords": "transactions", "filter": {"entityType": "azure_sql_table"}}).json()
    assert [v["name"] for v in keyword["value"]] == ["transactions"]
    assert "<em>" in keyword["value"][0]["@search.highlights"]["name"][0]

"""The simulator's entity routes: bulk GET and the URL limit, unique attributes and upsert, propagated
classifications, labels, soft-deleted entities.
"""

from __future__ import annotations

import copy
import time

from purview_sync.dev.purview import PurviewSim
from tests.dev.purview.helpers import SQL_DB, Client


def test_bulk_get_and_url_limit(sim: PurviewSim, client: Client) -> None:
    sim.add_sql_database("srvb", "bulk", schemas={"dbo": {f"t{i}": ["a", "b"] for i in range(150)}})
    guids = [
        v["id"]
        for v in client.search({"filter": {"entityType": "azure_sql_table"}, "limit": 150}).json()["value"]
    ]
    assert len(guids) == 150
    started = time.perf_counter()
    resp = client.call("GET", "/datamap/api/atlas/v2/entity/bulk", params={"guid": guids[:100]})
    assert resp.status_code == 200 and len(resp.json()["entities"]) == 100
    assert time.perf_counter() - started < 2.0
    assert len(resp.json()["referredEntities"]) == 200  # their columns
    too_many = client.call("GET", "/datamap/api/atlas/v2/entity/bulk", params={"guid": guids + guids[:100]})
    assert too_many.status_code == 414  # the URL is too long, like the real front end
    unknown = client.call(
        "GET",
        "/datamap/api/atlas/v2/entity/bulk",
        params={"guid": [guids[0], "00000000-0000-4000-8000-000000000000"]},
    )
    assert unknown.status_code == 404 and unknown.json()["errorCode"] == "ATLAS-404-00-005"


def test_unique_attribute_and_upsert(sim: PurviewSim, client: Client, estate: dict[str, str]) -> None:
    qn = f"{SQL_DB}/dbo/transactions"
    resp = client.call(
        "GET",
        "/datamap/api/atlas/v2/entity/uniqueAttribute/type/azure_sql_table",
        params={"attr:qualifiedName": qn},
    )
    assert resp.status_code == 200 and resp.json()["entity"]["guid"] == estate[qn]
    missing = client.call(
        "GET",
        "/datamap/api/atlas/v2/entity/uniqueAttribute/type/azure_sql_table",
        params={"attr:qualifiedName": qn + "_nope"},
    )
    assert missing.status_code == 404 and missing.json()["errorCode"] == "ATLAS-404-00-009"
    body = {
        "entities": [
            {
                "typeName": "Process",
                "guid": "-1",
                "attributes": {"qualifiedName": "qualytics://pipeline/x", "name": "x"},
                "relationshipAttributes": {
                    "inputs": [{"typeName": "azure_sql_table", "uniqueAttributes": {"qualifiedName": qn}}]
                },
            }
        ]
    }
    created = client.call("POST", "/datamap/api/atlas/v2/entity/bulk", json=body)
    assert created.status_code == 200, created.text
    new_guid = created.json()["guidAssignments"]["-1"]
    assert created.json()["mutatedEntities"]["CREATE"][0]["guid"] == new_guid
    process = sim.entity(new_guid)
    assert process is not None and process["relationshipAttributes"]["inputs"][0]["guid"] == estate[qn]
    again = client.call("POST", "/datamap/api/atlas/v2/entity/bulk", json=body)
    assert again.json()["mutatedEntities"]["UPDATE"][0]["guid"] == new_guid
    bad_ref = copy.deepcopy(body)
    bad_ref["entities"][0]["relationshipAttributes"]["inputs"][0]["uniqueAttributes"]["qualifiedName"] = (
        "nope"
    )
    assert client.call("POST", "/datamap/api/atlas/v2/entity/bulk", json=bad_ref).status_code == 404


# ---- classifications ----
def test_propagated_classification_keeps_source_guid(
    sim: PurviewSim, client: Client, estate: dict[str, str]
) -> None:
    table = estate[f"{SQL_DB}/dbo/accounts"]
    column = estate[f"{SQL_DB}/dbo/accounts#email"]
    sim.add_classification(column, "MICROSOFT.PERSONAL.EMAIL")
    sim.add_classification(table, "Confidential")
    sim.add_classification(column, "Confidential", propagated_from=table)
    listed = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{column}/classifications").json()
    by_type = {c["typeName"]: c for c in listed["list"]}
    assert listed["totalCount"] == 2
    assert by_type["MICROSOFT.PERSONAL.EMAIL"]["entityGuid"] == column
    assert by_type["Confidential"]["entityGuid"] == table
    assert by_type["Confidential"]["entityStatus"] == "ACTIVE"
    entity = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{column}").json()["entity"]
    assert {(c["typeName"], c["entityGuid"]) for c in entity["classifications"]} == {
        ("MICROSOFT.PERSONAL.EMAIL", column),
        ("Confidential", table),
    }
    hit = client.search({"filter": {"id": column}}).json()["value"][0]
    assert set(hit["classification"]) == {
        "MICROSOFT.PERSONAL.EMAIL",
        "Confidential",
    }  # search can't tell them apart
    cannot = client.call("DELETE", f"/datamap/api/atlas/v2/entity/guid/{column}/classification/Confidential")
    assert cannot.status_code == 400
    wrapped = client.call(
        "POST",
        f"/datamap/api/atlas/v2/entity/guid/{table}/classifications",
        json={"typeName": "MICROSOFT.PERSONAL.NAME"},
    )
    assert wrapped.status_code == 400  # the body must be a bare array
    added = client.call(
        "POST",
        f"/datamap/api/atlas/v2/entity/guid/{table}/classifications",
        json=[{"typeName": "MICROSOFT.PERSONAL.NAME"}],
    )
    assert added.status_code == 204
    assert (
        client.call(
            "DELETE", f"/datamap/api/atlas/v2/entity/guid/{table}/classification/MICROSOFT.PERSONAL.NAME"
        ).status_code
        == 204
    )
    sim.remove_classification(column, "MICROSOFT.PERSONAL.EMAIL")
    assert (
        client.search({"filter": {"classification": "MICROSOFT.PERSONAL.EMAIL"}}).json()["@search.count"] == 0
    )


def test_labels_routes(sim: PurviewSim, client: Client, estate: dict[str, str]) -> None:
    table = estate[f"{SQL_DB}/dbo/accounts"]
    url = f"/datamap/api/atlas/v2/entity/guid/{table}/labels"
    assert client.call("PUT", url, json=["pii", "gold"]).status_code == 204
    assert client.call("DELETE", url, json=["pii"]).status_code == 204
    entity = sim.entity(table)
    assert entity is not None and entity["labels"] == ["gold"]


def test_deleted_entities_leave_search_but_show_in_relations(
    sim: PurviewSim, client: Client, estate: dict[str, str]
) -> None:
    column = estate[f"{SQL_DB}/dbo/transactions#amount"]
    sim.delete_entity(column)
    table = sim.entity(estate[f"{SQL_DB}/dbo/transactions"])
    assert table is not None
    status = {c["displayText"]: c["entityStatus"] for c in table["relationshipAttributes"]["columns"]}
    assert status == {"id": "ACTIVE", "amount": "DELETED"}
    assert client.search({"filter": {"id": column}}).json()["@search.count"] == 0

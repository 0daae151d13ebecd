"""The simulator's unknown-behaviour knobs (``purview_sync.dev.purview.knobs``): each one, both ways."""

from __future__ import annotations

import pytest

from purview_sync.dev.purview import PurviewSim
from purview_sync.dev.purview.knobs import FLIPS, STRICT, Knobs
from tests.dev.purview.helpers import SQL_DB, Client, create_qualytics_def

BM_BY_NAME = "/datamap/api/atlas/v2/types/businessmetadatadef/name/Qualytics"


def test_knobs_refuse_unknown_names_and_values(sim: PurviewSim) -> None:
    with pytest.raises(AttributeError):
        sim.set_knobs(no_such_knob=True)
    with pytest.raises(ValueError):
        sim.set_knobs(bm_group_post="sometimes")
    for values in [STRICT, *FLIPS.values()]:
        Knobs().update(**values)  # every named setting is a valid one


@pytest.mark.parametrize("lag", [0, 2])
def test_typedef_read_lag(sim: PurviewSim, client: Client, lag: int) -> None:
    sim.set_knobs(typedef_read_lag=lag)
    assert create_qualytics_def(client).status_code == 200
    assert create_qualytics_def(client).status_code == 409  # it exists …
    for _ in range(lag):  # … but GETs by name do not see it for a while
        missing = client.call("GET", BM_BY_NAME)
        assert missing.status_code == 404 and missing.json()["errorCode"] == "ATLAS-404-00-001"
    assert client.call("GET", BM_BY_NAME).status_code == 200


@pytest.mark.parametrize("refused", [False, True])
def test_account_api_version_refused_on_some_hosts(sim: PurviewSim, client: Client, refused: bool) -> None:
    if refused:
        sim.set_knobs(refused_account_api_versions={"2019-11-01-preview"})
    old = client.call("GET", "/account/collections", params={"api-version": "2019-11-01-preview"})
    new = client.call("GET", "/account/collections", params={"api-version": "2023-10-01-preview"})
    assert new.status_code == 200 and new.json()["value"][0]["name"] == "contoso"
    if refused:
        assert old.status_code == 400 and old.json()["error"]["code"] == "UnsupportedApiVersion"
    else:
        assert old.status_code == 200 and old.json() == new.json()


def names(resp) -> list[str]:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.text
    return sorted(v["qualifiedName"] for v in resp.json()["value"])


@pytest.mark.parametrize("case_sensitive", [False, True])
def test_search_case_sensitivity(
    sim: PurviewSim, client: Client, estate: dict[str, str], case_sensitive: bool
) -> None:
    sim.set_knobs(search_case_sensitive=case_sensitive)
    upper = client.search({"filter": {"attributeName": "name", "operator": "eq", "attributeValue": "DBO"}})
    exact = client.search({"filter": {"attributeName": "name", "operator": "eq", "attributeValue": "dbo"}})
    assert len(names(exact)) == 2
    assert names(upper) == ([] if case_sensitive else names(exact))
    prefix = {"attributeName": "qualifiedName", "operator": "prefix", "attributeValue": f"{SQL_DB.upper()}/"}
    assert (names(client.search({"filter": prefix})) == []) is case_sensitive


@pytest.mark.parametrize("supported", [True, False])
def test_search_prefix_supported_or_refused(
    sim: PurviewSim, client: Client, estate: dict[str, str], supported: bool
) -> None:
    sim.set_knobs(search_prefix_supported=supported)
    resp = client.search(
        {"filter": {"attributeName": "qualifiedName", "operator": "prefix", "attributeValue": f"{SQL_DB}/dbo/"}}
    )
    if supported:
        assert f"{SQL_DB}/dbo/transactions" in names(resp)
    else:
        assert resp.status_code == 400 and resp.json()["errorCode"] == "ATLAS-400-00-01A"


@pytest.mark.parametrize("instance", [True, False])
def test_sqlserver_names_with_or_without_the_instance(sim: PurviewSim, instance: bool) -> None:
    sim.set_knobs(sqlserver_instance_in_names=instance)
    guids = sim.add_sql_database("onprem01", "hr_db", flavor="mssql", schemas={"dbo": {"people": ["id"]}})
    base = "mssql://onprem01/MSSQLSERVER" if instance else "mssql://onprem01"
    assert {f"{base}", f"{base}/hr_db", f"{base}/hr_db/dbo", f"{base}/hr_db/dbo/people#id"} <= set(guids)


@pytest.mark.parametrize("behaviour", ["merge", "replace"])
def test_bm_group_post_merges_or_replaces(sim: PurviewSim, client: Client, estate: dict[str, str], behaviour: str) -> None:
    assert create_qualytics_def(client).status_code == 200
    table = estate[f"{SQL_DB}/dbo/transactions"]
    sim.set_business_metadata(table, "Governance", {"Owner": "finance-team"})
    sim.set_knobs(bm_group_post=behaviour)
    url = f"/datamap/api/atlas/v2/entity/guid/{table}/businessmetadata/Qualytics"
    assert client.call("POST", url, json={"QualityScore": 80.0, "AnomalyCount": 3}).status_code == 204
    assert client.call("POST", url, json={"AnomalyCount": 4}).status_code == 204
    expected = {"AnomalyCount": 4} if behaviour == "replace" else {"QualityScore": 80.0, "AnomalyCount": 4}
    assert sim.business_metadata(table) == {"Governance": {"Owner": "finance-team"}, "Qualytics": expected}


@pytest.mark.parametrize("with_business", [True, False])
def test_bulk_get_with_or_without_business_attributes(
    sim: PurviewSim, client: Client, estate: dict[str, str], with_business: bool
) -> None:
    table = estate[f"{SQL_DB}/dbo/transactions"]
    sim.set_business_metadata(table, "Governance", {"Owner": "finance-team"})
    sim.set_knobs(bulk_get_business_attributes=with_business)
    bulk = client.call("GET", "/datamap/api/atlas/v2/entity/bulk", params={"guid": table}).json()
    assert ("businessAttributes" in bulk["entities"][0]) is with_business
    single = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{table}").json()
    assert single["entity"]["businessAttributes"] == {"Governance": {"Owner": "finance-team"}}


@pytest.mark.parametrize("search_lags", [True, False])
def test_a_rescanned_entity_keeps_its_relations_and_search_may_lag(
    sim: PurviewSim, client: Client, estate: dict[str, str], search_lags: bool
) -> None:
    old = estate[f"{SQL_DB}/dbo"]
    new = sim.rescan(old, search_lags=search_lags)
    hits = client.search({"filter": {"attributeName": "qualifiedName", "operator": "eq", "attributeValue": f"{SQL_DB}/dbo"}})
    assert sorted(v["id"] for v in hits.json()["value"]) == sorted([old, new] if search_lags else [new])
    gone = client.call("GET", "/datamap/api/atlas/v2/entity/bulk", params={"guid": [old, new]})
    assert gone.status_code == 404 and gone.json()["errorCode"] == "ATLAS-404-00-005"
    schema = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{new}").json()["entity"]
    tables = {r["displayText"]: r["guid"] for r in schema["relationshipAttributes"]["tables"]}
    assert tables == {"transactions": estate[f"{SQL_DB}/dbo/transactions"], "accounts": estate[f"{SQL_DB}/dbo/accounts"]}
    table = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{tables['accounts']}").json()["entity"]
    assert table["relationshipAttributes"]["dbSchema"]["guid"] == new

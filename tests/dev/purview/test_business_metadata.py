"""The simulator's business metadata: group writes that keep other groups, isOverwrite=true replacing all,
value validation, applicability and permissions.
"""

from __future__ import annotations

from typing import Any

import pytest

from purview_sync.dev.purview import PurviewSim
from purview_sync.dev.tls import DevTLS
from tests.dev.purview.helpers import SQL_DB, Client, as_client, create_qualytics_def, make_token


@pytest.fixture
def bm_estate(sim: PurviewSim, client: Client, estate: dict[str, str]) -> str:
    assert create_qualytics_def(client).status_code == 200
    table = estate[f"{SQL_DB}/dbo/transactions"]
    sim.set_business_metadata(table, "Governance", {"Owner": "finance-team", "Tier": 1})
    return table


def test_bm_group_write_keeps_other_groups(sim: PurviewSim, client: Client, bm_estate: str) -> None:
    url = f"/datamap/api/atlas/v2/entity/guid/{bm_estate}/businessmetadata"
    resp = client.call("POST", f"{url}/Qualytics", json={"QualityScore": 87.5, "AnomalyCount": 3})
    assert resp.status_code == 204 and resp.content == b""
    assert sim.business_metadata(bm_estate) == {
        "Governance": {"Owner": "finance-team", "Tier": 1},
        "Qualytics": {"QualityScore": 87.5, "AnomalyCount": 3},
    }
    assert (
        client.call(
            "POST", url, params={"isOverwrite": "false"}, json={"Qualytics": {"AnomalyCount": 4}}
        ).status_code
        == 204
    )
    assert sim.business_metadata(bm_estate)["Qualytics"] == {"QualityScore": 87.5, "AnomalyCount": 4}
    assert "Governance" in sim.business_metadata(bm_estate)
    entity = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{bm_estate}").json()["entity"]
    assert entity["businessAttributes"]["Qualytics"]["AnomalyCount"] == 4
    found = client.search(
        {"filter": {"attributeName": "Qualytics.AnomalyCount", "operator": "ge", "attributeValue": 4}}
    ).json()
    assert [v["id"] for v in found["value"]] == [bm_estate]
    assert client.call("DELETE", f"{url}/Qualytics", json={"AnomalyCount": None}).status_code == 204
    assert sim.business_metadata(bm_estate)["Qualytics"] == {"QualityScore": 87.5}


def test_bm_overwrite_true_replaces_every_group(sim: PurviewSim, client: Client, bm_estate: str) -> None:
    """The danger the sync must avoid: isOverwrite=true deletes other teams' managed attributes."""
    url = f"/datamap/api/atlas/v2/entity/guid/{bm_estate}/businessmetadata"
    resp = client.call("POST", url, params={"isOverwrite": "true"}, json={"Qualytics": {"QualityScore": 90}})
    assert resp.status_code == 204
    assert sim.business_metadata(bm_estate) == {"Qualytics": {"QualityScore": 90}}
    assert any(c.query.get("isOverwrite") == ["true"] for c in sim.calls)  # visible to product tests


@pytest.mark.parametrize(
    ("group", "body", "code"),
    [
        ("Qualytics", {"NoSuchAttr": 1}, "ATLAS-400-00-023"),
        ("NoSuchGroup", {"x": 1}, "ATLAS-400-00-095"),
        ("Qualytics", {"AnomalyCount": "3"}, "ATLAS-400-00-028"),
        ("Qualytics", {"QualityScore": "87.5"}, "ATLAS-400-00-028"),
        ("Qualytics", {"AnomalyCount": 2.5}, "ATLAS-400-00-028"),
        ("Qualytics", {"QualyticsURL": "https://x.qualytics.io/very/long/path"}, "ATLAS-400-00-028"),
    ],
    ids=[
        "unknown-attr",
        "unknown-group",
        "string-into-int",
        "string-into-float",
        "fraction-into-int",
        "too-long",
    ],
)
def test_bm_validation(
    sim: PurviewSim, client: Client, bm_estate: str, group: str, body: dict[str, Any], code: str
) -> None:
    resp = client.call(
        "POST", f"/datamap/api/atlas/v2/entity/guid/{bm_estate}/businessmetadata/{group}", json=body
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["errorCode"] == code and resp.json()["requestId"]
    assert "Qualytics" not in sim.business_metadata(bm_estate)


def test_bm_not_applicable_and_permissions(
    sim: PurviewSim, tls: DevTLS, client: Client, bm_estate: str, estate: dict[str, str]
) -> None:
    view = estate[f"{SQL_DB}/dbo/v_balances"]
    resp = client.call(
        "POST",
        f"/datamap/api/atlas/v2/entity/guid/{view}/businessmetadata/Qualytics",
        json={"QualityScore": 1.0},
    )
    assert resp.status_code == 400 and resp.json()["errorCode"] == "ATLAS-400-00-095"
    schema = estate[f"{SQL_DB}/dbo"]  # QualityScore applies to schemas, AnomalyCount does not
    not_here = client.call(
        "POST",
        f"/datamap/api/atlas/v2/entity/guid/{schema}/businessmetadata/Qualytics",
        json={"AnomalyCount": 1},
    )
    assert not_here.status_code == 400
    reader = "a1a1a1a1-0000-4000-8000-0000000000a1"
    sim.grant(reader, "data_reader")
    denied = as_client(sim, tls, make_token(reader)).call(
        "POST",
        f"/datamap/api/atlas/v2/entity/guid/{bm_estate}/businessmetadata/Qualytics",
        json={"QualityScore": 1},
    )
    assert denied.status_code == 403 and denied.json()["errorCode"] == "ATLAS-403-00-001"
    gone = client.call(
        "POST",
        "/datamap/api/atlas/v2/entity/guid/00000000-0000-4000-8000-000000000000/businessmetadata/Qualytics",
        json={"QualityScore": 1},
    )
    assert gone.status_code == 404

"""The simulator's typedef routes: create, conflict, get and put; Atlas validation errors; writes that
need Data Curator on the root collection.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from purview_sync.dev.purview import PurviewSim
from purview_sync.dev.tls import DevTLS
from tests.dev.purview.helpers import QUALYTICS_DEF, Client, as_client, create_qualytics_def, make_token


def test_typedef_create_conflict_get_and_put(sim: PurviewSim, client: Client) -> None:
    path = "/datamap/api/atlas/v2/types/businessmetadatadef/name/Qualytics"
    absent = client.call("GET", path)
    assert absent.status_code == 404 and absent.json()["errorCode"] == "ATLAS-404-00-001"
    created = create_qualytics_def(client)
    assert created.status_code == 200
    bm = created.json()["businessMetadataDefs"][0]
    assert bm["category"] == "BUSINESS_METADATA" and bm["version"] == 1 and bm["guid"]
    conflict = create_qualytics_def(client)
    assert conflict.status_code == 409 and conflict.json()["errorCode"] == "ATLAS-409-00-001"
    fetched = client.call("GET", path).json()
    assert [a["name"] for a in fetched["attributeDefs"]] == ["QualityScore", "AnomalyCount", "QualyticsURL"]
    updated = copy.deepcopy(QUALYTICS_DEF)
    updated["attributeDefs"].append(
        {
            "name": "CheckCount",
            "typeName": "int",
            "isOptional": True,
            "options": {"applicableEntityTypes": json.dumps(["azure_sql_table"])},
        }
    )
    put = client.call("PUT", "/datamap/api/atlas/v2/types/typedefs", json={"businessMetadataDefs": [updated]})
    assert put.status_code == 200 and put.json()["businessMetadataDefs"][0]["version"] == 2
    dropped = copy.deepcopy(updated)
    dropped["attributeDefs"].pop(0)
    assert (
        client.call(
            "PUT", "/datamap/api/atlas/v2/types/typedefs", json={"businessMetadataDefs": [dropped]}
        ).status_code
        == 400
    )
    listing = client.call(
        "GET", "/datamap/api/atlas/v2/types/typedefs", params={"type": "business_metadata"}
    ).json()
    assert [d["name"] for d in listing["businessMetadataDefs"]] == ["Qualytics"] and listing[
        "entityDefs"
    ] == []
    headers = client.call("GET", "/datamap/api/atlas/v2/types/typedefs/headers").json()
    assert {"category": "BUSINESS_METADATA", "guid": bm["guid"], "name": "Qualytics"} in headers
    typedef = sim.typedef("Qualytics")
    assert typedef is not None and len(typedef["attributeDefs"]) == 4
    never = copy.deepcopy(QUALYTICS_DEF)
    never["name"] = "NeverCreated"
    assert (
        client.call(
            "PUT", "/datamap/api/atlas/v2/types/typedefs", json={"businessMetadataDefs": [never]}
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (lambda d: d.update(name="Qualytics-DQ"), 400, "ATLAS-400-00-019"),
        (
            lambda d: d["attributeDefs"][0]["options"].update(applicableEntityTypes=["azure_sql_table"]),
            400,
            None,
        ),
        (
            lambda d: d["attributeDefs"][0]["options"].update(applicableEntityTypes="azure_sql_table"),
            400,
            None,
        ),
        (lambda d: d["attributeDefs"][0]["options"].pop("applicableEntityTypes"), 400, "ATLAS-400-00-02B"),
        (lambda d: d["attributeDefs"][2]["options"].pop("maxStrLength"), 400, "ATLAS-400-00-02B"),
        (
            lambda d: d["attributeDefs"][0]["options"].update(applicableEntityTypes='["no_such_type"]'),
            404,
            "ATLAS-404-00-001",
        ),
        (lambda d: d["attributeDefs"][0].update(name="Quality Score"), 400, "ATLAS-400-00-09A"),
        (lambda d: d["attributeDefs"][0].update(typeName="azure_sql_table"), 400, "ATLAS-400-00-094"),
    ],
    ids=[
        "bad-name",
        "types-as-list",
        "types-not-json",
        "no-types",
        "no-maxStrLength",
        "unknown-type",
        "attr-space",
        "entity-typed-attr",
    ],
)
def test_typedef_validation(
    client: Client, change: Callable[[dict[str, Any]], Any], status: int, code: str | None
) -> None:
    bad = copy.deepcopy(QUALYTICS_DEF)
    change(bad)
    resp = client.call("POST", "/datamap/api/atlas/v2/types/typedefs", json={"businessMetadataDefs": [bad]})
    assert resp.status_code == status, resp.text
    assert set(resp.json()) == {"requestId", "errorCode", "errorMessage"}
    if code:
        assert resp.json()["errorCode"] == code
    assert (
        client.call("GET", "/datamap/api/atlas/v2/types/businessmetadatadef/name/Qualytics").status_code
        == 404
    )


def test_typedef_writes_need_root_curator(sim: PurviewSim, tls: DevTLS) -> None:
    sim.add_collection("fin01", "Finance")
    sub_curator = "f0f0f0f0-0000-4000-8000-00000000000f"
    sim.grant(sub_curator, "data_curator", collection="fin01")
    resp = create_qualytics_def(as_client(sim, tls, make_token(sub_curator)))
    assert resp.status_code == 403 and resp.json()["errorCode"] == "ATLAS-403-00-001"

"""The simulator's gate: token audience/tenant/expiry failures as gateway 401s, role-less principals as
403s, and the Account-plane collections routes that need collection_admin and page.
"""

from __future__ import annotations

from typing import Any

from purview_sync.dev.purview import PURVIEW_APP_ID, PurviewSim
from purview_sync.dev.tls import DevTLS
from tests.dev.purview.helpers import OTHER_TENANT, Client, as_client, make_token


def test_auth_failures_are_gateway_401s(sim: PurviewSim, tls: DevTLS) -> None:
    path = "/datamap/api/atlas/v2/types/typedefs/headers"
    cases = {
        "no token": None,
        "garbage": "not-a-jwt",
        "expired": make_token(expires_in=-60),
        "wrong tenant": make_token(tid=OTHER_TENANT),
        "wrong audience": make_token(aud="https://management.azure.com"),
    }
    for label, token in cases.items():
        resp = as_client(sim, tls, token).call("GET", path)
        assert resp.status_code == 401, label
        assert resp.headers["WWW-Authenticate"].startswith("Bearer"), label
        assert resp.json()["error"]["code"] == "Unauthorized", label
    assert as_client(sim, tls, make_token(aud=PURVIEW_APP_ID)).call("GET", path).status_code == 200


def test_principal_without_role_gets_403(sim: PurviewSim, tls: DevTLS) -> None:
    stranger = as_client(sim, tls, make_token("0f0f0f0f-0000-4000-8000-000000000001"))
    resp = stranger.search({"keywords": None})
    assert resp.status_code == 403
    assert resp.json() == {"error": {"code": "Unauthorized", "message": "Not authorized to access account"}}
    # roles can be granted to the object id as well as the client id
    sim.grant("11111111-aaaa-4bbb-8ccc-222222222222", "data_reader")
    by_oid = as_client(
        sim,
        tls,
        make_token("0f0f0f0f-0000-4000-8000-000000000001", oid="11111111-aaaa-4bbb-8ccc-222222222222"),
    )
    assert by_oid.search({"keywords": None}).status_code == 200


def test_collections_need_collection_admin_and_page(sim: PurviewSim, tls: DevTLS, client: Client) -> None:
    curator = "c0c0c0c0-0000-4000-8000-00000000000c"
    sim.grant(curator, "data_curator")
    resp = as_client(sim, tls, make_token(curator)).call(
        "GET", "/account/collections", params={"api-version": "2019-11-01-preview"}
    )
    assert resp.status_code == 403
    assert client.call("GET", "/account/collections").status_code == 400  # api-version is required
    for i in range(4):
        sim.add_collection(f"c{i:05d}", f"Team {i}", parent="c00000" if i else None)
    sim.collections_page_size = 2
    seen: list[dict[str, Any]] = []
    url: str | None = f"{sim.url}/account/collections?api-version=2019-11-01-preview"
    while url:
        page = client.get_url(url).json()
        seen += page["value"]
        url = page.get("nextLink")
    assert [c["name"] for c in seen] == ["contoso", "c00000", "c00001", "c00002", "c00003"]
    assert "parentCollection" not in seen[0]
    assert seen[2]["parentCollection"] == {"type": "CollectionReference", "referenceName": "c00000"}
    one = client.call("GET", "/account/collections/c00001", params={"api-version": "2019-11-01-preview"})
    assert one.status_code == 200 and one.json()["friendlyName"] == "Team 1"
    path = client.call(
        "GET", "/account/collections/c00001/getCollectionPath", params={"api-version": "2019-11-01-preview"}
    ).json()
    assert path["parentNameChain"] == ["contoso", "c00000"]
    missing = client.call("GET", "/account/collections/nope", params={"api-version": "2019-11-01-preview"})
    assert missing.status_code == 404 and "error" in missing.json()

"""Connect, read, edit and delete integrations through the devhost, against Azurite, the Entra simulator
(real azure-identity) and the Purview simulator."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from purview_sync.app.services import Services
from purview_sync.dev.local_env import (
    APP_CLIENT_ID,
    APP_CLIENT_SECRET,
    MI_USER_CLIENT_ID,
    TENANT_ID,
    LocalEnvironment,
)
from purview_sync.dev.purview import PurviewSim
from purview_sync.storage.clients import TABLES
from tests.conftest import Api


def new_app(local: LocalEnvironment, *roles: str, expired: bool = False) -> tuple[str, str]:
    """A fresh app registration in the tenant, granted ``roles`` in Purview."""
    client_id, secret = str(uuid.uuid4()), f"secret-{uuid.uuid4().hex}"
    assert local.entra and local.purview
    local.entra.add_app(TENANT_ID, client_id, secret, expired=expired)
    if roles:
        local.purview.grant(client_id, *roles)
    return client_id, secret


def connect(api: Api, local: LocalEnvironment, **overrides: object) -> dict:
    resp = api.post("/integrations", json=local.connect_body(**overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()


def error_of(resp) -> dict:
    body = resp.json()
    assert set(body) == {"error"}, body
    return body["error"]


def test_connect_with_client_secret(api: Api, local: LocalEnvironment) -> None:
    body = connect(api, local, domains=["fin01"], overwrite_tags=True)
    assert body["auth"] == "client_secret"
    assert body["purview_url"] == local.purview_url
    assert body["domains"] == ["fin01"] and body["event_driven"] is True and body["overwrite_tags"] is True
    assert body["last_sync"] is None and "client_secret" not in body
    assert api.get(f"/integrations/{body['id']}").json() == body
    assert body["id"] in [i["id"] for i in api.get("/integrations").json()["items"]]


def test_connect_with_managed_identity(api: Api, local: LocalEnvironment) -> None:
    system = connect(api, local, client_id=None, client_secret=None)
    assert system["auth"] == "managed_identity" and system["client_id"] is None
    user = connect(api, local, client_id=MI_USER_CLIENT_ID, client_secret=None)
    assert user["auth"] == "managed_identity" and user["client_id"] == MI_USER_CLIENT_ID
    assert local.entra is not None
    assert any(t["appid"] == MI_USER_CLIENT_ID for t in local.entra.tokens_issued)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"purview_url": "http://127.0.0.1:1"}, "purview_url"),
        ({"tenant_id": "not-a-guid"}, "tenant_id"),
        ({"domains": "fin01"}, "domains"),
        ({"event_driven": "sometimes"}, "event_driven"),
        ({"surprise": 1}, "surprise"),
        ({"client_id": None}, "client_secret"),
        ({"client_id": ""}, "client_id"),
    ],
)
def test_malformed_input_is_400_naming_the_field(
    api: Api, local: LocalEnvironment, overrides: dict, field: str
) -> None:
    before = len(api.get("/integrations").json()["items"])
    resp = api.post("/integrations", json=local.connect_body(**overrides))
    assert resp.status_code == 400
    err = error_of(resp)
    assert err["code"] == "validation_error" and err["field"] == field and field in err["message"]
    assert len(api.get("/integrations").json()["items"]) == before


def test_missing_body_and_bad_json(api: Api) -> None:
    assert error_of(api.post("/integrations", data=b"{oops"))["code"] == "validation_error"
    err = error_of(api.post("/integrations", json={}))
    assert err["code"] == "validation_error" and err["field"] in ("purview_url", "tenant_id")


def _expect_422(api: Api, body: dict, code: str) -> dict:
    before = len(api.get("/integrations").json()["items"])
    resp = api.post("/integrations", json=body)
    assert resp.status_code == 422, resp.text
    err = error_of(resp)
    assert err["code"] == code, err
    assert len(api.get("/integrations").json()["items"]) == before  # nothing stored
    return err


def test_wrong_and_expired_secret_are_authentication_failed(api: Api, local: LocalEnvironment) -> None:
    err = _expect_422(api, local.connect_body(client_secret="wrong"), "authentication_failed")
    assert err["aadsts"] == 7000215 and "secret" in err["message"].lower()
    client_id, secret = new_app(local, "data_curator", "collection_admin", expired=True)
    err = _expect_422(
        api, local.connect_body(client_id=client_id, client_secret=secret), "authentication_failed"
    )
    assert err["aadsts"] == 7000222 and "expired" in err["message"]


def test_tenant_mismatch(api: Api, local: LocalEnvironment) -> None:
    err = _expect_422(api, local.connect_body(client_id=str(uuid.uuid4())), "tenant_mismatch")
    assert err["aadsts"] == 700016
    err = _expect_422(api, local.connect_body(tenant_id=str(uuid.uuid4())), "tenant_mismatch")
    assert "Tenant ID" in err["message"]


def test_catalog_suffix_is_invalid_endpoint(api: Api, local: LocalEnvironment) -> None:
    err = _expect_422(api, local.connect_body(purview_url=local.purview_url + "/catalog"), "invalid_endpoint")
    assert "/catalog" in err["message"] and "remove" in err["message"]


def test_unreachable_endpoint_is_invalid_endpoint(api: Api, local: LocalEnvironment, monkeypatch) -> None:
    err = _expect_422(api, local.connect_body(purview_url="https://127.0.0.1:1"), "invalid_endpoint")
    assert "PURVIEW_ALLOWED_HOSTS" in err["message"]  # port 1 is not the allowed host:port


def test_no_token_reaches_a_host_that_is_not_allowed(api: Api, local: LocalEnvironment) -> None:
    assert local.tls and local.entra
    foreign = PurviewSim(local.tls, tenant_id=TENANT_ID, token_verifier=local.entra.verify).start()
    try:
        issued = len(local.entra.tokens_issued)
        err = _expect_422(api, local.connect_body(purview_url=foreign.url), "invalid_endpoint")
        assert "PURVIEW_ALLOWED_HOSTS" in err["message"]
        assert len(local.entra.tokens_issued) == issued  # not even minted
        assert sum(foreign.server.stats.values()) == 0  # and nothing was sent there
    finally:
        foreign.stop()


def test_missing_roles_are_insufficient_permissions(api: Api, local: LocalEnvironment) -> None:
    client_id, secret = new_app(local)  # no Purview role at all
    err = _expect_422(
        api, local.connect_body(client_id=client_id, client_secret=secret), "insufficient_permissions"
    )
    assert "Data Curator" in err["message"] and "Collection Admin" in err["message"]
    client_id, secret = new_app(local, "data_reader", "data_curator")  # no Collection Admin
    err = _expect_422(
        api, local.connect_body(client_id=client_id, client_secret=secret), "insufficient_permissions"
    )
    assert "collections" in err["message"] and "Collection Admin" in err["message"]


def test_unknown_domain_lists_the_valid_ones(api: Api, local: LocalEnvironment) -> None:
    err = _expect_422(api, local.connect_body(domains=["fin01", "Finance"]), "unknown_domain")
    assert err["unknown"] == ["Finance"] and {"fin01", "mkt02", "contoso"} <= set(err["valid"])


def test_collections_route(api: Api, local: LocalEnvironment) -> None:
    integration = connect(api, local)
    items = api.get(f"/integrations/{integration['id']}/collections").json()["items"]
    by_name = {c["name"]: c for c in items}
    assert by_name["fin01"]["friendly_name"] == "Finance" and by_name["fin01"]["parent"] == "contoso"


def test_unknown_and_odd_ids_are_404(api: Api) -> None:
    for odd in ["0" * 32, "nope", "x' or PartitionKey ne '", "%27%20or%201%20eq%201", "ünï"]:
        for method, path in [
            ("GET", ""),
            ("PATCH", ""),
            ("DELETE", ""),
            ("GET", "/collections"),
            ("GET", "/syncs"),
        ]:
            resp = api.call(method, f"/integrations/{odd}{path}", json={})
            assert resp.status_code == 404, (odd, method, path, resp.text)
            assert error_of(resp)["code"] == "not_found"


def test_routes_need_the_function_key(devhost, local: LocalEnvironment) -> None:
    import requests

    assert requests.get(f"{devhost.url}/api/integrations", timeout=10).status_code == 401
    assert (
        requests.post(f"{devhost.url}/api/integrations", json=local.connect_body(), timeout=10).status_code
        == 401
    )
    assert requests.get(f"{devhost.url}/api/health", timeout=10).status_code == 200


def test_failed_patch_keeps_the_old_config(api: Api, local: LocalEnvironment) -> None:
    integration = connect(api, local, domains=["fin01"])
    path = f"/integrations/{integration['id']}"
    resp = api.patch(path, json={"client_secret": "wrong-secret"})
    assert resp.status_code == 422 and error_of(resp)["code"] == "authentication_failed"
    resp = api.patch(path, json={"domains": ["nope"]})
    assert resp.status_code == 422 and error_of(resp)["code"] == "unknown_domain"
    assert api.get(path).json() == integration
    assert api.get(f"{path}/collections").status_code == 200  # the stored secret still works
    resp = api.patch(path, json={"event_driven": False, "domains": ["mkt02"]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["event_driven"] is False and resp.json()["domains"] == ["mkt02"]


def test_patch_switches_to_managed_identity_and_back(
    api: Api, local: LocalEnvironment, services: Services
) -> None:
    integration = connect(api, local)
    path = f"/integrations/{integration['id']}"
    resp = api.patch(path, json={"client_id": None})  # a client secret needs its client id (fuzz: was a 500)
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "client_id", resp.text
    assert api.get(path).json()["client_id"] == integration["client_id"]
    resp = api.patch(path, json={"client_secret": None, "client_id": None})
    assert resp.status_code == 200 and resp.json()["auth"] == "managed_identity"
    assert services.integrations.get(integration["id"]).secret_ref is None
    resp = api.patch(path, json={"client_id": APP_CLIENT_ID, "client_secret": APP_CLIENT_SECRET})
    assert resp.status_code == 200 and resp.json()["auth"] == "client_secret"
    assert api.get(f"{path}/collections").status_code == 200


def test_delete_removes_everything(api: Api, local: LocalEnvironment, services: Services) -> None:
    integration = connect(api, local)
    path = f"/integrations/{integration['id']}"
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert services.integrations.get(integration["id"]) is None
    assert api.delete(path).status_code == 404


def test_the_secret_is_nowhere(api: Api, local: LocalEnvironment, services: Services, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client_id, secret = new_app(local, "data_reader", "data_curator", "collection_admin")
    created = api.post("/integrations", json=local.connect_body(client_id=client_id, client_secret=secret))
    wrong = api.post(
        "/integrations", json=local.connect_body(client_id=client_id, client_secret=secret + "x")
    )
    responses = [created, wrong, api.get("/integrations"), api.get(f"/integrations/{created.json()['id']}")]
    for resp in responses:
        assert secret not in resp.text
    assert secret not in caplog.text
    stored = services.integrations.get(created.json()["id"])
    assert stored is not None and stored.secret_ref and secret not in stored.secret_ref
    for table in TABLES:
        for entity in services.storage.table(table).list_entities():
            assert secret not in json.dumps(dict(entity), default=str)

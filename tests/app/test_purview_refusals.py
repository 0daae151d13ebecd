"""What Purview's refusals and host quirks mean, at connect and during a sync (issue 13 points 10 and 15):
401 is a token problem (``tenant_mismatch`` when the account's challenge names another tenant, else
``authentication_failed``), 403 a missing role (``insufficient_permissions``); a host that refuses the older
account api-version is asked with ``2023-10-01-preview``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from purview_sync.clients import purview as purview_client
from purview_sync.dev.local_env import TENANT_ID, LocalEnvironment
from purview_sync.dev.purview import PurviewSim
from tests.conftest import Api
from tests.helpers import add_estate, datastore_entry, run_sync

OTHER_TENANT = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
ROLES = ("data_reader", "data_curator", "collection_admin")


def app_in(local: LocalEnvironment, tenant: str, *roles: str) -> tuple[str, str]:
    assert local.entra and local.purview
    client_id, secret = str(uuid.uuid4()), f"secret-{uuid.uuid4().hex}"
    local.entra.add_app(tenant, client_id, secret)
    if roles:
        local.purview.grant(client_id, *roles)
    return client_id, secret


def connect_error(api: Api, body: dict) -> dict:
    resp = api.post("/integrations", json=body)
    assert resp.status_code == 422, resp.text
    return resp.json()["error"]


@pytest.fixture
def purview(local: LocalEnvironment) -> Iterator[PurviewSim]:
    assert local.purview
    yield local.purview
    local.purview.tenant_id = TENANT_ID
    local.purview.server.set_faults(fail_kinds={})
    local.purview.set_knobs(refused_account_api_versions=frozenset())


def test_a_token_of_another_tenant_is_tenant_mismatch_at_connect(api: Api, local: LocalEnvironment) -> None:
    # an app of another tenant, even with every role: Purview answers 401 naming its own tenant
    client_id, secret = app_in(local, OTHER_TENANT, *ROLES)
    body = local.connect_body(tenant_id=OTHER_TENANT, client_id=client_id, client_secret=secret)
    err = connect_error(api, body)
    assert err["code"] == "tenant_mismatch", err
    assert TENANT_ID in err["message"] and OTHER_TENANT in err["message"]


def test_a_401_without_a_tenant_is_authentication_failed_and_403_a_missing_role(
    api: Api, local: LocalEnvironment, purview: PurviewSim
) -> None:
    purview.server.set_faults(fail_kinds={"search": 401})
    err = connect_error(api, local.connect_body())
    assert err["code"] == "authentication_failed" and "HTTP 401" in err["message"], err
    assert "token" in err["message"]
    purview.server.set_faults(fail_kinds={"search": 403})
    err = connect_error(api, local.connect_body())
    assert err["code"] == "insufficient_permissions" and "Data Curator" in err["message"], err


def test_during_a_sync_401_is_a_token_problem_and_403_a_role(
    api: Api, local: LocalEnvironment, purview: PurviewSim
) -> None:
    (ds,) = add_estate(local, [1])
    client_id, secret = app_in(local, TENANT_ID, *ROLES)
    resp = api.post("/integrations", json=local.connect_body(client_id=client_id, client_secret=secret))
    assert resp.status_code == 201, resp.text
    integration = resp.json()["id"]

    purview.tenant_id = OTHER_TENANT  # the account now lives elsewhere: every token is for the wrong tenant
    entry = datastore_entry(run_sync(api, integration, push=True, pull=False, datastore_ids=[ds]), ds)
    assert entry["status"] == "failed" and entry["reason"] == "tenant_mismatch", entry
    assert OTHER_TENANT in entry["errors"][0]["message"] and "Tenant ID" in entry["errors"][0]["action"]
    assert entry["attempts"] == 1  # not retried: another delivery would fail the same way

    purview.tenant_id = TENANT_ID
    purview.server.set_faults(fail_kinds={"search": 401})
    entry = datastore_entry(run_sync(api, integration, push=True, pull=False, datastore_ids=[ds]), ds)
    assert entry["reason"] == "authentication_failed" and "token" in entry["errors"][0]["action"], entry

    purview.server.set_faults(fail_kinds={})
    purview.revoke(client_id)  # the token is fine, the roles are gone
    entry = datastore_entry(run_sync(api, integration, push=True, pull=False, datastore_ids=[ds]), ds)
    assert entry["reason"] == "insufficient_permissions" and "Data Curator" in entry["errors"][0]["action"]


def test_a_host_refusing_the_older_account_api_version_still_connects(
    api: Api, local: LocalEnvironment, purview: PurviewSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(purview_client, "_account_versions", {})
    purview.set_knobs(refused_account_api_versions={"2019-11-01-preview"})
    start = len(purview.calls)
    resp = api.post("/integrations", json=local.connect_body(domains=["fin01"]))
    assert resp.status_code == 201, resp.text
    listed = api.get(f"/integrations/{resp.json()['id']}/collections")
    assert listed.status_code == 200 and "fin01" in {c["name"] for c in listed.json()["items"]}
    calls = list(purview.calls)[start:]
    versions = [c.query.get("api-version") for c in calls if c.path == "/account/collections"]
    # tried once, then remembered for this host
    assert versions == [["2019-11-01-preview"], ["2023-10-01-preview"], ["2023-10-01-preview"]]

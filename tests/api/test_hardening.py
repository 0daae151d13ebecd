"""Secrets and trust: a client secret never shows up in a response, a log line, a Table row or a queue
message — not even when Entra refuses it mid-sync — and a Purview token never reaches a host outside
PURVIEW_ALLOWED_HOSTS, redirects included."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from azure.storage.queue import QueueClient

from purview_sync.app.integrations import connect
from purview_sync.app.services import Services, get_services, reset_services
from purview_sync.clients.auth import make_credential
from purview_sync.clients.http import HttpError
from purview_sync.clients.purview import HostNotAllowedError, PurviewClient
from purview_sync.clients.qualytics import QualyticsClient
from purview_sync.dev.azurite import Azurite
from purview_sync.dev.local_env import TENANT_ID, LocalEnvironment
from purview_sync.dev.simserver import SimRequest, SimResponse, SimServer, json_response
from purview_sync.models import ConnectRequest, EventMessage, SyncRequest
from purview_sync.storage.clients import QUEUES, TABLES
from tests.conftest import Api
from tests.hardening import build_estate, services_on
from tests.helpers import run_sync


def new_app(local: LocalEnvironment) -> tuple[str, str]:
    assert local.entra and local.purview
    client_id, secret = str(uuid.uuid4()), f"hardening-secret-{uuid.uuid4().hex}"
    local.entra.add_app(TENANT_ID, client_id, secret)
    local.purview.grant(client_id, "data_reader", "data_curator", "collection_admin")
    return client_id, secret


def stored_text(services: Services) -> str:
    """Every Table row and every visible queue message of a storage account, as one string."""
    parts = []
    for table in TABLES:
        parts += [json.dumps(dict(e), default=str) for e in services.storage.table(table).list_entities()]
    for queue in QUEUES:
        parts += raw_messages(services, queue)
    return "\n".join(parts)


def raw_messages(services: Services, queue: str) -> list[str]:
    """Visible messages as stored (poison queues may hold text that is not Base64), and decoded."""
    assert services.settings.storage_connection
    services.storage.queue(queue)  # created if missing
    client = QueueClient.from_connection_string(services.settings.storage_connection, queue)
    texts = []
    for message in client.peek_messages(max_messages=32):
        texts.append(message.content)
        with contextlib.suppress(ValueError):
            texts.append(base64.b64decode(message.content, validate=True).decode("utf-8", "replace"))
    return texts


# --- the secret -------------------------------------------------------------------------------------------


def test_the_secret_stays_out_of_responses_logs_rows_and_runs(
    api: Api, local: LocalEnvironment, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # azure-identity, msal, urllib3 and ours, at their most talkative
    assert local.entra
    client_id, secret = new_app(local)
    estate = build_estate(local, [2])
    seen: list[requests.Response] = []

    def keep(resp: requests.Response) -> requests.Response:
        seen.append(resp)
        return resp

    created = keep(
        api.post("/integrations", json=local.connect_body(client_id=client_id, client_secret=secret))
    )
    assert created.status_code == 201, created.text
    iid = created.json()["id"]
    wrong = keep(
        api.post("/integrations", json=local.connect_body(client_id=client_id, client_secret=secret[:-1]))
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "authentication_failed"
    patched = keep(api.patch(f"/integrations/{iid}", json={"client_secret": secret + "-typo"}))
    assert patched.status_code == 422
    run = run_sync(api, iid, datastore_ids=[estate[0].id])
    assert run["status"] == "completed", run
    # the secret is rotated in Entra: the stored one is refused at the next sync
    local.entra.add_app(TENANT_ID, client_id, f"rotated-{uuid.uuid4().hex}")
    reset_services()  # forget the cached credential and its token, as a restarted or hour-later host would
    refused = run_sync(api, iid, timeout=90, datastore_ids=[estate[0].id])
    assert refused["status"] in ("completed_with_errors", "failed"), refused
    entry = refused["datastores"][0]
    # at once (a retry cannot fix a refused secret), naming what failed and what to do
    assert entry["status"] == "failed" and entry["reason"] == "authentication_failed", entry
    assert entry["attempts"] == 1, entry
    [error] = entry["errors"]
    assert "AADSTS7000215" in error["message"] and "PATCH" in error["action"], error
    assert "Error" not in error["message"], error  # no exception class names
    for resp in [*seen, api.get("/integrations"), api.get(f"/integrations/{iid}"),
                 api.get(f"/integrations/{iid}/syncs"), api.get(f"/integrations/{iid}/syncs/{refused['id']}")]:  # fmt: skip
        assert secret not in resp.text, resp.request.url
    assert "7000215" in caplog.text  # the azure-identity failure was logged …
    assert secret not in caplog.text  # … without the secret
    assert secret not in stored_text(services)


@pytest.fixture(scope="module")
def quiet_storage(local: LocalEnvironment) -> Iterator[Services]:
    """Services on an Azurite no host polls: queued messages stay there to be read."""
    with Azurite() as azurite:
        yield services_on(azurite.connection_string)


def test_the_secret_is_not_in_queued_messages(local: LocalEnvironment, quiet_storage: Services) -> None:
    from purview_sync.app import events, runs

    assert local.qualytics
    client_id, secret = new_app(local)
    body = ConnectRequest.model_validate(local.connect_body(client_id=client_id, client_secret=secret))
    integration = connect(quiet_storage, body)
    estate = build_estate(local, [1, 1])
    runs.start_sync(quiet_storage, integration.id, SyncRequest(datastore_ids=[d.id for d in estate]))
    events.accept(quiet_storage, EventMessage(type="scan_completed", datastore_id=estate[0].id,
                                              integration_id=integration.id))  # fmt: skip
    peeked = {queue: raw_messages(quiet_storage, queue) for queue in QUEUES}
    # two datastore messages and one event, each as stored and decoded
    assert len(peeked["purview-sync-datastore"]) == 4 and len(peeked["qualytics-events"]) == 2, peeked
    assert secret not in json.dumps(peeked)
    assert secret not in stored_text(quiet_storage)


# --- tokens and redirects ---------------------------------------------------------------------------------


def app_credential(local: LocalEnvironment) -> Any:
    body = local.connect_body()
    return make_credential(
        TENANT_ID, str(body["client_id"]), str(body["client_secret"]), get_services().settings
    )


@dataclass
class Foreign:
    """A host outside PURVIEW_ALLOWED_HOSTS that records whatever reaches it."""

    server: SimServer
    requests: list[SimRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, req: SimRequest) -> SimResponse:
        with self.lock:
            self.requests.append(req)
        return json_response({"value": [], "entities": []})

    @property
    def authorizations(self) -> list[str]:
        return [r.headers["authorization"] for r in self.requests if "authorization" in r.headers]


def catch_all(server: SimServer, handler: Callable[[SimRequest], SimResponse]) -> None:
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        server.route(method, "/{rest:path}", kind="any")(handler)


@pytest.fixture
def foreign(local: LocalEnvironment) -> Iterator[Foreign]:
    assert local.tls
    found = Foreign(SimServer("foreign", ssl_context=local.tls.server_context()))
    catch_all(found.server, found.record)
    found.server.start()
    yield found
    found.server.stop()


@pytest.fixture(params=[302, 307])
def redirector(
    request: pytest.FixtureRequest, local: LocalEnvironment, foreign: Foreign
) -> Iterator[SimServer]:
    """An allowed-looking Purview host that answers every call with a redirect to the foreign host."""
    assert local.tls
    server = SimServer("redirector", ssl_context=local.tls.server_context())
    seen: list[SimRequest] = []

    def redirect(req: SimRequest) -> SimResponse:
        seen.append(req)
        return SimResponse(request.param, None, {"Location": f"{foreign.server.url}{req.path}?stolen=1"})

    catch_all(server, redirect)
    server.start()
    server.seen = seen  # type: ignore[attr-defined]
    yield server
    server.stop()


def test_a_redirect_is_not_followed_with_the_token(
    local: LocalEnvironment, redirector: SimServer, foreign: Foreign
) -> None:
    client = PurviewClient(redirector.url, app_credential(local), [f"127.0.0.1:{redirector.port}"])
    calls = [
        client.probe,
        lambda: list(client.search({"collectionId": "fin01"})),
        lambda: list(client.get_entities(["g1", "g2"])),
        lambda: client.get_entity("g1"),
        lambda: client.write_business_metadata("g1", "Qualytics", {"QualityScore": 1.0}),
        lambda: client.get_business_metadata_def("Qualytics"),
        lambda: client.create_typedefs({"businessMetadataDefs": []}),
        lambda: list(client.list_collections()),
    ]
    try:
        for call in calls:
            with pytest.raises(HttpError) as caught:
                call()
            assert caught.value.status in (302, 307)
    finally:
        client.close()
    assert len(redirector.seen) == len(calls)  # type: ignore[attr-defined]
    assert all(r.headers.get("authorization", "").startswith("Bearer ") for r in redirector.seen)  # type: ignore[attr-defined]
    assert foreign.requests == [] and foreign.authorizations == []


def test_a_next_link_to_a_foreign_host_is_refused_before_sending(
    local: LocalEnvironment, foreign: Foreign
) -> None:
    assert local.tls
    pager = SimServer("pager", ssl_context=local.tls.server_context())
    pager.route("GET", "/account/collections")(
        lambda req: json_response(
            {"value": [{"name": "a"}], "nextLink": f"{foreign.server.url}/account/collections?page=2"}
        )
    )
    pager.start()
    client = PurviewClient(pager.url, app_credential(local), [f"127.0.0.1:{pager.port}"])
    try:
        with pytest.raises(HostNotAllowedError):
            list(client.list_collections())
        with pytest.raises(HostNotAllowedError):
            client.request(
                "GET", f"{foreign.server.url}/datamap/api/atlas/v2/entity/guid/x", kind="entity_get"
            )
        with pytest.raises(HostNotAllowedError):  # same host and port, but not https
            client.request("GET", f"http://127.0.0.1:{pager.port}/x", kind="entity_get")
    finally:
        client.close()
        pager.stop()
    assert foreign.requests == []


def test_connect_to_a_redirecting_host_is_refused_and_the_token_stays(
    api: Api,
    local: LocalEnvironment,
    redirector: SimServer,
    foreign: Foreign,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the HTTP API, with the redirector in PURVIEW_ALLOWED_HOSTS (the foreign host is not)."""
    assert local.purview
    allowed = f"127.0.0.1:{local.purview.server.port},127.0.0.1:{redirector.port}"
    monkeypatch.setenv("PURVIEW_ALLOWED_HOSTS", allowed)
    reset_services()
    try:
        resp = api.post("/integrations", json=local.connect_body(purview_url=redirector.url))
    finally:
        monkeypatch.undo()
        reset_services()
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid_endpoint"
    assert redirector.seen  # type: ignore[attr-defined]  # the allowed host was asked, with a token …
    assert foreign.requests == [] and foreign.authorizations == []  # … and the foreign one never


def test_the_qualytics_token_does_not_follow_a_redirect(foreign: Foreign) -> None:
    redirect = SimServer("qualytics-redirector")
    catch_all(redirect, lambda req: SimResponse(302, None, {"Location": f"{foreign.server.url}{req.path}"}))
    redirect.start()
    client = QualyticsClient(redirect.url + "/api", "qualytics-token")
    try:
        with pytest.raises(HttpError) as caught:
            list(client.list_datastores())
        assert caught.value.status == 302
    finally:
        client.close()
        redirect.stop()
    assert foreign.requests == []

"""Events a real Qualytics can send, through the devhost (POST /api/events and the qualytics-events queue): a
Flow's JSON with only datastore_name + datastore_link, a name alone, a text message with the link, the old
body; every malformed case answered (400 / poison at once), an unknown datastore accepted and dropped.

The Flow-shaped events name no integration (as a Flow cannot): every event-driven integration of the storage
gets the push. So those run on a devhost process with its own Azurite (the session's integrations stay out of
it) and are checked on the test's own integration and datastores."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.storage.queue import QueueClient

from purview_sync.app.services import Services
from purview_sync.dev.azurite import Azurite
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.storage.clients import QUEUE_EVENTS
from tests.app.test_events import connect, container_id, event_runs, score_in_purview, table_guid, wait_until
from tests.conftest import Api
from tests.hardening import HostProcess, services_on
from tests.helpers import add_estate, run_sync, wait_for_run

WINDOW_SECONDS = 2


def name_of(local: LocalEnvironment, datastore_id: int) -> str:
    assert local.qualytics
    return local.qualytics.datastores[datastore_id].name


def link(local: LocalEnvironment, datastore_id: int, suffix: str = "") -> str:
    assert local.qualytics
    return f"{local.qualytics.ui_url}/datastores/{datastore_id}{suffix}"


def rescore(local: LocalEnvironment, score: float, *datastores: int) -> None:
    assert local.qualytics
    for ds in datastores:
        local.qualytics.set_score("container", container_id(local, ds, "t0"), score)


def pushed_datastores(api: Api, integration: str) -> list[list[int]]:
    """The datastores of each event run of ``integration``, once the first has ended and the window passed."""
    wait_until(lambda: len(event_runs(api, integration)) >= 1, timeout=60, what="an event run")
    for run in event_runs(api, integration):
        wait_for_run(api, integration, run["id"])
    time.sleep(WINDOW_SECONDS + 1)  # a second push would be queued by now
    out = []
    for run in event_runs(api, integration):
        detail = wait_for_run(api, integration, run["id"])
        out.append(sorted(d["datastore_id"] for d in detail["datastores"]))
    return out


@pytest.fixture(scope="module")
def own_host(local: LocalEnvironment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    with Azurite() as azurite:
        env = {**local.env(), "AzureWebJobsStorage": azurite.connection_string,
               "DEVHOST_FUNCTION_KEY": "flow-test-key", "EVENT_COALESCE_SECONDS": str(WINDOW_SECONDS)}  # fmt: skip
        proc = HostProcess(env, tmp_path_factory.mktemp("flow") / "devhost.log").start()
        try:
            yield proc
        finally:
            proc.stop()


@pytest.fixture
def flow_api(own_host: HostProcess) -> Api:
    return own_host.api


@pytest.fixture
def pair(flow_api: Api, local: LocalEnvironment) -> tuple[str, int, int]:
    """On the own host: an integration with two datastores pushed once (score 70)."""
    first, second = add_estate(local, [1, 1])
    integration = connect(flow_api, local)
    run_sync(flow_api, integration, push=True, pull=False, datastore_ids=[first, second])
    assert score_in_purview(local, table_guid(local, first, "t0")) == 70.0
    return integration, first, second


def test_a_flow_body_with_only_name_and_link_pushes_exactly_that_datastore(
    flow_api: Api, local: LocalEnvironment, pair: tuple[str, int, int]
) -> None:
    integration, first, second = pair
    rescore(local, 41.5, first, second)
    body = {"datastore_name": name_of(local, first), "datastore_link": link(local, first)}
    resp = flow_api.post("/events", json=body)
    assert resp.status_code == 202, resp.text
    assert resp.json()["event"]["datastore_id"] == first
    wait_until(lambda: score_in_purview(local, table_guid(local, first, "t0")) == 41.5, what="the Flow push")
    assert pushed_datastores(flow_api, integration) == [[first]]
    assert score_in_purview(local, table_guid(local, second, "t0")) == 70.0  # the other one: untouched


def test_a_full_flow_message_and_a_name_alone(
    flow_api: Api, local: LocalEnvironment, pair: tuple[str, int, int]
) -> None:
    integration, first, second = pair
    rescore(local, 12.0, first, second)
    flow = {"flow_name": "Purview", "datastore_name": name_of(local, second), "operation_type": "scan",
            "operation_result": "success", "operation_message": "done", "extra": {"nested": [1, 2]}}  # fmt: skip
    resp = flow_api.post("/events", json=flow)  # no link: the name is resolved through the Qualytics API
    assert resp.status_code == 202, resp.text
    assert resp.json()["event"] == {"type": "scan_completed", "datastore_id": None,
                                    "datastore_name": name_of(local, second), "container_id": None,
                                    "integration_id": None}  # fmt: skip
    wait_until(lambda: score_in_purview(local, table_guid(local, second, "t0")) == 12.0, what="the name push")
    assert pushed_datastores(flow_api, integration) == [[second]]
    assert score_in_purview(local, table_guid(local, first, "t0")) == 70.0


def test_a_text_message_with_the_link_pushes_it(
    flow_api: Api, local: LocalEnvironment, pair: tuple[str, int, int]
) -> None:
    integration, first, _second = pair
    rescore(local, 23.0, first)
    text = f"Operation scan on {name_of(local, first)} completed: success. See {link(local, first)}"
    resp = flow_api.post("/events", data=text.encode(), headers={"content-type": "text/plain"})
    assert resp.status_code == 202, resp.text
    wait_until(lambda: score_in_purview(local, table_guid(local, first, "t0")) == 23.0, what="the text push")
    assert pushed_datastores(flow_api, integration) == [[first]]


def test_a_text_message_on_the_queue(
    flow_api: Api, own_host: HostProcess, local: LocalEnvironment, pair: tuple[str, int, int]
) -> None:
    integration, _first, second = pair
    rescore(local, 34.0, second)
    storage = services_on(own_host.env["AzureWebJobsStorage"]).storage
    storage.queue(QUEUE_EVENTS).send_message(f"scan finished {link(local, second)}")
    wait_until(
        lambda: score_in_purview(local, table_guid(local, second, "t0")) == 34.0, what="the queued text"
    )
    assert pushed_datastores(flow_api, integration) == [[second]]


def test_a_table_link_pushes_only_that_table(api: Api, local: LocalEnvironment) -> None:
    (ds,) = add_estate(local, [2])
    integration = connect(api, local)
    run_sync(api, integration, push=True, pull=False, datastore_ids=[ds])
    local.qualytics.set_score("container", container_id(local, ds, "t0"), 5.0)  # type: ignore[union-attr]
    local.qualytics.set_score("container", container_id(local, ds, "t1"), 6.0)  # type: ignore[union-attr]
    body = {
        "target_link": link(local, ds, f"/tables/{container_id(local, ds, 't1')}"),
        "integration_id": integration,
    }
    assert api.post("/events", json=body).status_code == 202
    wait_until(lambda: score_in_purview(local, table_guid(local, ds, "t1")) == 6.0, what="the table push")
    assert score_in_purview(local, table_guid(local, ds, "t0")) == 70.0


def test_the_old_body_still_works(flow_api: Api, local: LocalEnvironment, pair: tuple[str, int, int]) -> None:
    integration, first, _ = pair
    rescore(local, 55.0, first)
    body = {
        "type": "anomaly_updated",
        "datastore_id": first,
        "container_id": None,
        "integration_id": integration,
    }
    resp = flow_api.post("/events", json=body)
    assert resp.status_code == 202 and resp.json()["event"] == {**body, "datastore_name": None}
    wait_until(lambda: score_in_purview(local, table_guid(local, first, "t0")) == 55.0, what="the push")
    assert pushed_datastores(flow_api, integration) == [[first]]


MALFORMED: list[tuple[Any, str]] = [
    ([1, 2], "body"),
    ("just a string", "body"),
    (7, "body"),
    ({}, "datastore_id"),
    ({"type": "scan_completed", "operation_type": "scan"}, "datastore_id"),
    ({"datastore_id": "12"}, "datastore_id"),
    ({"datastore_id": 12.5}, "datastore_id"),
    ({"datastore_id": 1, "type": "scan"}, "type"),
    ({"datastore_name": "x", "type": "exploded"}, "type"),
    (b"scan finished, no link here", "body"),
]


@pytest.mark.parametrize(("body", "field"), MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_over_http_is_400(api: Api, body: Any, field: str) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = api.post("/events", data=raw, headers={"content-type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "validation_error" and resp.json()["error"]["field"] == field


def test_malformed_on_the_queue_is_poison_at_once(
    local: LocalEnvironment, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert local.azurite
    poison = QueueClient.from_connection_string(local.azurite.connection_string, QUEUE_EVENTS + "-poison")
    services.storage.queue(QUEUE_EVENTS + "-poison")
    poison.clear_messages()
    texts = [raw.decode() if isinstance(raw, bytes) else json.dumps(raw) for raw, _ in MALFORMED]
    for text in texts:
        services.storage.queue(QUEUE_EVENTS).send_message(text)
    expected = {base64.b64encode(t.encode()).decode() for t in texts}
    wait_until(lambda: {m.content for m in poison.peek_messages(32)} >= expected, what="every dead letter")
    assert caplog.text.count("malformed qualytics-events message dead-lettered") >= len(texts)
    assert "Failed, dequeue count" not in caplog.text  # not retried: dead-lettered by the first delivery


def test_an_unknown_datastore_is_accepted_logged_and_dropped(
    api: Api, local: LocalEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    (ds,) = add_estate(local, [1])
    integration = connect(api, local)
    bodies = [{"datastore_id": 987654321, "integration_id": integration},
              {"datastore_name": "no such datastore", "integration_id": integration},
              {"datastore_link": link(local, 987654322), "integration_id": integration}]  # fmt: skip
    for body in bodies:
        assert api.post("/events", json=body).status_code == 202
    wait_until(lambda: caplog.text.count("for unknown datastore") >= 3, what="three log lines")
    assert "'no such datastore'" in caplog.text and "987654322" in caplog.text
    time.sleep(2.5)  # the coalescing window: nothing follows
    assert event_runs(api, integration) == []
    assert ds  # the estate exists: only the unknown references were dropped

"""Event-driven push through the devhost: events update Purview within seconds, bursts coalesce, an event
during a sync is applied after it, event_driven off writes nothing, malformed messages are dead-lettered."""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

import pytest

from purview_sync.app.services import Services
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.storage.clients import QUEUE_EVENTS
from tests.conftest import Api
from tests.helpers import add_estate, run_sync, wait_for_run

SERVER = "sync-srv.database.windows.net"


def table_guid(local: LocalEnvironment, datastore_id: int, table: str) -> str:
    assert local.purview and local.qualytics
    db = local.qualytics.datastores[datastore_id].database
    return local.purview.guid_of(f"mssql://{SERVER}/{db}/dbo/{table}")


def score_in_purview(local: LocalEnvironment, guid: str) -> Any:
    assert local.purview
    return local.purview.business_metadata(guid).get("Qualytics", {}).get("QualityScore")


def container_id(local: LocalEnvironment, datastore_id: int, table: str) -> int:
    assert local.qualytics
    return next(c.id for c in local.qualytics.containers.values() if c.datastore_id == datastore_id and c.name == table)


def event_runs(api: Api, integration_id: str) -> list[dict[str, Any]]:
    runs = api.get(f"/integrations/{integration_id}/syncs").json()["items"]
    return [r for r in runs if r["options"].get("trigger") == "event"]


def wait_until(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def connect(api: Api, local: LocalEnvironment, **overrides: Any) -> str:
    resp = api.post("/integrations", json=local.connect_body(**overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def test_an_event_updates_that_datastore_only(api: Api, local: LocalEnvironment) -> None:
    assert local.qualytics
    first, second = add_estate(local, [1, 1])
    integration = connect(api, local)
    run_sync(api, integration, push=True, pull=False, datastore_ids=[first, second])
    guid_a, guid_b = table_guid(local, first, "t0"), table_guid(local, second, "t0")
    assert score_in_purview(local, guid_a) == 70.0
    local.qualytics.set_score("container", container_id(local, first, "t0"), 42.5)
    local.qualytics.set_score("container", container_id(local, second, "t0"), 11.0)
    resp = api.post("/events", json={"type": "scan_completed", "datastore_id": first, "integration_id": integration})
    assert resp.status_code == 202
    wait_until(lambda: score_in_purview(local, guid_a) == 42.5, what="the event push")
    assert score_in_purview(local, guid_b) == 70.0  # the other datastore was not pushed
    (event_run,) = event_runs(api, integration)
    assert event_run["options"]["pull"] is False
    assert event_run["trigger"] == "event"  # the run's own field, as GET /syncs shows it (RunSummary)
    runs = api.get(f"/integrations/{integration}/syncs").json()["items"]
    manual = [r for r in runs if r["id"] != event_run["id"]]
    assert manual and all(r["trigger"] == "manual" for r in manual)


def test_a_burst_of_events_becomes_one_push(api: Api, local: LocalEnvironment) -> None:
    (ds,) = add_estate(local, [1])
    integration = connect(api, local)
    for _ in range(50):
        assert api.post("/events", json={"type": "anomaly_updated", "datastore_id": ds,
                                         "integration_id": integration}).status_code == 202  # fmt: skip
    wait_until(lambda: len(event_runs(api, integration)) >= 1, what="the coalesced push")
    run = wait_for_run(api, integration, event_runs(api, integration)[0]["id"])
    assert run["status"] == "completed"
    time.sleep(3.0)  # longer than the coalescing window: no second push follows
    assert len(event_runs(api, integration)) == 1


def test_container_event_pushes_only_that_table(api: Api, local: LocalEnvironment) -> None:
    assert local.qualytics
    (ds,) = add_estate(local, [2])
    integration = connect(api, local)
    run_sync(api, integration, push=True, pull=False, datastore_ids=[ds])
    local.qualytics.set_score("container", container_id(local, ds, "t0"), 12.0)
    local.qualytics.set_score("container", container_id(local, ds, "t1"), 13.0)
    body = {"type": "scan_completed", "datastore_id": ds, "container_id": container_id(local, ds, "t1"),
            "integration_id": integration}  # fmt: skip
    assert api.post("/events", json=body).status_code == 202
    wait_until(lambda: score_in_purview(local, table_guid(local, ds, "t1")) == 13.0, what="the table push")
    assert score_in_purview(local, table_guid(local, ds, "t0")) == 70.0


def test_an_event_during_a_sync_is_applied_after_it(api: Api, local: LocalEnvironment) -> None:
    assert local.purview and local.qualytics
    slow, other = add_estate(local, [6, 1])
    integration = connect(api, local)
    run_sync(api, integration, push=True, pull=False, datastore_ids=[other])
    local.purview.server.set_faults(latency_s=0.1)
    try:
        resp = api.post(f"/integrations/{integration}/sync", json={"datastore_ids": [slow], "pull": False})
        assert resp.status_code == 202
        sync_id = resp.json()["id"]
        local.qualytics.set_score("container", container_id(local, other, "t0"), 33.0)
        assert api.post("/events", json={"type": "scan_completed", "datastore_id": other,
                                         "integration_id": integration}).status_code == 202  # fmt: skip
        sync = wait_for_run(api, integration, sync_id, timeout=120)
    finally:
        local.purview.server.set_faults(latency_s=0.0)
    wait_until(lambda: score_in_purview(local, table_guid(local, other, "t0")) == 33.0, what="the deferred push")
    (event_run,) = event_runs(api, integration)
    assert event_run["started_at"] >= sync["finished_at"]  # not beside the sync


def test_event_driven_off_writes_nothing(api: Api, local: LocalEnvironment, caplog: pytest.LogCaptureFixture) -> None:
    assert local.purview and local.qualytics
    caplog.set_level(logging.INFO)
    (ds,) = add_estate(local, [1])
    integration = connect(api, local, event_driven=False)
    run_sync(api, integration, push=True, pull=False, datastore_ids=[ds])
    local.qualytics.set_score("container", container_id(local, ds, "t0"), 21.0)
    assert api.post("/events", json={"type": "scan_completed", "datastore_id": ds,
                                     "integration_id": integration}).status_code == 202  # fmt: skip
    wait_until(lambda: "event_driven off" in caplog.text, what="the log line")
    time.sleep(3.0)
    assert score_in_purview(local, table_guid(local, ds, "t0")) == 70.0
    assert event_runs(api, integration) == []


def test_malformed_events(api: Api, local: LocalEnvironment, services: Services, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    resp = api.post("/events", json={"type": "exploded", "datastore_id": "x"})
    assert resp.status_code == 400 and resp.json()["error"]["field"] in ("type", "datastore_id")
    from azure.storage.queue import QueueClient

    assert local.azurite
    raw_queue = QueueClient.from_connection_string(local.azurite.connection_string, QUEUE_EVENTS)
    raw_poison = QueueClient.from_connection_string(local.azurite.connection_string, QUEUE_EVENTS + "-poison")
    services.storage.queue(QUEUE_EVENTS + "-poison")  # exists before we peek
    before = len(list(raw_poison.peek_messages(32)))
    services.storage.queue(QUEUE_EVENTS).send_message('{"type": "scan_completed"}')  # valid Base64, no datastore_id
    raw_queue.send_message("%%% not base64")  # the host cannot even decode it
    wait_until(lambda: len(list(raw_poison.peek_messages(32))) >= before + 2, what="both dead letters")
    contents = [m.content for m in raw_poison.peek_messages(32)]
    assert "%%% not base64" in contents
    assert base64.b64encode(b'{"type": "scan_completed"}').decode() in contents
    assert "malformed qualytics-events message" in caplog.text
    (ds,) = add_estate(local, [1])  # the loop keeps serving
    integration = connect(api, local)
    assert api.post("/events", json={"type": "check_archived", "datastore_id": ds,
                                     "integration_id": integration}).status_code == 202  # fmt: skip
    wait_until(lambda: len(event_runs(api, integration)) == 1, what="a push after the malformed ones")

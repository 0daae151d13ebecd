"""The sync frame end to end through the devhost: lock, fan-out, idempotent queue handler, cancel,
poison, lease take-over, run views."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from purview_sync.app.services import Services
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.models import now_iso
from purview_sync.storage.clients import QUEUE_DATASTORE
from purview_sync.storage.runs import DatastoreRow, Run
from tests.conftest import Api
from tests.helpers import add_estate, datastore_entry, run_sync, wait_for_release, wait_for_run


@pytest.fixture
def integration(api: Api, local: LocalEnvironment) -> str:
    resp = api.post("/integrations", json=local.connect_body())
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def test_a_run_of_several_datastores_completes_and_frees_the_lock(
    api: Api, local: LocalEnvironment, integration: str, services: Services
) -> None:
    assert local.qualytics
    file_ds = local.qualytics.add_datastore(f"files_{uuid.uuid4().hex[:6]}", type="s3", store_type="dfs")
    ids = add_estate(local, [2, 3, 1])
    run = run_sync(api, integration, push=True, pull=True, datastore_ids=[*ids, file_ds])
    assert run["status"] == "completed", run
    assert run["progress"]["datastores_total"] == 4 and run["progress"]["datastores_done"] == 4
    assert run["totals"]["tables_matched"] == 6 and run["totals"]["columns_matched"] == 12
    skipped = datastore_entry(run, file_ds)
    assert skipped["status"] == "skipped" and "file-based" in skipped["reason"]
    for ds in ids:
        assert datastore_entry(run, ds)["status"] == "completed"
    wait_for_release(services, integration)
    listed = api.get(f"/integrations/{integration}/syncs").json()["items"]
    assert listed[0]["id"] == run["id"] and "datastores" not in listed[0]
    assert api.get(f"/integrations/{integration}").json()["last_sync"]["id"] == run["id"]
    second = run_sync(api, integration, push=True, pull=False, datastore_ids=ids[:1])
    assert (
        api.get(f"/integrations/{integration}/syncs").json()["items"][0]["id"] == second["id"]
    )  # newest first


def test_twenty_concurrent_starts_give_exactly_one_run(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    assert local.purview
    ids = add_estate(local, [1])
    local.purview.server.set_faults(latency_s=0.3)  # the run outlives the burst of starts
    try:
        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(lambda _: api.post(f"/integrations/{integration}/sync",
                                                         json={"datastore_ids": ids}), range(20)))  # fmt: skip
    finally:
        local.purview.server.set_faults(latency_s=0.0)
    accepted = [r for r in responses if r.status_code == 202]
    assert len(accepted) == 1, [r.status_code for r in responses]
    run_id = accepted[0].json()["id"]
    for resp in responses:
        if resp.status_code != 202:
            assert resp.status_code == 409
            assert resp.json()["error"] == {
                **resp.json()["error"],
                "code": "sync_in_progress",
                "run_id": run_id,
            }
    assert wait_for_run(api, integration, run_id)["status"] == "completed"


def test_sync_body_errors(api: Api, integration: str) -> None:
    resp = api.post(f"/integrations/{integration}/sync", json={"pull": False, "push": False})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "validation_error"
    resp = api.post(f"/integrations/{integration}/sync", json={"datastore_ids": [987654321]})
    assert resp.status_code == 400 and "987654321" in resp.json()["error"]["message"]
    resp = api.post(f"/integrations/{integration}/cancel")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "no_sync_in_progress"
    assert api.get(f"/integrations/{integration}/syncs/{'0' * 32}").status_code == 404


def test_a_run_with_no_database_datastore_completes_at_once(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    assert local.qualytics
    file_ds = local.qualytics.add_datastore(f"files_{uuid.uuid4().hex[:6]}", type="gcs", store_type="dfs")
    resp = api.post(f"/integrations/{integration}/sync", json={"datastore_ids": [file_ds]})
    assert resp.status_code == 202 and resp.json()["status"] == "completed"
    assert api.post(f"/integrations/{integration}/sync", json={"datastore_ids": [file_ds]}).status_code == 202


def test_cancel_stops_after_the_datastores_in_progress(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    assert local.purview
    ids = add_estate(local, [1, 6, 2, 8, 3, 7, 1, 5, 2, 6])
    local.purview.server.set_faults(latency_s=0.05)
    try:
        resp = api.post(f"/integrations/{integration}/sync", json={"datastore_ids": ids, "pull": False})
        assert resp.status_code == 202
        run_id = resp.json()["id"]
        deadline = time.monotonic() + 60
        while (
            api.get(f"/integrations/{integration}/syncs/{run_id}").json()["progress"]["datastores_done"] < 1
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        cancelled = api.post(f"/integrations/{integration}/cancel")
        assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelling"
        run = wait_for_run(api, integration, run_id, timeout=120)
    finally:
        local.purview.server.set_faults(latency_s=0.0)
    assert run["status"] == "cancelled"
    statuses = [d["status"] for d in run["datastores"]]
    assert set(statuses) <= {"completed", "cancelled"} and "cancelled" in statuses and "completed" in statuses
    assert run["progress"]["datastores_done"] == len(ids)
    assert api.post(f"/integrations/{integration}/sync", json={"datastore_ids": ids[:1]}).status_code == 202


def test_a_redelivered_message_changes_nothing(
    api: Api, local: LocalEnvironment, integration: str, services: Services
) -> None:
    assert local.purview
    ids = add_estate(local, [2])
    run = run_sync(api, integration, push=True, pull=True, datastore_ids=ids)
    writes_before = sum(v for k, v in local.purview.server.stats.items() if "business" in k)
    message = {
        "integration_id": integration,
        "run_id": run["id"],
        "datastore_id": ids[0],
        "pull": True,
        "push": True,
    }
    services.storage.enqueue(QUEUE_DATASTORE, message)
    queue = services.storage.queue(QUEUE_DATASTORE)
    deadline = time.monotonic() + 30
    while queue.get_queue_properties().approximate_message_count or next(iter(queue.peek_messages(1)), None):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)  # the handler ran (it is quick for a finished datastore)
    again = api.get(f"/integrations/{integration}/syncs/{run['id']}").json()
    assert again == run
    assert sum(v for k, v in local.purview.server.stats.items() if "business" in k) == writes_before


def test_a_failing_datastore_poisons_and_the_run_still_ends(
    api: Api, local: LocalEnvironment, integration: str, services: Services
) -> None:
    assert local.purview
    ids = add_estate(local, [1, 1])
    local.purview.server.set_faults(fail_kinds={"search": 400})  # not retried by the client, not permanent
    try:
        run = run_sync(api, integration, push=True, pull=False, datastore_ids=ids, timeout=120)
    finally:
        local.purview.server.set_faults(fail_kinds={})
    assert run["status"] == "completed_with_errors"
    for ds in ids:
        entry = datastore_entry(run, ds)
        assert entry["status"] == "failed" and entry["attempts"] == 5, entry
        assert "400" in entry["errors"][0]["message"] and entry["errors"][0]["action"]
    assert run["totals"]["errors"] >= 2
    wait_for_release(services, integration)
    poison = services.storage.queue(QUEUE_DATASTORE + "-poison")
    deadline = time.monotonic() + 10
    while sum(run["id"] in m.content for m in poison.peek_messages(32)) < 2:
        assert time.monotonic() < deadline, "both messages end in the poison queue"
        time.sleep(0.2)


def test_a_permanent_failure_ends_the_datastore_at_once(
    api: Api, local: LocalEnvironment, integration: str, services: Services
) -> None:
    assert local.qualytics
    ids = add_estate(local, [1])
    good_token = local.qualytics.token
    resp = api.post(f"/integrations/{integration}/sync", json={"datastore_ids": ids, "pull": False})
    assert resp.status_code == 202
    local.qualytics.token = "rotated"  # every Qualytics read of the queue handler now answers 401
    try:
        run = wait_for_run(api, integration, resp.json()["id"], timeout=60)
    finally:
        local.qualytics.token = good_token
    entry = datastore_entry(run, ids[0])
    assert run["status"] == "completed_with_errors"
    assert entry["status"] == "failed" and entry["attempts"] == 1 and entry["reason"] == "qualytics_unauthorized"
    assert "QUALYTICS_API_TOKEN" in entry["errors"][0]["action"]
    wait_for_release(services, integration)


def test_an_expired_lease_is_taken_over(
    api: Api, local: LocalEnvironment, integration: str, services: Services
) -> None:
    ids = add_estate(local, [1])
    crashed = Run(id=uuid.uuid4().hex, integration_id=integration, status="running",
                  options={"pull": True, "push": True}, started_at=now_iso(), datastores_total=1)  # fmt: skip
    services.syncs.create_run(crashed, [DatastoreRow(run_id=crashed.id, datastore_id=ids[0], name="x")])
    taken, _ = services.syncs.try_lock(integration, crashed.id, ttl=-1)  # a lease that has already expired
    assert taken
    run = run_sync(api, integration, push=True, pull=False, datastore_ids=ids)
    assert run["status"] == "completed"
    old = api.get(f"/integrations/{integration}/syncs/{crashed.id}").json()
    assert old["status"] == "failed" and "lease expired" in old["reason"] and run["id"] in old["reason"]
    assert old["datastores"][0]["status"] == "failed"


def test_a_lock_whose_run_has_ended_does_not_block_the_next_sync(
    api: Api, local: LocalEnvironment, integration: str, services: Services
) -> None:
    """The finisher writes the run's end, then ``last_sync``, then frees the lock: a client that saw the run
    end and starts the next sync in between must not get 409."""
    ids = add_estate(local, [1])
    first = run_sync(api, integration, push=True, pull=False, datastore_ids=ids)
    assert first["status"] == "completed"
    wait_for_release(services, integration)
    assert services.syncs.try_lock(integration, first["id"], ttl=300)[0]  # as if not yet released
    second = run_sync(api, integration, push=True, pull=False, datastore_ids=ids)
    assert second["status"] == "completed" and second["id"] != first["id"]
    assert api.get(f"/integrations/{integration}/syncs/{first['id']}").json()["status"] == "completed"


def test_a_live_lease_blocks_and_delete_refuses(
    api: Api, local: LocalEnvironment, services: Services
) -> None:
    integration = api.post("/integrations", json=local.connect_body()).json()["id"]
    holder = uuid.uuid4().hex
    assert services.syncs.try_lock(integration, holder, ttl=300)[0]
    resp = api.post(f"/integrations/{integration}/sync", json={})
    assert resp.status_code == 409 and resp.json()["error"]["run_id"] == holder
    resp = api.delete(f"/integrations/{integration}")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "sync_in_progress"
    services.syncs.release_lock(integration, holder)
    assert api.delete(f"/integrations/{integration}").status_code == 204

"""Crash: the devhost, run as a real process, is SIGKILLed in the middle of a sync and started again; the
run finishes with the same end state as an uninterrupted run of an identical estate, and frees its lock.

The killed host uses its own Azurite so that the session's in-process devhost cannot take its messages."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from purview_sync.dev.azurite import Azurite
from purview_sync.dev.local_env import LocalEnvironment
from tests.conftest import Api
from tests.hardening import HostProcess, build_estate, comparable, end_state, services_on, wait_for_run
from tests.helpers import run_sync, wait_for_release

LEASE_SECONDS = 3
LOCK_TTL_SECONDS = 15


def host_env(local: LocalEnvironment, azurite: Azurite) -> dict[str, str]:
    return {
        **local.env(),
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_FUNCTION_KEY": "crash-test-key",
        "DEVHOST_MESSAGE_LEASE_SECONDS": str(LEASE_SECONDS),
        "SYNC_LOCK_TTL_SECONDS": str(LOCK_TTL_SECONDS),
        "EVENT_COALESCE_SECONDS": "2",
    }


@pytest.mark.timeout(120)
def test_a_host_killed_mid_run_finishes_the_run_after_a_restart(
    api: Api, local: LocalEnvironment, own_azurite: Azurite, tmp_path: Path
) -> None:
    assert local.purview
    shape = [3, 3, 3, 3, 3, 3]  # more datastores than host.json's batchSize (4): some wait in the queue
    reference, crashed = build_estate(local, shape), build_estate(local, shape)

    # the reference: an uninterrupted run (the session's in-process devhost)
    resp = api.post("/integrations", json=local.connect_body())
    assert resp.status_code == 201, resp.text
    ref_run = run_sync(api, resp.json()["id"], timeout=60, datastore_ids=[d.id for d in reference])
    assert ref_run["status"] == "completed", ref_run

    host = HostProcess(host_env(local, own_azurite), tmp_path / "devhost.log").start()
    storage = services_on(own_azurite.connection_string)
    try:
        resp = host.api.post("/integrations", json=local.connect_body())
        assert resp.status_code == 201, resp.text
        iid = resp.json()["id"]
        local.purview.server.set_faults(latency_s=0.15)  # slow enough to be caught in the middle
        resp = host.api.post(f"/integrations/{iid}/sync", json={"datastore_ids": [d.id for d in crashed]})
        assert resp.status_code == 202, resp.text
        run_id = resp.json()["id"]
        deadline = time.monotonic() + 40
        while True:  # kill once some datastores are done and others are in the middle of their work
            rows = storage.syncs.datastore_rows(iid, run_id)
            done = sum(r.finished for r in rows)
            if done >= 1 and any(r.status == "running" for r in rows) and done < len(rows):
                break
            assert time.monotonic() < deadline, f"the run never got half-way: {[r.status for r in rows]}"
            time.sleep(0.05)
        host.kill()
        before = {r.datastore_id: r.status for r in storage.syncs.datastore_rows(iid, run_id)}
        assert "running" in before.values() and storage.syncs.get_run(iid, run_id).status == "running"
        assert storage.syncs.read_lock(iid) is not None  # held by the dead host
        host.start()
        run = wait_for_run(host.api, iid, run_id, timeout=60)
    finally:
        local.purview.server.set_faults(latency_s=0.0)
        host.stop()

    assert run["status"] == "completed", run
    assert comparable(run) == comparable(ref_run)
    assert end_state(local, crashed) == end_state(local, reference)
    redone = [d for d in run["datastores"] if before[d["datastore_id"]] == "running"]
    assert redone and all(d["attempts"] >= 2 for d in redone), run["datastores"]  # the redelivery did it
    wait_for_release(storage, iid)  # and the lock is freed
    assert storage.storage.queue("purview-sync-datastore-poison").peek_messages() == []

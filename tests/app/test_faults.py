"""Faults: a throttling and flaky Purview, a Purview slower than the client timeout, a failing Qualytics and
a storage restart between datastores. Every run ends — correct, or ``completed_with_errors`` naming what
failed and what to do — and frees its lock; every test is bounded (< 60 s)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from purview_sync.app.services import Services
from purview_sync.clients import http as http_client
from purview_sync.clients.http import reset_limiters
from purview_sync.dev.azurite import Azurite
from purview_sync.dev.local_env import LocalEnvironment
from tests.conftest import Api
from tests.hardening import (
    HostProcess,
    build_estate,
    comparable,
    end_state,
    services_on,
    wait_for_run,
)
from tests.helpers import run_sync, set_time_budget, wait_for_release


@pytest.fixture
def integration(api: Api, local: LocalEnvironment) -> str:
    resp = api.post("/integrations", json=local.connect_body())
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


@pytest.fixture
def healthy_afterwards(local: LocalEnvironment) -> Iterator[None]:
    """Whatever a test breaks is mended: simulator faults off, the process's Purview pacing forgotten."""
    yield
    assert local.purview and local.qualytics
    local.purview.server.set_faults(latency_s=0.0, rate_limit_per_s=None, error_rate=0.0)
    local.qualytics.set_faults(latency_s=0.0, rate_limit_per_s=None, error_rate=0.0)
    reset_limiters()


def reference_run(api: Api, local: LocalEnvironment, shape: list[int]) -> tuple[dict, list]:
    """An identical estate synced with nothing broken: the values a faulty run must end with."""
    estate = build_estate(local, shape)
    resp = api.post("/integrations", json=local.connect_body())
    assert resp.status_code == 201, resp.text
    run = run_sync(api, resp.json()["id"], datastore_ids=[d.id for d in estate])
    assert run["status"] == "completed", run
    return run, end_state(local, estate)


def assert_ended_cleanly(services: Services, integration: str, run: dict) -> None:
    assert run["finished_at"] and run["progress"]["datastores_done"] == run["progress"]["datastores_total"]
    wait_for_release(services, integration)
    for entry in run["datastores"]:
        if entry["status"] == "failed":
            assert entry["reason"] and entry["errors"], entry
            for error in entry["errors"]:
                assert error["message"] and error["action"], error


def fault_counts(stats: dict[str, int], before: dict[str, int]) -> tuple[int, int]:
    delta = {k: v - before.get(k, 0) for k, v in stats.items()}
    throttled = sum(v for k, v in delta.items() if k.endswith(":429"))
    failed = sum(v for k, v in delta.items() if k.endswith((":500", ":502", ":503")))
    return throttled, failed


@pytest.mark.timeout(60)
def test_a_throttling_and_flaky_purview_still_ends_with_the_right_values(
    api: Api, local: LocalEnvironment, integration: str, services: Services, healthy_afterwards: None
) -> None:
    """A 429 storm (a 4 req/s token bucket, Retry-After) with 10 % random 500/502/503 on top."""
    assert local.purview
    shape = [3, 3]
    ref_run, ref_state = reference_run(api, local, shape)
    estate = build_estate(local, shape)
    before = dict(local.purview.server.stats)
    local.purview.server.set_faults(rate_limit_per_s=4, rate_burst=2, error_rate=0.1, seed=11)
    run = run_sync(api, integration, timeout=50, datastore_ids=[d.id for d in estate])
    local.purview.server.set_faults(rate_limit_per_s=None, error_rate=0.0)
    throttled, failed = fault_counts(dict(local.purview.server.stats), before)
    assert throttled >= 5 and failed >= 2, (throttled, failed)  # the storm really happened …
    assert run["status"] == "completed", run  # … and was ridden out
    assert comparable(run) == comparable(ref_run)
    assert end_state(local, estate) == ref_state
    assert_ended_cleanly(services, integration, run)


@pytest.mark.timeout(60)
def test_a_purview_slower_than_the_client_timeout_fails_the_datastores_in_time(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    services: Services,
    healthy_afterwards: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every call outlasts the client timeout; the retries stop at the datastore's time budget and the
    datastore ends ``failed`` at once (no redelivery spends the budget again). Both limits are shortened
    here: 30 s per call (``http_client.DEFAULT_TIMEOUT_SECONDS``) and 20 min per datastore in production."""
    assert local.purview
    monkeypatch.setattr(http_client, "DEFAULT_TIMEOUT_SECONDS", 0.5)
    set_time_budget(monkeypatch, 5)
    estate = build_estate(local, [2, 2])
    local.purview.server.set_faults(latency_s=1.5)
    started = time.monotonic()
    run = run_sync(api, integration, timeout=40, datastore_ids=[d.id for d in estate])
    elapsed = time.monotonic() - started
    local.purview.server.set_faults(latency_s=0.0)
    assert run["status"] == "completed_with_errors", run
    assert_ended_cleanly(services, integration, run)
    for entry in run["datastores"]:
        assert entry["status"] == "failed" and entry["reason"] == "throttled", entry
        assert entry["attempts"] == 1, entry
        [error] = entry["errors"]
        assert "purview" in error["message"] and "again later" in error["action"], error
    assert elapsed < 20, elapsed  # one budget, not one per delivery


@pytest.mark.timeout(60)
def test_a_flaky_qualytics_still_ends_with_the_right_values(
    api: Api, local: LocalEnvironment, integration: str, services: Services, healthy_afterwards: None
) -> None:
    assert local.qualytics
    shape = [2, 2]
    ref_run, ref_state = reference_run(api, local, shape)
    estate = build_estate(local, shape)
    local.qualytics.set_faults(error_rate=0.25, seed=5)
    run = run_sync(api, integration, timeout=50, datastore_ids=[d.id for d in estate])
    local.qualytics.set_faults(error_rate=0.0)
    assert run["status"] == "completed", run
    assert comparable(run) == comparable(ref_run)
    assert end_state(local, estate) == ref_state
    assert_ended_cleanly(services, integration, run)


@pytest.mark.timeout(60)
def test_a_qualytics_outage_is_a_502_at_start_and_a_named_failure_mid_run(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    services: Services,
    healthy_afterwards: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert local.qualytics
    set_time_budget(monkeypatch, 4)
    estate = build_estate(local, [1, 1])
    ids = [d.id for d in estate]
    local.qualytics.set_faults(error_rate=1.0)
    started = time.monotonic()
    resp = api.post(f"/integrations/{integration}/sync", json={"datastore_ids": ids})
    assert time.monotonic() - started < 10  # the HTTP call answers fast …
    assert resp.status_code == 502, resp.text  # … with the cause, not an internal error
    error = resp.json()["error"]
    assert error["code"] == "qualytics_unavailable" and "QUALYTICS_API_URL" in error["message"], error
    assert services.syncs.read_lock(integration) is None  # nothing was started

    # Qualytics lists the datastores, then fails everything else
    local.qualytics.server.exempt_from_faults = lambda req: req.path.rstrip("/").endswith("/datastores")
    try:
        run = run_sync(api, integration, timeout=40, datastore_ids=ids)
    finally:
        local.qualytics.server.exempt_from_faults = lambda req: False
    assert run["status"] == "completed_with_errors", run
    assert_ended_cleanly(services, integration, run)
    for entry in run["datastores"]:
        assert entry["status"] == "failed" and entry["reason"] == "throttled", entry
        assert "qualytics" in entry["errors"][0]["message"], entry


# --- storage restart ----------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_storage_restart_between_datastores(
    api: Api, local: LocalEnvironment, tmp_path: Path, healthy_afterwards: None
) -> None:
    """Azurite (persisting to disk) is stopped after the first datastores finished and started again a
    few seconds later, under a devhost process that keeps running: the run finishes as if nothing
    happened."""
    assert local.purview
    shape = [2, 2, 2, 2, 2, 2]
    ref_run, ref_state = reference_run(api, local, shape)
    estate = build_estate(local, shape)
    azurite = Azurite(location=tmp_path / "azurite").start()
    env = {
        **local.env(),
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_FUNCTION_KEY": "restart-test-key",
        "DEVHOST_MESSAGE_LEASE_SECONDS": "3",
        "SYNC_LOCK_TTL_SECONDS": "30",
    }
    host = HostProcess(env, tmp_path / "devhost.log").start()
    storage = services_on(azurite.connection_string)
    try:
        resp = host.api.post("/integrations", json=local.connect_body())
        assert resp.status_code == 201, resp.text
        iid = resp.json()["id"]
        local.purview.server.set_faults(latency_s=0.1)
        resp = host.api.post(f"/integrations/{iid}/sync", json={"datastore_ids": [d.id for d in estate]})
        assert resp.status_code == 202, resp.text
        run_id = resp.json()["id"]
        deadline = time.monotonic() + 30
        while not any(r.finished for r in storage.syncs.datastore_rows(iid, run_id)):
            assert time.monotonic() < deadline, "no datastore finished"
            time.sleep(0.05)
        azurite.stop()
        time.sleep(3)
        azurite.start()
        run = wait_for_run(host.api, iid, run_id, timeout=40)
        local.purview.server.set_faults(latency_s=0.0)
        assert run["status"] == "completed", run
        assert comparable(run) == comparable(ref_run)
        assert end_state(local, estate) == ref_state
        wait_for_release(storage, iid)
    finally:
        host.stop()
        azurite.stop()

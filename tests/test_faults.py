"""Faults: a throttling and flaky Purview, a Purview slower than the client timeout, a failing Qualytics and
a storage restart between datastores. Every run ends — correct, or ``completed_with_errors`` naming what
failed and what to do — and frees its lock; every test is bounded (< 60 s)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from purview_sync import coordinator, http_client
from purview_sync.dev.azurite import Azurite
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.http_client import reset_limiters
from purview_sync.services import Services
from tests.conftest import Api
from tests.hardening import (
    HostProcess,
    build_estate,
    comparable,
    end_state,
    services_on,
    wait_for_run,
)
from tests.helpers import run_sync


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
    assert services.syncs.read_lock(integration) is None
    for entry in run["datastores"]:
        if entry["status"] == "failed":
            assert entry["reason"] and entry["errors"], entry
            for error in entry["errors"]:
                assert error["message"] and error["action"], error


@pytest.mark.timeout(60)
def test_a_throttling_and_flaky_purview_still_ends_with_the_right_values(
    api: Api, local: LocalEnvironment, integration: str, services: Services, healthy_afterwards: None
) -> None:
    assert local.purview
    shape = [3, 3]
    ref_run, ref_state = reference_run(api, local, shape)
    estate = build_estate(local, shape)
    local.purview.server.set_faults(rate_limit_per_s=8, rate_burst=4, error_rate=0.1, seed=11)
    started = time.monotonic()
    run = run_sync(api, integration, timeout=50, datastore_ids=[d.id for d in estate])
    elapsed = time.monotonic() - started
    stats = dict(local.purview.server.stats)
    local.purview.server.set_faults(rate_limit_per_s=None, error_rate=0.0)
    throttled = sum(v for k, v in stats.items() if k.endswith(":429"))
    failed = sum(v for k, v in stats.items() if k.endswith((":500", ":502", ":503")))
    assert throttled >= 5 and failed >= 2, stats  # the storm really happened …
    assert run["status"] == "completed", run  # … and was ridden out
    assert comparable(run) == comparable(ref_run)
    assert end_state(local, estate) == ref_state
    assert_ended_cleanly(services, integration, run)
    print(f"429s: {throttled}, 5xx: {failed}, run took {elapsed:.1f}s")


@pytest.mark.timeout(60)
def test_a_purview_slower_than_the_client_timeout_fails_the_datastore_in_time(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    services: Services,
    healthy_afterwards: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each call outlasts the client timeout; retries stop at the datastore's time budget. Both are
    shortened here (30 s per call and 20 min per datastore in production)."""
    assert local.purview
    monkeypatch.setattr(http_client, "DEFAULT_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(coordinator, "DATASTORE_TIME_BUDGET_SECONDS", 6)
    estate = build_estate(local, [2, 2])
    local.purview.server.set_faults(latency_s=1.5)
    started = time.monotonic()
    run = run_sync(api, integration, timeout=50, datastore_ids=[d.id for d in estate])
    elapsed = time.monotonic() - started
    local.purview.server.set_faults(latency_s=0.0)
    assert run["status"] == "completed_with_errors", run
    assert_ended_cleanly(services, integration, run)
    for entry in run["datastores"]:
        assert entry["status"] == "failed", entry
        print(entry["reason"], entry["attempts"], entry["errors"])
    print(f"run took {elapsed:.1f}s")


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
def test_qualytics_down(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    services: Services,
    healthy_afterwards: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert local.qualytics
    monkeypatch.setattr(coordinator, "DATASTORE_TIME_BUDGET_SECONDS", 6)
    estate = build_estate(local, [1])
    local.qualytics.set_faults(error_rate=1.0)
    started = time.monotonic()
    resp = api.post(f"/integrations/{integration}/sync", json={"datastore_ids": [d.id for d in estate]})
    print("start", resp.status_code, resp.text[:300], f"{time.monotonic() - started:.1f}s")

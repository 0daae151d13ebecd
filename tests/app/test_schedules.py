"""Scheduled syncs through the real functions: the schedule on connect/PATCH (validated with croniter), the
integration's ``next_run_at``, and the ``schedule_tick`` timer function — a due schedule starts exactly one
run however many instances tick at once, a busy one is skipped and logged, ``next_run_at`` moves on either way.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.functions.timer import TimerRequest

from purview_sync.app import schedules
from purview_sync.app.services import Services
from purview_sync.dev.host import DevHost, HostConfig, TimerOptions
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.dev.main import PROJECT_ROOT
from purview_sync.models import iso_to_epoch, next_run_after
from tests.api.test_openapi import conforms
from tests.app.test_integrations import connect, error_of
from tests.conftest import Api
from tests.helpers import fresh_app, wait_for_run

ONCE_A_YEAR = {"cron": "0 0 1 1 *", "pull": False, "push": True}  # due only when a test makes it due


@pytest.fixture
def tick(devhost: DevHost) -> Callable[[], None]:
    """Invoke the app's timer function ``schedule_tick`` as the host does on each tick."""
    fn = next(f for f in devhost.functions if f.name == "schedule_tick")
    assert fn.schedule == "%SCHEDULE_TICK%"
    return lambda: fn.user_function(timer=TimerRequest(past_due=False))


def make_due(services: Services, integration_id: str) -> str:
    """Pretend the schedule's time has come: its ``next_run_at`` a minute ago."""
    current = services.integrations.get(integration_id)
    assert current is not None and current.next_run_at
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert services.integrations.move_next_run(integration_id, current.next_run_at, past)
    return past


def schedule_runs(api: Api, integration_id: str) -> list[dict[str, Any]]:
    return [r for r in api.get(f"/integrations/{integration_id}/syncs").json()["items"]
            if r.get("trigger") == "schedule"]  # fmt: skip


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"cron": "every night"}, "schedule.cron"),
        ({"cron": "0 2 * * * *"}, "schedule.cron"),  # six fields: NCRONTAB is for SCHEDULE_TICK, not here
        ({"cron": "61 * * * *"}, "schedule.cron"),
        ({"cron": "0 2 * *"}, "schedule.cron"),
        ({"cron": 5}, "schedule.cron"),
        ({"cron": "0 2 * * *", "pull": "yes"}, "schedule.pull"),
        ({"cron": "0 2 * * *", "pull": False, "push": False}, "schedule"),
        ({"cron": "0 2 * * *", "when": "now"}, "schedule.when"),
        ({"pull": True}, "schedule.cron"),
        ("0 2 * * *", "schedule"),
    ],
)
def test_an_invalid_schedule_is_400_naming_the_field(
    api: Api, local: LocalEnvironment, schedule: object, field: str
) -> None:
    resp = api.post("/integrations", json=local.connect_body(schedule=schedule))
    assert resp.status_code == 400, resp.text
    error = error_of(resp)
    assert error["code"] == "validation_error" and error["field"] == field, error
    integration = connect(api, local)
    resp = api.patch(f"/integrations/{integration['id']}", json={"schedule": schedule})
    assert resp.status_code == 400, resp.text
    assert error_of(resp)["field"] == field
    assert api.get(f"/integrations/{integration['id']}").json()["schedule"] is None


def test_the_integration_shows_next_run_at(api: Api, local: LocalEnvironment) -> None:
    before = datetime.now(UTC)
    integration = connect(api, local, schedule={"cron": "30 2 * * 1-5"})
    schedule = integration["schedule"]
    assert schedule["cron"] == "30 2 * * 1-5" and schedule["pull"] is True and schedule["push"] is True
    expected = next_run_after("30 2 * * 1-5", before)
    assert schedule["next_run_at"] == expected and expected.endswith("T02:30:00.000Z")
    assert api.get(f"/integrations/{integration['id']}").json()["schedule"] == schedule
    conforms(api.get("/openapi.json").json(), "/integrations", "post", 201, integration)
    patched = api.patch(f"/integrations/{integration['id']}", json={"schedule": {"cron": "0 3 * * *"}}).json()
    assert patched["schedule"]["next_run_at"].endswith("T03:00:00.000Z")
    untouched = api.patch(f"/integrations/{integration['id']}", json={"overwrite_tags": True}).json()
    assert untouched["schedule"] == patched["schedule"]
    cleared = api.patch(f"/integrations/{integration['id']}", json={"schedule": None}).json()
    assert cleared["schedule"] is None
    assert "next_run_at" not in cleared


def test_a_due_schedule_starts_exactly_one_run_however_many_instances_tick(
    api: Api, local: LocalEnvironment, services: Services, tick: Callable[[], None]
) -> None:
    integration = connect(api, local, domains=["fin01"], schedule=ONCE_A_YEAR)
    iid = integration["id"]
    due = make_due(services, iid)
    start = threading.Barrier(4)

    def instance() -> None:
        start.wait()
        tick()

    threads = [threading.Thread(target=instance) for _ in range(4)]
    ticked_at = datetime.now(UTC)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    runs = schedule_runs(api, iid)
    assert len(runs) == 1, runs
    assert runs[0]["options"]["pull"] is False and runs[0]["options"]["push"] is True
    conforms(api.get("/openapi.json").json(), "/integrations/{id}/syncs", "get", 200, {"items": runs})
    wait_for_run(api, iid, runs[0]["id"])
    shown = api.get(f"/integrations/{iid}").json()["schedule"]["next_run_at"]
    assert (iso_to_epoch(shown) or 0) > ticked_at.timestamp() and shown != due  # the next occurrence
    tick()  # not due any more: nothing new
    assert len(schedule_runs(api, iid)) == 1
    api.patch(f"/integrations/{iid}", json={"schedule": None})


def test_two_instances_that_read_the_same_due_schedule_start_it_once(
    api: Api, local: LocalEnvironment, services: Services
) -> None:
    """Both instances listed the integrations before either claimed the occurrence (the stale read), and the
    slower one gets there after the first run has already finished."""
    integration = connect(api, local, domains=["fin01"], schedule=ONCE_A_YEAR)
    make_due(services, integration["id"])
    stale = services.integrations.get(integration["id"])
    assert stale is not None
    other = Services(services.settings)  # a second instance: its own storage clients, same storage account
    now = datetime.now(UTC)
    first = schedules._tick(services, stale, now)
    assert first is not None and first["outcome"] == "started"
    wait_for_run(api, integration["id"], first["run_id"])  # done: the lock no longer stands in the way
    second = schedules._tick(other, stale, now)
    assert second is not None and second["outcome"] == "claimed_elsewhere"
    assert len(schedule_runs(api, integration["id"])) == 1
    api.patch(f"/integrations/{integration['id']}", json={"schedule": None})


def test_a_due_schedule_that_meets_a_running_sync_is_skipped_and_logged(
    api: Api, local: LocalEnvironment, services: Services, tick: Callable[[], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    integration = connect(api, local, domains=["fin01"], schedule=ONCE_A_YEAR)
    iid = integration["id"]
    taken, _ = services.syncs.try_lock(iid, "f" * 32, 300)  # a sync of this integration is running
    assert taken
    try:
        due = make_due(services, iid)
        ticked_at = datetime.now(UTC)
        with caplog.at_level(logging.WARNING, logger="purview_sync.app.schedules"):
            tick()
        assert schedule_runs(api, iid) == []
        assert any("skipped" in r.getMessage() and iid in r.getMessage() and "f" * 32 in r.getMessage()
                   for r in caplog.records), caplog.text  # fmt: skip
        moved = api.get(f"/integrations/{iid}").json()["schedule"]["next_run_at"]
        assert moved != due and (iso_to_epoch(moved) or 0) > ticked_at.timestamp()
    finally:
        services.syncs.release_lock(iid, "f" * 32)
    tick()  # not due again until the next occurrence: the skipped one is not queued
    assert schedule_runs(api, iid) == []
    api.patch(f"/integrations/{iid}", json={"schedule": None})


def test_two_hosts_on_one_storage_start_a_due_schedule_once(
    api: Api, local: LocalEnvironment, services: Services
) -> None:
    """Two devhosts of the real app on one Azurite, as two apps whose timer listeners both fire every second:
    the due occurrence is claimed once, whichever host ticks first."""
    integration = connect(api, local, domains=["fin01"], schedule=ONCE_A_YEAR)
    iid = integration["id"]
    make_due(services, iid)
    settings = {**os.environ, "SCHEDULE_TICK": "*/1 * * * * *"}
    hosts = [
        DevHost(fresh_app(), HostConfig.from_file(PROJECT_ROOT / "host.json"), "two-hosts-key", settings.get,
                port=0, host_id=f"schedule-host-{n}", timer_options=TimerOptions(lock_seconds=2, recovery_seconds=0.2))
        for n in range(2)
    ]  # fmt: skip
    for host in hosts:
        host.start()
    try:
        deadline = time.monotonic() + 30
        while not schedule_runs(api, iid):
            assert time.monotonic() < deadline, "no scheduled run started"
            time.sleep(0.2)
        time.sleep(3)  # both hosts keep ticking every second
        runs = schedule_runs(api, iid)
        assert len(runs) == 1, runs
    finally:
        for host in hosts:
            host.stop()
    wait_for_run(api, iid, runs[0]["id"])
    api.patch(f"/integrations/{iid}", json={"schedule": None})

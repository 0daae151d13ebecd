"""The operations poll: a finished scan recorded in the Qualytics simulator, with no event sent, is pushed
within one poll tick plus the coalescing window; each operation is pushed once — across a restart, with two
hosts on one storage (one app: the timer singleton; two apps: both poll) and with ticks running at once;
history before the first tick is not pushed; and so under every knob of what the API leaves open.

The hosts are real devhost processes on their own Azurite (tick every second, 2 s window), so the session's
devhost and its integrations stay out of it; the Qualytics and Purview simulators are the session's."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from purview_sync.app import operations_poll
from purview_sync.app.services import Services
from purview_sync.dev.azurite import Azurite
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.dev.qualytics.operations import OperationKnobs
from purview_sync.storage.clients import TABLE_OPERATION_POLL
from tests.app.test_events import container_id, score_in_purview, table_guid, wait_until
from tests.hardening import HostProcess, services_on
from tests.helpers import add_estate

TICK_SECONDS, WINDOW_SECONDS = 1, 2


@pytest.fixture(scope="module")
def own_azurite() -> Iterator[Azurite]:
    with Azurite() as azurite:
        yield azurite


@pytest.fixture(scope="module")
def storage(own_azurite: Azurite, local: LocalEnvironment) -> Services:
    return services_on(own_azurite.connection_string)


@pytest.fixture(autouse=True)
def default_knobs(local: LocalEnvironment) -> Iterator[None]:
    assert local.qualytics
    yield
    local.qualytics.operation_knobs = OperationKnobs()
    operations_poll.reset_date_mode()


def host(local: LocalEnvironment, azurite: Azurite, log: Path, host_id: str = "devhost") -> HostProcess:
    env = {
        **local.env(),
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_FUNCTION_KEY": "poll-test-key",
        "DEVHOST_HOST_ID": host_id,
        "DEVHOST_MESSAGE_LEASE_SECONDS": "3",
        "SYNC_LOCK_TTL_SECONDS": "15",
        "EVENT_COALESCE_SECONDS": str(WINDOW_SECONDS),
        "EVENT_POLL_TICK": f"*/{TICK_SECONDS} * * * * *",
    }
    return HostProcess(env, log)


def connect(proc: HostProcess, local: LocalEnvironment) -> str:
    resp = proc.api.post("/integrations", json=local.connect_body())
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def poll_started(storage: Services) -> bool:
    return any(
        True for _ in storage.storage.table(TABLE_OPERATION_POLL).query_entities("PartitionKey eq 'state'")
    )


def event_runs_of(proc: HostProcess, integration: str, datastore_id: int) -> list[dict[str, Any]]:
    runs = proc.api.get(f"/integrations/{integration}/syncs").json()["items"]
    out = []
    for run in runs:
        if run["options"].get("trigger") != "event":
            continue
        detail = proc.api.get(f"/integrations/{integration}/syncs/{run['id']}").json()
        if [d["datastore_id"] for d in detail["datastores"]] == [datastore_id]:
            out.append(detail)
    return out


def pushed_once(proc: HostProcess, integration: str, datastore_id: int) -> bool:
    runs = event_runs_of(proc, integration, datastore_id)
    assert len(runs) <= 1, f"datastore {datastore_id} pushed {len(runs)} times"
    return len(runs) == 1 and runs[0]["status"] == "completed"


def log_mentions(procs: list[HostProcess], operation_id: int) -> int:
    pattern = re.compile(rf"operation {operation_id} \(")
    return sum(len(pattern.findall(p.log())) for p in procs)


def test_a_finished_scan_is_pushed_within_a_tick_and_the_window_once_across_a_restart(
    local: LocalEnvironment, own_azurite: Azurite, storage: Services, tmp_path: Path
) -> None:
    assert local.qualytics
    proc = host(local, own_azurite, tmp_path / "host.log").start()
    try:
        integration = connect(proc, local)
        scanned, old, later = add_estate(local, [1, 1, 1])
        wait_until(lambda: poll_started(storage), what="the first poll tick")
        hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        history = local.qualytics.record_operation(old, "scan", start_time=hour_ago, end_time=hour_ago)
        local.qualytics.set_score("container", container_id(local, scanned, "t0"), 61.0)
        started = time.monotonic()
        operation = local.qualytics.record_operation(scanned, "scan")  # no event is sent
        wait_until(lambda: pushed_once(proc, integration, scanned), timeout=30, what="the polled push")
        elapsed = time.monotonic() - started
        assert score_in_purview(local, table_guid(local, scanned, "t0")) == 61.0
        # one tick + the window, plus the run itself (a few seconds on a loaded machine)
        assert elapsed < TICK_SECONDS + WINDOW_SECONDS + 12, elapsed

        proc.kill()  # a restart: the marker and the watermark are in storage
        profile = local.qualytics.record_operation(later, "profile")  # finishes while no host runs
        proc.start()
        wait_until(
            lambda: pushed_once(proc, integration, later), timeout=30, what="the push after the restart"
        )
        time.sleep(TICK_SECONDS * 3 + WINDOW_SECONDS + 1)  # more ticks: nothing is pushed again
        assert pushed_once(proc, integration, scanned) and pushed_once(proc, integration, later)
        assert event_runs_of(proc, integration, old) == []  # finished before the first tick: history
        assert log_mentions([proc], operation) == 1 and log_mentions([proc], profile) == 1
        assert log_mentions([proc], history) == 0
        assert (
            storage.storage.table(TABLE_OPERATION_POLL).get_entity("op", f"{operation:012d}")["status"]
            == "done"
        )
    finally:
        proc.stop()


@pytest.mark.parametrize("same_app", [True, False], ids=["one-app-two-instances", "two-apps-both-polling"])
def test_two_hosts_on_one_storage_push_each_operation_once(
    local: LocalEnvironment, own_azurite: Azurite, storage: Services, tmp_path: Path, same_app: bool
) -> None:
    assert local.qualytics
    ids = ("devhost", "devhost") if same_app else ("app-a", "app-b")
    procs = [
        host(local, own_azurite, tmp_path / f"{name}-{i}.log", name).start() for i, name in enumerate(ids)
    ]
    try:
        integration = connect(procs[0], local)
        datastores = add_estate(local, [1] * 5)
        wait_until(lambda: poll_started(storage), what="the first poll tick")
        time.sleep(1.5)  # both hosts' timers are up
        operations = []
        for i, ds in enumerate(datastores):
            operations.append(local.qualytics.record_operation(ds, ("scan", "profile")[i % 2]))
            time.sleep(0.4)  # straddling ticks
        for ds in datastores:
            wait_until(
                lambda ds=ds: pushed_once(procs[0], integration, ds), timeout=60, what=f"datastore {ds}"
            )
        time.sleep(TICK_SECONDS * 3 + WINDOW_SECONDS + 1)
        for ds in datastores:
            assert pushed_once(procs[1], integration, ds)
        for operation in operations:
            assert log_mentions(procs, operation) == 1, operation
        polled = ["Executed 'Functions.poll_operations'" in p.log() for p in procs]
        if same_app:  # one app: the timer runs on one instance only (the listener lock)
            assert polled.count(True) == 1, polled
        else:  # two apps: both polled, every second — the markers kept each operation to once
            assert polled == [True, True]
    finally:
        for proc in procs:
            proc.stop()


# --- the poll itself, in process, under each knob of what the API leaves open ------------------------------

KNOBS: dict[str, dict[str, Any]] = {
    "default": {},
    "dates-compare-start": {"date_field": "start_time"},
    "dates-compare-end": {"date_field": "end_time"},
    "date-only": {"date_format": "date"},
    "datastore-as-id": {"datastore_shape": "id"},
    "filters-ignored": {"ignored_filters": {"result", "finished", "operation_type", "sort_created"}},
}


@pytest.fixture(scope="module")
def quiet_azurite() -> Iterator[Azurite]:
    """A storage with no integration at all: the poll's own bookkeeping, nothing pushed anywhere."""
    with Azurite() as azurite:
        yield azurite


@pytest.fixture
def quiet(quiet_azurite: Azurite, local: LocalEnvironment) -> Services:
    services = services_on(quiet_azurite.connection_string)
    table = services.storage.table(TABLE_OPERATION_POLL)
    for row in list(table.list_entities()):
        table.delete_entity(row["PartitionKey"], row["RowKey"])
    return services


@pytest.mark.parametrize("knobs", list(KNOBS.values()), ids=list(KNOBS))
def test_each_operation_once_under_every_knob(
    local: LocalEnvironment, quiet: Services, knobs: dict[str, Any]
) -> None:
    sim = local.qualytics
    assert sim
    sim.operation_knobs = OperationKnobs(**knobs)
    ds = sim.add_datastore(f"poll_{time.time_ns()}")
    now = dt.datetime.now(dt.UTC)
    history = sim.record_operation(ds, "scan", end_time=now - dt.timedelta(hours=2))
    long = sim.record_operation(ds, "scan", "running", start_time=now - dt.timedelta(minutes=30))
    first = operations_poll.poll(quiet)  # the first tick ever: from now on
    assert first.pushed == []
    quick = sim.record_operation(ds, "profile")
    sim.record_operation(ds, "scan", "failure")
    sim.record_operation(ds, "sync")
    assert operations_poll.poll(quiet).pushed == [quick]
    sim.finish_operation(long)  # started before the watermark, finished after it
    assert operations_poll.poll(quiet).pushed == [long]
    assert operations_poll.poll(quiet).pushed == []
    markers = {
        r["RowKey"] for r in quiet.storage.table(TABLE_OPERATION_POLL).query_entities("PartitionKey eq 'op'")
    }
    assert f"{history:012d}" not in markers


def test_ticks_running_at_once_take_each_operation_once(local: LocalEnvironment, quiet: Services) -> None:
    sim = local.qualytics
    assert sim
    ds = sim.add_datastore(f"poll_{time.time_ns()}")
    operations_poll.poll(quiet)
    operations = [sim.record_operation(ds, "scan") for _ in range(12)]
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            results.append(operations_poll.poll(quiet).pushed)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    taken = [op for pushed in results for op in pushed]
    assert sorted(taken) == sorted(operations)  # every one, none twice
    assert operations_poll.poll(quiet).pushed == []

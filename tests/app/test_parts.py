"""Large datastores in parts (DESIGN.md §3c): a datastore whose work does not fit one execution's budget is
cut into slices of tables; a part that reaches its budget saves its cursor and hands the rest to a
continuation message on ``purview-sync-datastore``. End to end through the session's devhost (the real queue
function) against Azurite and the simulators."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from purview_sync.app.services import Services
from purview_sync.clients.http import reset_limiters
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.sync import datastore as datastore_module
from tests.conftest import Api
from tests.helpers import (
    datastore_entry,
    group_writes,
    run_sync,
    set_time_budget,
    wait_for_release,
    wait_for_run,
)
from tests.sync.test_push import Estate, add_estate, connect, ensure_group, qualytics_values

TABLES = 6  # three slices of two tables
COLUMNS = ("id", "amount")


@pytest.fixture(scope="module")
def integration(api: Api, local: LocalEnvironment) -> str:
    return connect(api, local, domains=["fin01"])


@pytest.fixture
def two_table_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datastore_module, "SLICE_TABLES", 2)


@pytest.fixture
def one_slice_per_part(monkeypatch: pytest.MonkeyPatch, two_table_slices: None) -> None:
    """Every part ends after its first slice, whatever the clock says (the budget rule is tested on its own
    in ``test_a_push_needing_three_parts_…``)."""
    monkeypatch.setattr(datastore_module.SliceRunner, "fits", lambda self, longest: False)


@pytest.fixture
def purview_latency(local: LocalEnvironment) -> Iterator[None]:
    assert local.purview
    yield
    local.purview.server.set_faults(latency_s=0.0)
    reset_limiters()


def estate_of(local: LocalEnvironment) -> Estate:
    tables = {f"t{i}": {c: round(50.0 + i + j / 10, 1) for j, c in enumerate(COLUMNS)} for i in range(TABLES)}
    return add_estate(local, tables)


def assert_all_values_right(local: LocalEnvironment, estate: Estate) -> None:
    assert local.qualytics
    ui = f"{local.qualytics.ui_url}/datastores/{estate.ds}"
    root = qualytics_values(local, estate.guid(""))
    assert root == {"QualityScore": 80.0, "AnomalyCount": 0, "CheckCount": 0, "QualyticsURL": ui}, root
    for i in range(TABLES):
        cid = estate.containers[f"t{i}"]
        table = qualytics_values(local, estate.guid(f"/t{i}"))
        assert table == {"QualityScore": 75.0, "AnomalyCount": 0, "CheckCount": 0,
                         "QualyticsURL": f"{ui}/tables/{cid}"}, (i, table)  # fmt: skip
        for j, column in enumerate(COLUMNS):
            values = qualytics_values(local, estate.guid(f"/t{i}#{column}"))
            assert values == {
                "QualityScore": round(50.0 + i + j / 10, 1), "AnomalyCount": 0, "CheckCount": 0,
                "QualyticsURL": f"{ui}/tables/{cid}/fields/{estate.fields[f't{i}.{column}']}",
            }, (i, column, values)  # fmt: skip


N_ASSETS = 1 + TABLES * (1 + len(COLUMNS))  # the schema, the tables, the columns
N_VALUES = 4 * N_ASSETS


def push_run(api: Api, integration: str, estate: Estate, timeout: float = 60) -> dict[str, Any]:
    return run_sync(api, integration, timeout=timeout, push=True, pull=False, datastore_ids=[estate.ds])


def writes(local: LocalEnvironment, estate: Estate) -> int:
    assert local.purview
    return group_writes(local.purview, estate.guids.values())


# --- the budget cuts the push into parts ---------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_push_needing_three_parts_under_a_small_budget_completes_with_every_value_right(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    two_table_slices: None,
    purview_latency: None,
) -> None:
    """Every Purview call takes 0.6 s: a part's matching reads take ~1.8 s, a slice ~1.8 s more (two bulk
    GETs, one wave of writes). Under a 4.5 s budget one slice fits a part and a second does not, so the
    three slices run as three parts, each handing the rest on with a continuation message."""
    assert local.purview
    estate = estate_of(local)
    ensure_group(services, integration)  # the typedef calls are not part of the budget arithmetic
    set_time_budget(monkeypatch, 4.5)
    local.purview.server.set_faults(latency_s=0.6)
    before = writes(local, estate)
    run = push_run(api, integration, estate, timeout=90)
    entry = datastore_entry(run, estate.ds)
    assert run["status"] == "completed", run
    assert entry["status"] == "completed" and entry["errors"] == [], entry
    assert entry["parts"] == 3, entry
    assert [d["datastore_id"] for d in run["datastores"]] == [estate.ds]  # one entry, ended once
    assert entry["attributes_written"] == N_VALUES and entry["attributes_unchanged"] == 0, entry
    assert entry["tables_matched"] == TABLES and entry["columns_matched"] == TABLES * len(COLUMNS)
    assert writes(local, estate) - before == N_ASSETS  # nothing written twice
    local.purview.server.set_faults(latency_s=0.0)
    assert_all_values_right(local, estate)
    wait_for_release(services, integration)


def test_the_entry_stays_running_with_its_progress_between_parts(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    services: Services,
    one_slice_per_part: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    estate = estate_of(local)
    seen: list[tuple[str, int, int]] = []
    real = services.storage.enqueue

    def watch(queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        if message.get("part"):
            row = services.syncs.get_datastore_row(message["integration_id"], message["run_id"], estate.ds)
            assert row is not None
            seen.append((row.status, row.part, row.counts.get("attributes_written", 0)))
        real(queue, message, **kwargs)

    monkeypatch.setattr(services.storage, "enqueue", watch)
    run = push_run(api, integration, estate)
    entry = datastore_entry(run, estate.ds)
    assert entry["status"] == "completed" and entry["parts"] == 3, entry
    # before each continuation is enqueued, the entry is running, at that part, with the values so far
    assert [(s, p) for s, p, _ in seen] == [("running", 1), ("running", 2)], seen
    assert 0 < seen[0][2] < seen[1][2] < N_VALUES, seen
    assert entry["attributes_written"] == N_VALUES
    assert_all_values_right(local, estate)


# --- redelivery and crash -----------------------------------------------------------------------------


def test_a_part_delivered_twice_does_nothing_more(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    services: Services,
    one_slice_per_part: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every continuation message is enqueued twice (two copies with their own ids): one copy runs the
    part, the other finds the part held, done or the datastore finished, and writes nothing."""
    estate = estate_of(local)
    real = services.storage.enqueue
    copies: list[int] = []

    def twice(queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        real(queue, message, **kwargs)
        if message.get("part"):
            copies.append(message["part"])
            real(queue, message, **kwargs)

    monkeypatch.setattr(services.storage, "enqueue", twice)
    before = writes(local, estate)
    run = push_run(api, integration, estate)
    entry = datastore_entry(run, estate.ds)
    assert run["status"] == "completed" and entry["status"] == "completed" and entry["parts"] == 3, entry
    assert copies == [1, 2]
    assert entry["attributes_written"] == N_VALUES and entry["attributes_unchanged"] == 0, entry
    assert writes(local, estate) - before == N_ASSETS  # no value written twice
    assert_all_values_right(local, estate)

    # a stray copy of the last part after the end changes nothing either
    real("purview-sync-datastore", {"integration_id": integration, "run_id": run["id"],
                                    "datastore_id": estate.ds, "pull": False, "push": True, "part": 2})  # fmt: skip
    time.sleep(2)
    assert writes(local, estate) - before == N_ASSETS
    assert datastore_entry(wait_for_run(api, integration, run["id"]), estate.ds) == entry


def test_a_part_that_crashed_mid_way_is_repaired_by_its_redelivery(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    services: Services,
    two_table_slices: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The function dies in its second slice after the slice's values were written but before its cursor
    was saved: the host redelivers the message, which resumes after the first slice (not from the start)
    and finds the second slice's values already right."""
    estate = estate_of(local)
    real_one = datastore_module.SliceRunner._one
    calls: list[int] = []

    def crash_once(self: datastore_module.SliceRunner, chunk: list[dict[str, Any]], last: bool) -> None:
        real_one(self, chunk, last)
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("worker died mid-part")

    monkeypatch.setattr(datastore_module.SliceRunner, "_one", crash_once)
    before = writes(local, estate)
    run = push_run(api, integration, estate)
    entry = datastore_entry(run, estate.ds)
    assert run["status"] == "completed", run
    assert entry["status"] == "completed" and entry["errors"] == [] and entry["attempts"] == 2, entry
    assert len(calls) == 4  # slices 1, 2 (crashed), then 2 again and 3 — slice 1 was not redone
    assert writes(local, estate) - before == N_ASSETS  # every asset written exactly once
    slice_values = 2 * (1 + len(COLUMNS)) * 4  # the second slice's values, found right on the redelivery
    assert entry["attributes_written"] == N_VALUES - slice_values, entry
    assert entry["attributes_unchanged"] == slice_values, entry
    assert_all_values_right(local, estate)


# --- cancel -------------------------------------------------------------------------------------------


def test_cancel_during_a_multi_part_datastore_ends_it_after_the_current_part(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    services: Services,
    one_slice_per_part: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    estate = estate_of(local)
    real_one = datastore_module.SliceRunner._one
    cancelled: list[dict[str, Any]] = []

    def cancel_in_part_two(self: datastore_module.SliceRunner, chunk: list[dict[str, Any]], last: bool) -> None:
        if self.job.part == 1 and not cancelled:
            resp = api.post(f"/integrations/{integration}/cancel")
            assert resp.status_code == 202, resp.text
            cancelled.append(resp.json())
        real_one(self, chunk, last)  # the part in progress still finishes

    monkeypatch.setattr(datastore_module.SliceRunner, "_one", cancel_in_part_two)
    before = writes(local, estate)
    run = push_run(api, integration, estate)
    entry = datastore_entry(run, estate.ds)
    assert cancelled and cancelled[0]["status"] == "cancelling"
    assert run["status"] == "cancelled", run
    assert entry["status"] == "cancelled" and "after part 2" in entry["reason"], entry
    assert entry["parts"] == 2, entry
    per_slice = 2 * (1 + len(COLUMNS))
    assert writes(local, estate) - before == 2 * per_slice  # two parts of two tables each; not the third
    assert entry["attributes_written"] == 2 * per_slice * 4, entry
    for i in range(4):
        assert qualytics_values(local, estate.guid(f"/t{i}")) is not None
    for i in (4, 5):
        assert qualytics_values(local, estate.guid(f"/t{i}")) is None
    wait_for_release(services, integration)

"""Helpers for end-to-end tests: start a sync through the HTTP API and wait for it to end."""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

import function_app
from purview_sync.app.services import Services, get_services
from purview_sync.clients.auth import make_credential
from purview_sync.clients.http import reset_limiters
from purview_sync.clients.purview import PurviewClient
from purview_sync.dev.identities import APP_CLIENT_ID, APP_CLIENT_SECRET, TENANT_ID
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.dev.purview import PurviewSim
from purview_sync.sync import typedef
from tests.conftest import Api

TERMINAL = {"completed", "completed_with_errors", "cancelled", "failed"}


def set_time_budget(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """``DATASTORE_TIME_BUDGET_SECONDS`` for the in-process devhost, undone after the test."""
    services = get_services()
    settings = dataclasses.replace(services.settings, datastore_time_budget_seconds=seconds)
    monkeypatch.setattr(services, "settings", settings)


def wait_for_run(api: Api, integration_id: str, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll GET /syncs/{run_id} until the run ends; return the single-run view (with datastores)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = api.get(f"/integrations/{integration_id}/syncs/{run_id}")
        assert resp.status_code == 200, resp.text
        run = resp.json()
        if run["status"] in TERMINAL:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} did not end within {timeout}s: {run}")
        time.sleep(0.2)


def run_sync(api: Api, integration_id: str, timeout: float = 60.0, **body: Any) -> dict[str, Any]:
    """POST /sync (202) and wait for the run to end."""
    resp = api.post(f"/integrations/{integration_id}/sync", json=body)
    assert resp.status_code == 202, resp.text
    return wait_for_run(api, integration_id, resp.json()["id"], timeout)


def datastore_entry(run: dict[str, Any], datastore_id: int) -> dict[str, Any]:
    return next(d for d in run["datastores"] if d["datastore_id"] == datastore_id)


def add_estate(
    local: LocalEnvironment, tables_per_datastore: list[int], collection: str = "fin01"
) -> list[int]:
    """One Purview database + Qualytics datastore per entry, with that many tables of two columns."""
    assert local.purview and local.qualytics
    ids = []
    for n_tables in tables_per_datastore:
        db = f"db_{uuid.uuid4().hex[:8]}"
        tables = {f"t{i}": ["id", "value"] for i in range(n_tables)}
        local.purview.add_sql_database("sync-srv.database.windows.net", db, flavor="azure_sql",
                                       collection=collection, schemas={"dbo": tables})  # fmt: skip
        ds = local.qualytics.add_datastore(f"{db}.dbo", type="sqlserver", store_type="jdbc", database=db,
                                           schema="dbo", host="sync-srv.database.windows.net")  # fmt: skip
        local.qualytics.add_quality_score(ds, 80.0)
        for table in tables:
            cid = local.qualytics.add_container(ds, table, quality_score=70.0)
            for column in tables[table]:
                local.qualytics.add_field(cid, column, quality_score=60.0)
        ids.append(ds)
    return ids


def wait_for_release(services: Any, integration_id: str, timeout: float = 10.0) -> None:
    """The lock is freed by the finisher right after the run's final write: wait for it (bounded)."""
    deadline = time.monotonic() + timeout
    while services.syncs.read_lock(integration_id) is not None:
        assert time.monotonic() < deadline, "the finished run's lock was never released"
        time.sleep(0.05)


def fresh_app() -> func.FunctionApp:
    """Another instance of the real app (the blueprints of ``function_app``), as a second host loads it."""
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
    blueprints = {id(v): v for v in vars(function_app).values() if isinstance(v, func.Blueprint)}
    for blueprint in blueprints.values():
        app.register_functions(blueprint)
    return app


@contextlib.contextmanager
def empty_purview_account(
    local: LocalEnvironment, services: Services, account: str
) -> Iterator[tuple[PurviewSim, PurviewClient]]:
    """A Purview account of its own (the ``Qualytics`` group is account-wide, so the shared one cannot show
    its creation) with a client for it; the process forgets the group and its pacing afterwards."""
    assert local.tls and local.entra
    sim = PurviewSim(local.tls, account=account, tenant_id=TENANT_ID, token_verifier=local.entra.verify).start()
    sim.grant(APP_CLIENT_ID, "data_reader", "data_curator")
    credential = make_credential(TENANT_ID, APP_CLIENT_ID, APP_CLIENT_SECRET, services.settings)
    client = PurviewClient(sim.url, credential, [f"127.0.0.1:{sim.server.port}"])
    try:
        yield sim, client
    finally:
        client.close()
        sim.stop()
        typedef.forget_ensured()
        reset_limiters()


def group_writes(sim: PurviewSim, guids: Any) -> int:
    """The ``Qualytics`` group writes Purview received for these assets — a test's own count, which leftover
    work of another test on the session's simulator (a late event push, a schedule) cannot change."""
    return sum(sim.server.by_guid[("bm_group_write", guid)] for guid in guids)

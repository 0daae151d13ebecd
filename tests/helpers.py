"""Helpers for end-to-end tests: start a sync through the HTTP API and wait for it to end."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Api

TERMINAL = {"completed", "completed_with_errors", "cancelled", "failed"}


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

"""Fixtures of the Qualytics simulator tests: one server per module (stopping costs 0.5 s), reset per
test, and a small seeded estate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from purview_sync.dev.qualytics import QualyticsSim
from tests.dev.qualytics.support import TOKEN, Api


@pytest.fixture(scope="module")
def _server() -> Iterator[QualyticsSim]:
    with QualyticsSim(TOKEN) as s:
        yield s


@pytest.fixture
def sim(_server: QualyticsSim) -> QualyticsSim:
    """One server for the module (stopping costs 0.5 s), fresh state, token and faults per test."""
    _server.reset()
    _server.token = TOKEN
    _server.set_faults(latency_s=0.0, rate_limit_per_s=None, rate_burst=None, error_rate=0.0)
    return _server


@pytest.fixture
def api(sim: QualyticsSim) -> Api:
    return Api(sim)


@pytest.fixture
def estate(sim: QualyticsSim) -> dict[str, int]:
    """finance_db.dbo with a table, a view and an archived table; a DFS datastore; an enrichment one."""
    ds = sim.add_datastore("finance", database="finance_db", schema="dbo", host="sql1.example.net")
    tx = sim.add_container(ds, "transactions", quality_score=88.5, records=1000)
    view = sim.add_container(ds, "v_totals", table_type="view", quality_score=None)
    old = sim.add_container(ds, "old_stuff", archived=True)
    amount = sim.add_field(tx, "amount", quality_score=70.0, type="Fractional")
    currency = sim.add_field(tx, "currency", quality_score=95.0)
    masked = sim.add_field(tx, "secret", status="masked")
    total = sim.add_field(view, "total")
    lake = sim.add_datastore("lake", type="abfs", store_type="dfs", root_path="/raw")
    sim.add_container(lake, "events.csv", container_type="file")
    enrich = sim.add_datastore("enrichment", type="postgresql", enrichment_only=True)
    return {"ds": ds, "tx": tx, "view": view, "old": old, "amount": amount, "currency": currency,
            "masked": masked, "total": total, "lake": lake, "enrich": enrich}

"""Matching on accounts that answer like a real tenant may (issue 13 points 7 and 14): SQL Server names with
or without the instance, case-sensitive or refused search operators, tables from the schema's own
relationshipAttributes, and search hits the Data Map no longer has."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from purview_sync.app.services import Services
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.dev.purview import PurviewSim
from purview_sync.sync.matcher import DatastoreMatch, Matcher
from tests.conftest import Api
from tests.sync.test_matcher import qualytics_side


@pytest.fixture(scope="module")
def integration(api: Api, local: LocalEnvironment) -> str:
    resp = api.post("/integrations", json=local.connect_body(domains=["fin01"]))
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


@pytest.fixture
def sim(local: LocalEnvironment) -> Iterator[PurviewSim]:
    assert local.purview
    yield local.purview
    local.purview.reset_knobs()


def run_match(services: Services, integration: str, datastore: dict, tables: list, fields: dict) -> DatastoreMatch:
    found = services.integrations.get(integration)
    assert found is not None
    purview = services.purview_for(found)
    try:
        return Matcher(purview, found.domains).match(datastore, tables, fields)
    finally:
        purview.close()


def searches(sim: PurviewSim, since: int) -> list[dict]:
    return [c.body for c in list(sim.calls)[since:] if c.path.endswith("/search/query")]


@pytest.mark.parametrize("instance", [True, False])
def test_sqlserver_names_with_or_without_the_instance_segment(
    sim: PurviewSim, services: Services, integration: str, instance: bool
) -> None:
    sim.set_knobs(sqlserver_instance_in_names=instance)
    u = uuid.uuid4().hex[:8]
    sim.add_sql_database(f"onprem-{u}", f"hr_{u}", flavor="mssql", collection="fin01",
                         schemas={"dbo": {"employees": ["id", "salary"]}})  # fmt: skip
    datastore, tables, fields = qualytics_side(f"hr_{u}", "dbo", f"onprem-{u}", {"employees": ["id", "salary"]})
    result = run_match(services, integration, datastore, tables, fields)
    assert result.status == "matched", result
    base = f"mssql://onprem-{u}" + ("/MSSQLSERVER" if instance else "")
    assert result.root and result.root.qualified_name == f"{base}/hr_{u}/dbo"
    assert len(result.tables) == 1 and len(result.columns) == 2 and not result.unmatched_columns


@pytest.mark.parametrize("strict", [False, True])
def test_case_sensitive_or_refused_search_still_matches_on_our_side(
    sim: PurviewSim, services: Services, integration: str, strict: bool
) -> None:
    sim.set_knobs(search_case_sensitive=strict, search_prefix_supported=not strict)
    u = uuid.uuid4().hex[:8]
    sim.add_sql_database(f"Case-{u}", f"Payroll_{u}", collection="fin01",
                         schemas={"DBO": {"Employees": ["ID", "Salary"]}},
                         views={"DBO": {"V_Totals": ["Total"]}})  # fmt: skip
    datastore, tables, fields = qualytics_side(
        f"payroll_{u}", "dbo", None, {"employees": ["id", "salary"], "v_totals": ["total"], "gone": ["x"]}
    )
    since = len(sim.calls)
    result = run_match(services, integration, datastore, tables, fields)
    assert result.status == "matched", result
    assert len(result.tables) == 2 and len(result.columns) == 3
    assert result.unmatched_tables == ["gone"]
    # the tables came from the schema's relationshipAttributes: no prefix search at all
    assert not [b for b in searches(sim, since) if b and "prefix" in b.decode()]


def test_a_search_hit_the_data_map_no_longer_has_is_skipped(
    sim: PurviewSim, services: Services, integration: str
) -> None:
    u = uuid.uuid4().hex[:8]
    guids = sim.add_sql_database(f"stale-{u}", f"stale_{u}", collection="fin01",
                                 schemas={"dbo": {"orders": ["id"]}})  # fmt: skip
    schema_qn = f"mssql://stale-{u}.database.windows.net/stale_{u}/dbo"
    new_schema = sim.rescan(guids[schema_qn])  # re-scanned: search still returns the old guid too
    table_qn = f"{schema_qn}/orders"
    new_table = sim.rescan(guids[table_qn])
    datastore, tables, fields = qualytics_side(f"stale_{u}", "dbo", None, {"orders": ["id"]})
    result = run_match(services, integration, datastore, tables, fields)
    assert result.status == "matched", result
    assert result.root and result.root.guid == new_schema
    assert [a.guid for a in result.tables.values()] == [new_table] and len(result.columns) == 1

    found = services.integrations.get(integration)
    assert found is not None
    purview = services.purview_for(found)
    try:  # the bulk GET answers 404 for the whole batch: the live ones are still returned
        entities = list(purview.get_entities([guids[table_qn], new_table, guids[f"{table_qn}#id"]]))
    finally:
        purview.close()
    assert [e["guid"] for e in entities] == [new_table, guids[f"{table_qn}#id"]]

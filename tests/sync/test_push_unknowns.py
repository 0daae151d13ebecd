"""Push on accounts that answer like a real tenant may (issue 13 points 12 and 13): a business-metadata
POST that replaces the group instead of merging, and a bulk GET without ``businessAttributes``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.dev.purview import PurviewSim
from purview_sync.sync.delta import BULK_GET_WITHOUT_VALUES
from tests.conftest import Api
from tests.helpers import group_writes, run_sync
from tests.sync.test_push import Estate, add_estate, connect, push, qualytics_values


@pytest.fixture(scope="module")
def integration(api: Api, local: LocalEnvironment) -> str:
    return connect(api, local, domains=["fin01"])


@pytest.fixture
def sim(local: LocalEnvironment) -> Iterator[PurviewSim]:
    assert local.purview
    yield local.purview
    local.purview.reset_knobs()


def expected_values(local: LocalEnvironment, estate: Estate, score: float) -> dict[str, dict]:
    assert local.qualytics
    ui = f"{local.qualytics.ui_url}/datastores/{estate.ds}"
    table = f"{ui}/tables/{estate.containers['orders']}"
    column = f"{table}/fields/{estate.fields['orders.amount']}"
    counts = {"AnomalyCount": 0, "CheckCount": 0}
    return {
        "": {"QualityScore": 80.0, **counts, "QualyticsURL": ui},
        "/orders": {"QualityScore": 75.0, **counts, "QualyticsURL": table},
        "/orders#amount": {"QualityScore": score, **counts, "QualyticsURL": column},
    }


@pytest.mark.parametrize("behaviour", ["merge", "replace"])
def test_a_changed_asset_gets_all_its_values_so_replace_and_merge_end_the_same(
    api: Api, local: LocalEnvironment, integration: str, sim: PurviewSim, behaviour: str
) -> None:
    assert local.qualytics
    sim.set_knobs(bm_group_post=behaviour)
    estate = add_estate(local, {"orders": {"amount": 88.0}})
    first = push(api, integration, estate)
    assert first["status"] == "completed" and first["errors"] == [], first

    local.qualytics.set_score("field", estate.fields["orders.amount"], 42.0)  # one value changes
    writes = group_writes(sim, estate.guids.values())
    second = push(api, integration, estate)
    assert second["status"] == "completed" and second["errors"] == [], second
    assert group_writes(sim, estate.guids.values()) - writes == 1  # only that asset is written …
    assert second["attributes_written"] == 1 and second["attributes_unchanged"] == 11
    for suffix, values in expected_values(local, estate, 42.0).items():
        assert qualytics_values(local, estate.guid(suffix)) == values, suffix  # … with all its values


def test_without_business_attributes_on_bulk_gets_the_delta_still_works(
    api: Api, local: LocalEnvironment, integration: str, sim: PurviewSim
) -> None:
    assert local.qualytics
    sim.set_knobs(bulk_get_business_attributes=False)
    estates = [add_estate(local, {"orders": {"amount": 88.0}}) for _ in range(2)]
    ids = [e.ds for e in estates]
    first = run_sync(api, integration, push=True, pull=False, datastore_ids=ids)
    assert first["status"] == "completed", first
    assert all(d["attributes_written"] == 12 and d["warnings"] == [] for d in first["datastores"])

    guids = [g for e in estates for g in e.guids.values()]
    before = group_writes(sim, guids)
    second = run_sync(api, integration, push=True, pull=False, datastore_ids=ids)
    assert group_writes(sim, guids) == before  # nothing rewritten
    assert [(d["attributes_written"], d["attributes_unchanged"]) for d in second["datastores"]] == [(0, 12)] * 2
    warnings = [w for d in second["datastores"] for w in d["warnings"]]
    assert warnings == [BULK_GET_WITHOUT_VALUES]  # once per run, not per datastore or asset

    local.qualytics.set_score("field", estates[0].fields["orders.amount"], 42.0)
    third = run_sync(api, integration, push=True, pull=False, datastore_ids=ids)
    assert group_writes(sim, guids) == before + 1
    assert {d["datastore_id"]: d["attributes_written"] for d in third["datastores"]} == {ids[0]: 4, ids[1]: 0}
    for suffix, values in expected_values(local, estates[0], 42.0).items():
        assert qualytics_values(local, estates[0].guid(suffix)) == values, suffix

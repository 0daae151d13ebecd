"""The Qualytics group's definition against accounts that answer like a real tenant may (issue 13 point 6):
the applicable types come from one headers read, a 409 whose def is not readable yet is a success."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from purview_sync.app.services import Services
from purview_sync.clients.purview import PurviewClient
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.dev.purview import PurviewSim
from purview_sync.sync import typedef
from purview_sync.sync.matcher import ALL_APPLICABLE_TYPES
from tests.helpers import empty_purview_account

GROUP = "Qualytics"


@pytest.fixture
def account(local: LocalEnvironment, services: Services) -> Iterator[tuple[PurviewSim, PurviewClient]]:
    """An empty Purview account of its own (the group is account-wide) and a client for it."""
    with empty_purview_account(local, services, "typedefs") as pair:
        yield pair


def applicable_types(sim: PurviewSim) -> list[str]:
    group = sim.typedef(GROUP) or {}
    return json.loads(group["attributeDefs"][0]["options"]["applicableEntityTypes"])


def drop_entity_types(sim: PurviewSim, *names: str) -> None:
    with sim._lock:  # an account where these (guessed) types were never registered
        for name in names:
            del sim._defs["ENTITY"][name]
        sim._ancestor_cache.clear()


def test_the_types_that_exist_are_learnt_from_one_headers_read(
    account: tuple[PurviewSim, PurviewClient],
) -> None:
    sim, client = account
    drop_entity_types(sim, "mssql_view_column", "azure_sql_mi_view", "azure_sql_dw_view_column")
    typedef.ensure_qualytics_typedef(client)
    assert sim.server.stats["typedef_headers"] == 1
    creates = [c.status for c in sim.calls if c.method == "POST" and c.path.endswith("/types/typedefs")]
    assert creates == [200]  # no 404 round trip per missing type
    applicable = applicable_types(sim)
    assert "mssql_view_column" not in applicable and "azure_sql_mi_view" not in applicable
    assert set(applicable) == set(ALL_APPLICABLE_TYPES) - {
        "mssql_view_column", "azure_sql_mi_view", "azure_sql_dw_view_column"
    }  # fmt: skip


@pytest.mark.parametrize("refusal", [403, 404])
def test_without_the_headers_the_404_text_still_prunes_a_missing_type(
    account: tuple[PurviewSim, PurviewClient], refusal: int
) -> None:
    sim, client = account
    drop_entity_types(sim, "mssql_view_column")
    sim.server.set_faults(fail_kinds={"typedef_headers": refusal})
    typedef.ensure_qualytics_typedef(client)
    creates = [c.status for c in sim.calls if c.method == "POST" and c.path.endswith("/types/typedefs")]
    assert creates == [404, 200]
    assert "mssql_view_column" not in applicable_types(sim)


def test_a_409_whose_group_is_not_readable_yet_counts_as_created(
    account: tuple[PurviewSim, PurviewClient],
) -> None:
    sim, client = account
    sim.set_knobs(typedef_read_lag=3)
    # another writer (a second process of this app) created the group a moment ago
    sim.add_typedefs({"businessMetadataDefs": [typedef.group_def(tuple(ALL_APPLICABLE_TYPES))]})
    table = sim.add_entity("azure_sql_table", "mssql://lag.database.windows.net/db/dbo/t")

    typedef.ensure_qualytics_typedef(client)  # GET 404 → POST 409 → GET still 404: no error
    assert [c.status for c in sim.calls if "businessmetadatadef/name" in c.path] == [404, 404]
    assert [c.status for c in sim.calls if c.path.endswith("/types/typedefs")] == [409]
    client.write_business_metadata(table, GROUP, {"QualityScore": 90.0})  # the writes go ahead
    assert sim.business_metadata(table) == {GROUP: {"QualityScore": 90.0}}

    # not cached as complete: the next datastore looks again, and once readable it is cached
    typedef.ensure_qualytics_typedef(client)  # 404 (the lag's last read) → 409 → 200
    typedef.ensure_qualytics_typedef(client)
    typedef.ensure_qualytics_typedef(client)
    reads = [c.status for c in sim.calls if "businessmetadatadef/name" in c.path]
    assert reads == [404, 404, 404, 200]

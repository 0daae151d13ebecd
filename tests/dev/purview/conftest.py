"""Fixtures of the Purview simulator tests: the dev TLS, a started simulator with the sync's app granted,
a client with its token, and a two-collection SQL estate.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from purview_sync.dev.purview import PurviewSim
from purview_sync.dev.tls import DevTLS, create_dev_tls
from tests.dev.purview.helpers import APP, TENANT, Client, make_token, verify


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> DevTLS:
    return create_dev_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def sim(tls: DevTLS) -> Iterator[PurviewSim]:
    with PurviewSim(tls, account="contoso", tenant_id=TENANT, token_verifier=verify) as s:
        s.grant(APP, "data_curator", "collection_admin", "data_source_admin", "policy_author")
        yield s


@pytest.fixture
def client(sim: PurviewSim, tls: DevTLS) -> Client:
    return Client(sim, tls, make_token())


@pytest.fixture
def estate(sim: PurviewSim) -> dict[str, str]:
    """finance (fin01) and hr (hr0002) collections with one database each."""
    sim.add_collection("fin01", "Finance")
    sim.add_collection("hr0002", "HR")
    guids = sim.add_sql_database(
        "srv1",
        "finance_db",
        collection="fin01",
        schemas={"dbo": {"transactions": {"id": "int", "amount": "decimal"}, "accounts": ["id", "email"]}},
        views={"dbo": {"v_balances": ["account_id", "balance"]}},
    )
    guids.update(
        sim.add_sql_database("srv2", "hr_db", collection="hr0002", schemas={"dbo": {"people": ["id"]}})
    )
    return guids

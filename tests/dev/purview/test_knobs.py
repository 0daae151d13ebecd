"""The simulator's unknown-behaviour knobs (``purview_sync.dev.purview.knobs``): each one, both ways."""

from __future__ import annotations

import pytest

from purview_sync.dev.purview import PurviewSim
from purview_sync.dev.purview.knobs import FLIPS, STRICT, Knobs
from tests.dev.purview.helpers import Client, create_qualytics_def

BM_BY_NAME = "/datamap/api/atlas/v2/types/businessmetadatadef/name/Qualytics"


def test_knobs_refuse_unknown_names_and_values(sim: PurviewSim) -> None:
    with pytest.raises(AttributeError):
        sim.set_knobs(no_such_knob=True)
    with pytest.raises(ValueError):
        sim.set_knobs(bm_group_post="sometimes")
    for values in [STRICT, *FLIPS.values()]:
        Knobs().update(**values)  # every named setting is a valid one


@pytest.mark.parametrize("lag", [0, 2])
def test_typedef_read_lag(sim: PurviewSim, client: Client, lag: int) -> None:
    sim.set_knobs(typedef_read_lag=lag)
    assert create_qualytics_def(client).status_code == 200
    assert create_qualytics_def(client).status_code == 409  # it exists …
    for _ in range(lag):  # … but GETs by name do not see it for a while
        missing = client.call("GET", BM_BY_NAME)
        assert missing.status_code == 404 and missing.json()["errorCode"] == "ATLAS-404-00-001"
    assert client.call("GET", BM_BY_NAME).status_code == 200


@pytest.mark.parametrize("refused", [False, True])
def test_account_api_version_refused_on_some_hosts(sim: PurviewSim, client: Client, refused: bool) -> None:
    if refused:
        sim.set_knobs(refused_account_api_versions={"2019-11-01-preview"})
    old = client.call("GET", "/account/collections", params={"api-version": "2019-11-01-preview"})
    new = client.call("GET", "/account/collections", params={"api-version": "2023-10-01-preview"})
    assert new.status_code == 200 and new.json()["value"][0]["name"] == "contoso"
    if refused:
        assert old.status_code == 400 and old.json()["error"]["code"] == "UnsupportedApiVersion"
    else:
        assert old.status_code == 200 and old.json() == new.json()

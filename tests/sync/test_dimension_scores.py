"""Dimension scores (integration ``dimension_scores``): the eight dimension attributes join the ``Qualytics``
group once, carry the simulator's values at datastore, table and column level (a null one is absent), and
are not written by an integration without the flag."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from purview_sync.app.services import Services
from purview_sync.clients.purview import PurviewClient
from purview_sync.dev.local_env import TENANT_ID, LocalEnvironment
from purview_sync.dev.purview import PurviewSim
from purview_sync.dev.qualytics.records import dimension_scores
from purview_sync.models import Integration
from purview_sync.sync import typedef
from tests.conftest import Api
from tests.helpers import datastore_entry, empty_purview_account, group_writes, run_sync
from tests.sync.test_push import Estate

GROUP = "Qualytics"
DIMS = {d: d.title() for d in typedef.DIMENSIONS}  # score key → attribute name
TYPEDEF_WRITES = ("typedefs_create", "typedefs_update")


def make_estate(local: LocalEnvironment) -> Estate:
    """orders(id, amount): the datastore's newest snapshot lacks accuracy, the table its timeliness, the
    column amount its precision; column id has no score at all."""
    assert local.purview and local.qualytics
    u = uuid.uuid4().hex[:8]
    db, server = f"dims_{u}", f"dims-{u}"
    guids = local.purview.add_sql_database(server, db, collection="fin01", schemas={"dbo": {"orders": ["id", "amount"]}})
    host = f"{server}.database.windows.net"
    q = local.qualytics
    ds = q.add_datastore(f"{db}.dbo", type="sqlserver", database=db, schema="dbo", host=host)
    q.add_quality_score(ds, 70.0, date="2026-01-01")  # older: not the one read
    q.add_quality_score(ds, 80.0, completeness=91.26, accuracy=None)
    estate = Estate(db=db, host=host, ds=ds, guids=guids)
    cid = q.add_container(ds, "orders", quality_score=75.0, dimensions={"timeliness": None, "coverage": 55.56})
    estate.containers["orders"] = cid
    estate.fields["orders.amount"] = q.add_field(cid, "amount", quality_score=60.0, dimensions={"precision": None})
    estate.fields["orders.id"] = q.add_field(cid, "id", quality_score=None)
    return estate


def expected(total: float, **overrides: float | None) -> dict[str, float]:
    """The dimension attributes the sim's score object should give (None = not written)."""
    raw = {**dimension_scores(total), **overrides}
    return {DIMS[d]: round(v, 1) for d, v in raw.items() if v is not None}


def dimension_values(local: LocalEnvironment, guid: str) -> dict[str, float]:
    assert local.purview
    values = local.purview.business_metadata(guid).get(GROUP) or {}
    return {k: v for k, v in values.items() if k in DIMS.values()}


def connect(api: Api, local: LocalEnvironment, **body: object) -> str:
    resp = api.post("/integrations", json=local.connect_body(domains=["fin01"], **body))
    assert resp.status_code == 201, resp.text
    assert resp.json()["dimension_scores"] is bool(body.get("dimension_scores", False))
    return resp.json()["id"]


def push(api: Api, integration: str, estate: Estate) -> dict:
    run = run_sync(api, integration, push=True, pull=False, datastore_ids=[estate.ds])
    entry = datastore_entry(run, estate.ds)
    assert entry["status"] == "completed" and entry["errors"] == [], entry
    return entry


def test_the_eight_dimensions_land_at_every_level_and_a_null_one_is_absent(
    api: Api, local: LocalEnvironment
) -> None:
    assert local.purview and local.qualytics
    p = local.purview
    integration = connect(api, local, dimension_scores=True)
    estate = make_estate(local)

    first = push(api, integration, estate)

    group = {a["name"]: a for a in (p.typedef(GROUP) or {})["attributeDefs"]}
    for name in DIMS.values():
        assert group[name]["typeName"] == "float" and group[name]["description"] == f"Qualytics {name} score"
    assert dimension_values(local, estate.guid()) == expected(80.0, completeness=91.26, accuracy=None)
    assert "Accuracy" not in dimension_values(local, estate.guid())
    table = dimension_values(local, estate.guid("/orders"))
    assert table == expected(75.0, timeliness=None, coverage=55.56) and table["Coverage"] == 55.6
    assert dimension_values(local, estate.guid("/orders#amount")) == expected(60.0, precision=None)
    assert dimension_values(local, estate.guid("/orders#id")) == {}  # no score object at all
    dims_written = 7 + 7 + 7
    assert first["attributes_written"] == dims_written + 4 * 4 - 1  # column id has no QualityScore

    # a changed dimension: the group is not touched again, one asset is written, the rest is unchanged
    typedef_writes = [p.server.stats[k] for k in TYPEDEF_WRITES]
    bm_writes = group_writes(p, estate.guids.values())
    local.qualytics.containers[estate.containers["orders"]].dimensions["coverage"] = 12.34
    second = push(api, integration, estate)
    assert [p.server.stats[k] for k in TYPEDEF_WRITES] == typedef_writes
    assert group_writes(p, estate.guids.values()) == bm_writes + 1
    assert dimension_values(local, estate.guid("/orders"))["Coverage"] == 12.3
    assert second["attributes_written"] >= 1 and second["attributes_unchanged"] > 0


def test_without_the_flag_no_dimension_is_written_and_turning_it_off_keeps_what_is_there(
    api: Api, local: LocalEnvironment
) -> None:
    assert local.purview and local.qualytics
    integration = connect(api, local)
    estate = make_estate(local)
    push(api, integration, estate)
    for suffix in ("", "/orders", "/orders#amount", "/orders#id"):
        assert dimension_values(local, estate.guid(suffix)) == {}, suffix
    assert (local.purview.business_metadata(estate.guid()).get(GROUP) or {})["QualityScore"] == 80.0

    on = api.patch(f"/integrations/{integration}", json={"dimension_scores": True})
    assert on.status_code == 200 and on.json()["dimension_scores"] is True
    push(api, integration, estate)
    assert dimension_values(local, estate.guid("/orders#amount")) == expected(60.0, precision=None)

    off = api.patch(f"/integrations/{integration}", json={"dimension_scores": False})
    assert off.status_code == 200 and off.json()["dimension_scores"] is False
    local.qualytics.set_score("field", estate.fields["orders.amount"], 33.0)  # every dimension moves too
    push(api, integration, estate)
    values = local.purview.business_metadata(estate.guid("/orders#amount")).get(GROUP) or {}
    assert values["QualityScore"] == 33.0
    assert dimension_values(local, estate.guid("/orders#amount")) == expected(60.0, precision=None)  # stays
    group = {a["name"] for a in (local.purview.typedef(GROUP) or {})["attributeDefs"]}
    assert set(DIMS.values()) <= group  # the attributes stay in the group


@pytest.mark.parametrize("value", ["yes", 1, "true", None])
def test_dimension_scores_must_be_a_json_boolean(api: Api, local: LocalEnvironment, value: object) -> None:
    resp = api.post("/integrations", json=local.connect_body(dimension_scores=value))
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "dimension_scores", resp.text
    if value is not None:  # PATCH: null means "leave as is" for every flag
        integration = connect(api, local)
        patched = api.patch(f"/integrations/{integration}", json={"dimension_scores": value})
        assert patched.status_code == 400 and patched.json()["error"]["field"] == "dimension_scores"


# --- the group definition, against an account of its own --------------------------------------------------


@pytest.fixture
def fresh_account(local: LocalEnvironment, services: Services) -> Iterator[tuple[PurviewSim, PurviewClient]]:
    with empty_purview_account(local, services, "dims") as pair:
        yield pair


def test_the_dimensions_are_added_to_an_existing_group_once_with_put(
    fresh_account: tuple[PurviewSim, PurviewClient],
) -> None:
    sim, client = fresh_account
    plain = Integration(id="x", purview_url=sim.url, tenant_id=TENANT_ID, client_id=None, auth="managed_identity",
                        domains=[], event_driven=True, overwrite_tags=False, created_at="", updated_at="")  # fmt: skip
    flagged = Integration(**{**plain.__dict__, "dimension_scores": True})
    assert typedef.attributes_for(plain) == typedef.CORE_ATTRIBUTES
    typedef.ensure_qualytics_typedef(client, attributes=typedef.attributes_for(plain))  # an earlier integration's push
    assert [sim.server.stats[k] for k in TYPEDEF_WRITES] == [1, 0]
    assert len((sim.typedef(GROUP) or {})["attributeDefs"]) == 4

    typedef.ensure_qualytics_typedef(client, attributes=typedef.attributes_for(flagged))
    typedef.ensure_qualytics_typedef(client, attributes=typedef.attributes_for(flagged))  # cached: no request
    assert [sim.server.stats[k] for k in TYPEDEF_WRITES] == [1, 1]
    defs = (sim.typedef(GROUP) or {})["attributeDefs"]
    assert [a["name"] for a in defs] == [a.name for a in typedef.ATTRIBUTES]
    assert all(json.loads(a["options"]["applicableEntityTypes"]) for a in defs)

    typedef.forget_ensured()  # another process: it reads the complete group and writes nothing
    typedef.ensure_qualytics_typedef(client, attributes=typedef.attributes_for(flagged))
    assert [sim.server.stats[k] for k in TYPEDEF_WRITES] == [1, 1]

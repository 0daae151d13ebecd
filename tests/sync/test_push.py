"""Push end to end: the devhost's real queue function against Azurite and the Purview / Qualytics
simulators. Every test seeds its own uniquely named database in both simulators, so tests neither see
each other's assets nor the sample estate's."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from purview_sync.app.services import Services
from purview_sync.clients.http import AdaptiveLimiter, ThrottledError, reset_limiters
from purview_sync.clients.purview import PurviewClient
from purview_sync.dev.local_env import APP_CLIENT_ID, TENANT_ID, LocalEnvironment
from purview_sync.dev.purview import PurviewSim
from purview_sync.sync import push as push_module
from purview_sync.sync import typedef
from purview_sync.sync.datastore import sync_datastore
from purview_sync.sync.job import DatastoreJob
from purview_sync.sync.matcher import ALL_APPLICABLE_TYPES
from tests.conftest import Api
from tests.helpers import datastore_entry, empty_purview_account, group_writes, run_sync, set_time_budget

GROUP = "Qualytics"
TYPEDEF_KINDS = ("businessmetadatadef_by_name", "typedefs_create", "typedefs_update")


@dataclass
class Estate:
    """One database scanned in Purview and the matching datastore in Qualytics."""

    db: str
    host: str
    ds: int
    guids: dict[str, str]  # qualifiedName → guid
    containers: dict[str, int] = field(default_factory=dict)  # table → container id
    fields: dict[str, int] = field(default_factory=dict)  # "table.column" → field id

    @property
    def root_qn(self) -> str:
        return f"mssql://{self.host}/{self.db}/dbo"

    def guid(self, suffix: str = "") -> str:
        """``""`` → the schema, ``"/orders"`` → a table, ``"/orders#amount"`` → a column."""
        return self.guids[self.root_qn + suffix]


def add_estate(
    local: LocalEnvironment,
    tables: dict[str, dict[str, float | None]],
    *,
    views: dict[str, dict[str, float | None]] | None = None,
    table_scores: dict[str, float | None] | None = None,
    score: float | None = 80.0,
    collection: str = "fin01",
    qualytics_only: dict[str, dict[str, float | None]] | None = None,
) -> Estate:
    """``tables={"orders": {"amount": 88.0, ...}}`` (column → field score) in both simulators; views
    likewise; ``qualytics_only`` tables/columns exist in Qualytics but were never scanned by Purview."""
    assert local.purview and local.qualytics
    u = uuid.uuid4().hex[:8]
    db, server = f"push_{u}", f"push-{u}"
    scanned = {t: [c for c in cols if not c.startswith("ghost")] for t, cols in tables.items()}
    scanned_views = {t: list(cols) for t, cols in (views or {}).items()}
    guids = local.purview.add_sql_database(server, db, collection=collection, schemas={"dbo": scanned},
                                           views={"dbo": scanned_views} if views else None)  # fmt: skip
    host = f"{server}.database.windows.net"
    ds = local.qualytics.add_datastore(f"{db}.dbo", type="sqlserver", database=db, schema="dbo", host=host)
    if score is not None:
        local.qualytics.add_quality_score(ds, score)
    estate = Estate(db=db, host=host, ds=ds, guids=guids)
    groups = (("table", tables), ("view", views or {}), ("table", qualytics_only or {}))
    for kind, group in groups:
        for table, columns in group.items():
            table_score = (table_scores or {}).get(table, 75.0)
            cid = local.qualytics.add_container(ds, table, table_type=kind, quality_score=table_score)
            estate.containers[table] = cid
            for column, field_score in columns.items():
                estate.fields[f"{table}.{column}"] = local.qualytics.add_field(
                    cid, column, quality_score=field_score
                )
    return estate


def connect(api: Api, local: LocalEnvironment, **overrides: object) -> str:
    resp = api.post("/integrations", json=local.connect_body(**overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def push(api: Api, integration: str, estate: Estate) -> dict:
    run = run_sync(api, integration, push=True, pull=False, datastore_ids=[estate.ds])
    return datastore_entry(run, estate.ds) | {"run_status": run["status"]}


def qualytics_values(local: LocalEnvironment, guid: str) -> dict | None:
    assert local.purview
    return local.purview.business_metadata(guid).get(GROUP)


@pytest.fixture(scope="module")
def integration(api: Api, local: LocalEnvironment) -> str:
    return connect(api, local, domains=["fin01"])


@pytest.fixture
def purview_faults(local: LocalEnvironment) -> Iterator[PurviewSim]:
    """The Purview simulator for fault injection; the faults and the app's pacing are reset afterwards."""
    assert local.purview
    yield local.purview
    local.purview.server.set_faults(latency_s=0.0, rate_limit_per_s=None, rate_burst=None, error_rate=0.0)
    reset_limiters()


def ensure_group(services: Services, integration: str) -> None:
    """The group exists (as after any first push) — for tests whose identity may not create it."""
    found = services.integrations.get(integration)
    client = services.purview_for(found)
    try:
        typedef.ensure_qualytics_typedef(client)
    finally:
        client.close()


# --- values, idempotence, other teams' attributes ------------------------------------------------------


def test_push_writes_the_values_once_and_only_what_changed(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    assert local.purview and local.qualytics
    q, p = local.qualytics, local.purview
    estate = add_estate(
        local,
        {"orders": {"id": 99.0, "amount": 88.04, "status": None, "ghost_col": 77.0},
         "customers": {"id": 100.0, "email": 64.94}},
        views={"v_totals": {"day": 80.0, "total": None}},
        table_scores={"orders": 91.26, "customers": None, "v_totals": 70.0},
        score=87.46,
        qualytics_only={"staging_only": {"x": 1.0}},
    )  # fmt: skip
    ds, c = estate.ds, estate.containers
    k1 = q.add_check(ds, c["orders"], ["amount"])
    k2 = q.add_check(ds, c["orders"], ["amount", "status"])
    k3 = q.add_check(ds, c["customers"], ["email"])
    q.add_check(ds, c["orders"], ["id"], status="Draft")  # not active: counted nowhere
    q.add_check(ds, c["staging_only"], ["x"])  # active, on a table Purview does not have
    q.add_anomaly(ds, c["orders"], check_id=k1)
    q.add_anomaly(ds, c["orders"], check_id=k2, status="Acknowledged")  # not active
    q.add_anomaly(ds, c["orders"], ["status"])  # its check was deleted since; still names the field
    q.add_anomaly(ds, c["customers"], check_id=k3)

    other = f"OtherTeam_{uuid.uuid4().hex[:6]}"
    theirs = {"Steward": "finance-data", "Tier": 1}
    for suffix in ("", "/orders", "/orders#amount"):
        p.set_business_metadata(estate.guid(suffix), other, theirs)

    ui = q.ui_url
    base = f"{ui}/datastores/{ds}"
    t = {name: f"{base}/tables/{cid}" for name, cid in c.items()}
    f = {key: f"{t[key.split('.')[0]]}/fields/{fid}" for key, fid in estate.fields.items()}

    def v(score: float | None, anomalies: int, checks: int, url: str) -> dict:
        out = {"AnomalyCount": anomalies, "CheckCount": checks, "QualyticsURL": url}
        return out | ({"QualityScore": score} if score is not None else {})

    expected = {
        "": v(87.5, 3, 4, base),  # datastore: active anomalies / checks of the whole datastore
        "/orders": v(91.3, 2, 2, t["orders"]),
        "/customers": v(None, 1, 1, t["customers"]),  # no score → QualityScore not written
        "/v_totals": v(70.0, 0, 0, t["v_totals"]),
        "/orders#id": v(99.0, 0, 0, f["orders.id"]),
        "/orders#amount": v(88.0, 1, 2, f["orders.amount"]),
        "/orders#status": v(None, 1, 1, f["orders.status"]),
        "/customers#id": v(100.0, 0, 0, f["customers.id"]),
        "/customers#email": v(64.9, 1, 1, f["customers.email"]),
        "/v_totals#day": v(80.0, 0, 0, f["v_totals.day"]),
        "/v_totals#total": v(None, 0, 0, f["v_totals.total"]),
    }
    n_values = sum(len(values) for values in expected.values())

    group_existed = p.typedef(GROUP) is not None
    stats, calls_before = p.server.stats, len(p.calls)
    before = {k: stats[k] for k in ("bm_write", *TYPEDEF_KINDS)}
    writes_before = group_writes(p, estate.guids.values())

    first = push(api, integration, estate)
    assert first["status"] == "completed" and first["errors"] == [], first
    assert first["run_status"] == "completed"
    for suffix, values in expected.items():
        assert qualytics_values(local, estate.guid(suffix)) == values, suffix
    for suffix in ("", "/orders", "/orders#amount"):
        assert p.business_metadata(estate.guid(suffix))[other] == theirs  # another team's group is intact
    assert first["attributes_written"] == n_values and first["attributes_unchanged"] == 0
    assert first["tables_matched"] == 3 and first["columns_matched"] == 7
    assert first["tables_unmatched"] == 1 and first["columns_unmatched"] == 1
    assert set(first["unmatched_sample"]) == {"staging_only", "orders.ghost_col"}
    assert group_writes(p, estate.guids.values()) - writes_before == len(expected)  # one request per asset
    assert stats["typedefs_create"] - before["typedefs_create"] == (0 if group_existed else 1)

    calls = list(p.calls)[calls_before:]
    assert not [
        x for x in calls if x.method == "POST" and x.path.endswith(("/atlas/v2/entity", "/entity/bulk"))
    ]
    assert not [x for x in calls if "isOverwrite" in x.query]
    assert stats["bm_write"] == before["bm_write"]  # only the per-group endpoint is used

    group = p.typedef(GROUP)
    assert group is not None and group["category"] == "BUSINESS_METADATA"
    core = {a.name for a in typedef.CORE_ATTRIBUTES}  # (an integration with dimension_scores adds eight more)
    attrs = {a["name"]: a for a in group["attributeDefs"] if a["name"] in core}
    assert {n: a["typeName"] for n, a in attrs.items()} == {
        "QualityScore": "float", "AnomalyCount": "int", "CheckCount": "int", "QualyticsURL": "string"
    }  # fmt: skip
    assert attrs["QualyticsURL"]["options"]["maxStrLength"] == "2048"
    assert attrs["QualityScore"]["description"] == "Qualytics Quality Score"
    for attr in attrs.values():
        applicable = json.loads(attr["options"]["applicableEntityTypes"])  # a JSON array in a string
        assert set(ALL_APPLICABLE_TYPES) <= set(applicable) and "azure_sql_view_column" in applicable

    # nothing changed → nothing written, and the group is not even looked up again
    written = {k: stats[k] for k in TYPEDEF_KINDS}
    writes_before = group_writes(p, estate.guids.values())
    second = push(api, integration, estate)
    assert second["status"] == "completed" and second["errors"] == []
    assert second["attributes_written"] == 0 and second["attributes_unchanged"] == n_values
    assert {k: stats[k] for k in written} == written
    assert group_writes(p, estate.guids.values()) == writes_before

    # one score changes in Qualytics → that one value of that one asset is written
    q.set_score("field", estate.fields["orders.amount"], 42.0)
    third = push(api, integration, estate)
    assert third["attributes_written"] == 1 and third["attributes_unchanged"] == n_values - 1
    assert group_writes(p, estate.guids.values()) == writes_before + 1
    assert qualytics_values(local, estate.guid("/orders#amount")) == expected["/orders#amount"] | {
        "QualityScore": 42.0
    }
    assert p.business_metadata(estate.guid("/orders#amount"))[other] == theirs


def test_an_event_push_of_one_table_writes_that_table_and_its_columns_only(
    local: LocalEnvironment, integration: str, services: Services
) -> None:
    estate = add_estate(local, {"orders": {"id": 90.0, "amount": 80.0}, "customers": {"id": 70.0}})
    found = services.integrations.get(integration)
    qualytics = services.qualytics()
    try:
        datastore = qualytics.get_datastore(estate.ds)
    finally:
        qualytics.close()
    job = DatastoreJob(
        services=services, integration=found, datastore=datastore, pull=False, push=True,
        deadline=time.monotonic() + 60, heartbeat=lambda: None, container_id=estate.containers["orders"],
    )  # fmt: skip
    sync_datastore(job)
    assert job.report.status == "completed" and not job.report.errors
    assert job.report.attributes_written == 12  # the table and its two columns, four values each
    for suffix in ("/orders", "/orders#id", "/orders#amount"):
        assert qualytics_values(local, estate.guid(suffix)) is not None, suffix
    for suffix in ("", "/customers", "/customers#id"):
        assert qualytics_values(local, estate.guid(suffix)) is None, suffix


def test_a_long_push_renews_the_lock_as_it_goes(
    local: LocalEnvironment, integration: str, services: Services
) -> None:
    estate = add_estate(local, {"wide": {f"c{i}": 50.0 for i in range(250)}})
    found = services.integrations.get(integration)
    qualytics = services.qualytics()
    try:
        datastore = qualytics.get_datastore(estate.ds)
    finally:
        qualytics.close()
    beats: list[float] = []
    job = DatastoreJob(
        services=services, integration=found, datastore=datastore, pull=False, push=True,
        deadline=time.monotonic() + 60, heartbeat=lambda: beats.append(time.monotonic()),
    )  # fmt: skip
    sync_datastore(job)
    assert job.report.status == "completed" and job.report.attributes_written == 4 * 252
    assert (
        len(beats) == 2 + 252 // push_module.HEARTBEAT_EVERY
    )  # after matching, every 100 writes, at the end


# --- what is not written ------------------------------------------------------------------------------


def test_a_schema_outside_the_domains_is_skipped(api: Api, local: LocalEnvironment, integration: str) -> None:
    estate = add_estate(local, {"orders": {"id": 90.0}}, collection="mkt02")
    entry = push(api, integration, estate)  # the integration's domains are ["fin01"]
    assert entry["status"] == "skipped" and "outside the selected collections" in entry["reason"]
    assert entry["attributes_written"] == 0
    for suffix in ("", "/orders", "/orders#id"):
        assert qualytics_values(local, estate.guid(suffix)) is None


def test_an_ambiguous_datastore_fails_naming_both_and_writes_nothing(
    api: Api, local: LocalEnvironment, integration: str
) -> None:
    assert local.purview and local.qualytics
    u = uuid.uuid4().hex[:8]
    db = f"twin_{u}"
    qns = []
    for server in (f"twin-a-{u}", f"twin-b-{u}"):
        guids = local.purview.add_sql_database(server, db, collection="fin01", schemas={"dbo": {"t": ["c"]}})
        qns.append(f"mssql://{server}.database.windows.net/{db}/dbo")
        assert qns[-1] in guids
    ds = local.qualytics.add_datastore(
        f"{db}.dbo", database=db, schema="dbo", host="elsewhere.database.windows.net"
    )
    local.qualytics.add_quality_score(ds, 50.0)
    cid = local.qualytics.add_container(ds, "t", quality_score=50.0)
    local.qualytics.add_field(cid, "c", quality_score=50.0)
    run = run_sync(api, integration, push=True, pull=False, datastore_ids=[ds])
    entry = datastore_entry(run, ds)
    assert run["status"] == "completed_with_errors"
    assert entry["status"] == "failed" and entry["reason"] == "ambiguous"
    assert all(qn in entry["errors"][0]["message"] for qn in qns) and entry["errors"][0]["action"]
    assert entry["attributes_written"] == 0
    for qn in qns:
        for suffix in ("", "/t", "/t#c"):
            assert GROUP not in local.purview.business_metadata(local.purview.guid_of(qn + suffix))


def test_a_refused_write_is_reported_against_its_asset_and_the_push_goes_on(
    api: Api, local: LocalEnvironment, integration: str, services: Services
) -> None:
    assert local.purview and local.entra
    ensure_group(services, integration)
    client_id, secret = str(uuid.uuid4()), f"secret-{uuid.uuid4().hex}"
    local.entra.add_app(TENANT_ID, client_id, secret)
    local.purview.grant(client_id, "data_reader", "collection_admin")  # root: read everything …
    local.purview.grant(client_id, "data_curator", collection="fin01")  # … but write only in fin01
    readonly = f"ro{uuid.uuid4().hex[:6]}"
    local.purview.add_collection(readonly, "Read only")
    estate = add_estate(local, {"orders": {"id": 90.0, "amount": 80.0}}, collection=readonly)
    limited = connect(api, local, client_id=client_id, client_secret=secret)
    entry = push(api, limited, estate)
    assert entry["run_status"] == "completed_with_errors"
    assert entry["status"] == "completed" and entry["attributes_written"] == 0
    assets = {e["asset"] for e in entry["errors"]}
    assert assets == {estate.root_qn + s for s in ("", "/orders", "/orders#id", "/orders#amount")}
    assert all("HTTP 403" in e["message"] and "Data Curator" in e["action"] for e in entry["errors"])

    # many refusals and not one success: the list stays short and the push stops asking
    wide = add_estate(local, {"wide": {f"c{i}": 50.0 for i in range(60)}}, collection=readonly)
    attempts = group_writes(local.purview, wide.guids.values())
    entry = push(api, limited, wide)
    attempts = group_writes(local.purview, wide.guids.values()) - attempts
    assert push_module.REFUSALS_BEFORE_STOP <= attempts < 62
    listed = push_module.MAX_LISTED_ERRORS
    assert len(entry["errors"]) == listed + 2, entry["errors"]
    assert entry["errors"][listed]["message"].startswith(
        f"{attempts - listed} more assets could not be written"
    )
    assert entry["errors"][-1]["message"].startswith(f"Stopped after {attempts} refusals")
    assert "Data Curator" in entry["errors"][-1]["action"]


# --- manners: throttling, flaky service, time budget ---------------------------------------------------


def test_rate_limits_and_flaky_5xx_still_end_with_every_value_right(
    api: Api, local: LocalEnvironment, integration: str, purview_faults: PurviewSim
) -> None:
    tables = {f"t{i}": {f"c{j}": 50.0 + i + j / 10 for j in range(5)} for i in range(4)}
    estate = add_estate(local, tables, score=66.6)
    stats = purview_faults.server.stats
    throttled_before = sum(n for k, n in stats.items() if k.endswith(":429"))
    failed_before = sum(n for k, n in stats.items() if k.endswith((":500", ":502", ":503")))
    purview_faults.server.set_faults(rate_limit_per_s=20, rate_burst=5, error_rate=0.1)  # burst 5: 25 writes overrun it
    entry = push(api, integration, estate)
    assert entry["status"] == "completed" and entry["errors"] == [], entry
    assert entry["attributes_written"] == 4 * (1 + 4 + 20)
    assert sum(n for k, n in stats.items() if k.endswith(":429")) > throttled_before  # it was throttled
    assert sum(n for k, n in stats.items() if k.endswith((":500", ":502", ":503"))) > failed_before
    assert qualytics_values(local, estate.guid())["QualityScore"] == 66.6
    for i in range(4):
        cid = estate.containers[f"t{i}"]
        assert qualytics_values(local, estate.guid(f"/t{i}"))["QualityScore"] == 75.0
        for j in range(5):
            values = qualytics_values(local, estate.guid(f"/t{i}#c{j}"))
            assert values == {
                "QualityScore": round(50.0 + i + j / 10, 1), "AnomalyCount": 0, "CheckCount": 0,
                "QualyticsURL": f"{local.qualytics.ui_url}/datastores/{estate.ds}/tables/{cid}"
                                f"/fields/{estate.fields[f't{i}.c{j}']}",
            }  # fmt: skip


def test_a_throttle_beyond_the_time_budget_fails_the_datastore_with_what_to_do(
    api: Api,
    local: LocalEnvironment,
    integration: str,
    services: Services,
    purview_faults: PurviewSim,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    estate = add_estate(local, {"orders": {"id": 90.0, "amount": 80.0}, "customers": {"id": 70.0}})
    ensure_group(services, integration)  # so that the budget is spent on the writes
    set_time_budget(monkeypatch, 4)
    # matching takes five calls; after that one token every 10 s: the writes cannot fit in 4 s
    purview_faults.server.set_faults(rate_limit_per_s=0.1, rate_burst=6)
    started = time.monotonic()
    entry = push(api, integration, estate)
    assert time.monotonic() - started < 20
    assert entry["status"] == "failed" and entry["reason"] == "throttled", entry
    assert entry["run_status"] == "completed_with_errors"
    (error,) = entry["errors"]
    assert "throttl" in error["message"].lower() and "time budget" in error["message"]
    assert "Run the sync again later" in error["action"] and "capacity" in error["action"]
    written = entry["attributes_written"]

    # once Purview has capacity again, the next sync finishes the job (what was written is skipped)
    purview_faults.server.set_faults(rate_limit_per_s=None, rate_burst=None)
    reset_limiters()
    set_time_budget(monkeypatch, 20 * 60)
    again = push(api, integration, estate)
    assert again["status"] == "completed" and again["errors"] == []
    assert again["attributes_unchanged"] == written and again["attributes_written"] == 6 * 4 - written
    for suffix in ("", "/orders", "/orders#id", "/orders#amount", "/customers", "/customers#id"):
        assert qualytics_values(local, estate.guid(suffix)) is not None


def test_the_limiter_paces_every_worker_after_a_429_and_recovers() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    limiter = AdaptiveLimiter(clock=lambda: now[0], sleep=sleep, increase=5.0, quiet_seconds=60.0)
    sent = [limiter.acquire() for _ in range(10)]  # unpaced: ten requests in the same instant
    assert slept == [] and limiter.rate is None
    now[0] = 0.1
    limiter.on_throttle(sent[0], retry_after=2.0)  # 10 sent in the last second → 5/s, and a 2 s pause
    limiter.on_throttle(sent[1], retry_after=2.0)  # sent before that slow-down: the same episode
    assert limiter.rate == 5.0 and limiter.throttles == 2
    with pytest.raises(ThrottledError):
        limiter.acquire(deadline=1.0)  # the pause ends after this work's deadline
    assert [limiter.acquire() for _ in range(3)] == pytest.approx(
        [2.1, 2.3, 2.5]
    )  # everyone waits, then 1/0.2 s
    for _ in range(5):
        limiter.on_success()
    assert 8.5 < limiter.rate < 9.0  # each success adds 5/rate: about +5/s per second of clean traffic
    now[0] += 61
    limiter.acquire()
    assert limiter.rate is None  # a quiet minute: unpaced again


# --- the group definition's lifecycle, against an account of its own -------------------------------------


@pytest.fixture
def fresh_account(local: LocalEnvironment, services: Services) -> Iterator[tuple[PurviewSim, PurviewClient]]:
    """A second, empty Purview account (the group is account-wide, so the shared one cannot show creation)."""
    with empty_purview_account(local, services, "fresh") as pair:
        yield pair


def test_the_group_is_created_once_then_cached(fresh_account: tuple[PurviewSim, PurviewClient]) -> None:
    sim, client = fresh_account
    typedef.ensure_qualytics_typedef(client)
    assert [sim.server.stats[k] for k in TYPEDEF_KINDS] == [1, 1, 0]  # GET (404) → POST
    typedef.ensure_qualytics_typedef(client)  # cached for this endpoint: no request at all
    assert [sim.server.stats[k] for k in TYPEDEF_KINDS] == [1, 1, 0]
    group = sim.typedef(GROUP)
    assert group and [a["name"] for a in group["attributeDefs"]] == [s.name for s in typedef.CORE_ATTRIBUTES]
    assert group["attributeDefs"][1]["description"] == "Qualytics Anomaly Count (active anomalies)"


def test_a_group_missing_an_attribute_or_types_is_completed_with_put(
    fresh_account: tuple[PurviewSim, PurviewClient],
) -> None:
    sim, client = fresh_account
    # an older version of the group: one attribute, applicable to tables only, plus someone's own addition
    sim.add_business_metadata_def(
        GROUP, {"QualityScore": "float", "Note": "string"}, applicable=["azure_sql_table"]
    )
    typedef.ensure_qualytics_typedef(client)
    assert [sim.server.stats[k] for k in TYPEDEF_KINDS] == [1, 0, 1]  # GET → PUT
    attrs = {a["name"]: a for a in (sim.typedef(GROUP) or {})["attributeDefs"]}
    assert set(attrs) == {"QualityScore", "AnomalyCount", "CheckCount", "QualyticsURL", "Note"}
    for name in ("QualityScore", "AnomalyCount", "QualyticsURL"):
        applicable = json.loads(attrs[name]["options"]["applicableEntityTypes"])
        assert set(ALL_APPLICABLE_TYPES) <= set(applicable)
    assert json.loads(attrs["Note"]["options"]["applicableEntityTypes"]) == ["azure_sql_table"]


def test_two_processes_racing_to_create_the_group_both_succeed(
    fresh_account: tuple[PurviewSim, PurviewClient], services: Services, local: LocalEnvironment
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sim, client = fresh_account
    sim.server.set_faults(latency_s=0.3)  # both GETs answer 404 before either POST lands
    clients = [client, PurviewClient(sim.url, client.credential, client.allowed_hosts)]
    try:
        with ThreadPoolExecutor(2) as pool:  # _ensure: what each process does before caching
            list(pool.map(typedef._ensure, clients))
    finally:
        sim.server.set_faults(latency_s=0.0)
        clients[1].close()
    posts = [c.status for c in sim.calls if c.method == "POST" and c.path.endswith("/types/typedefs")]
    assert sorted(posts) == [200, 409]
    assert len((sim.typedef(GROUP) or {})["attributeDefs"]) == len(typedef.CORE_ATTRIBUTES)


def test_an_entity_type_the_account_lacks_is_left_out(
    fresh_account: tuple[PurviewSim, PurviewClient],
) -> None:
    sim, client = fresh_account
    with sim._lock:  # an account where this (guessed) type was never registered
        del sim._defs["ENTITY"]["mssql_view_column"]
        sim._ancestor_cache.clear()
    typedef.ensure_qualytics_typedef(client)
    applicable = json.loads(
        (sim.typedef(GROUP) or {})["attributeDefs"][0]["options"]["applicableEntityTypes"]
    )
    assert "mssql_view_column" not in applicable and "azure_sql_view_column" in applicable


def test_no_right_to_create_the_group_says_what_to_do(
    fresh_account: tuple[PurviewSim, PurviewClient],
) -> None:
    sim, client = fresh_account
    sim.revoke(APP_CLIENT_ID, "data_curator")
    with pytest.raises(typedef.TypedefError) as raised:
        typedef.ensure_qualytics_typedef(client)
    assert "Data Curator role on the root collection" in raised.value.action
    assert sim.typedef(GROUP) is None

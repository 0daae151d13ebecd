"""Issue 13, the Qualytics side: a push then pull of a sample datastore against the Qualytics simulator set
to the strict documented shapes (``shared/specs/qualytics/schemas.json``) and then to each knob's other
setting. Every time it must match every column, write every value right, pull every tag, keep every user
tag (one the user put on a datastore and its table both included), clean the orphan tag, send only request
bodies the schemas allow, and read fields with one request per table.

Each knob stands for a behaviour the references leave open; the code before issue 13 failed the strict
setting already (fields grouped by a container reference the field object does not have: 0 columns).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.dev.qualytics import QualyticsKnobs, QualyticsSim
from purview_sync.dev.qualytics.knobs import CHOICES
from purview_sync.sync.tagnames import CATEGORY, TagSource
from tests.conftest import Api
from tests.dev.qualytics.schemas import problems
from tests.helpers import datastore_entry, run_sync, wait_for_run

TABLES = {"orders": ["id", "amount", "email"], "customers": ["id", "name"]}
VIEWS = {"v_orders": ["id", "amount"]}
ARCHIVED = {"legacy": ["id"]}  # scanned in Purview, archived in Qualytics: never synced
SETTINGS = [{}] + [{knob: value} for knob, values in CHOICES.items() for value in values[1:]]


@dataclass
class Estate:
    uid: str
    db: str
    host: str
    guids: dict[str, str]
    ds: int = 0
    containers: dict[str, int] = field(default_factory=dict)
    fields: dict[str, int] = field(default_factory=dict)
    checks: dict[str, int] = field(default_factory=dict)
    anomalies: dict[str, int] = field(default_factory=dict)

    def guid(self, path: str = "") -> str:
        """``""`` = the schema, ``"orders"`` = a table, ``"orders#email"`` = a column."""
        return self.guids[f"mssql://{self.host}/{self.db}/dbo" + (f"/{path}" if path else "")]

    def name(self, base: str) -> str:
        return f"{base}_{self.uid}"


@pytest.fixture
def sim(local: LocalEnvironment, request: pytest.FixtureRequest) -> Iterator[QualyticsSim]:
    assert local.qualytics
    local.qualytics.configure(**request.param)
    yield local.qualytics
    local.qualytics.knobs = QualyticsKnobs()
    local.qualytics.intercepts.clear()
    local.qualytics.recording = None


def build(local: LocalEnvironment, sim: QualyticsSim) -> Estate:
    assert local.purview
    uid = uuid.uuid4().hex[:8]
    db, host = f"fid_{uid}", f"fid-{uid}.database.windows.net"
    guids = local.purview.add_sql_database(host, db, collection="fin01", schemas={"dbo": {**TABLES, **ARCHIVED}},
                                           views={"dbo": VIEWS})  # fmt: skip
    # the same database and schema on another server in the same collection: only the host tells them apart
    local.purview.add_sql_database(f"fid-{uid}-test.database.windows.net", db, collection="fin01",
                                   schemas={"dbo": TABLES})  # fmt: skip
    estate = Estate(uid=uid, db=db, host=host, guids=guids)
    estate.ds = sim.add_datastore(f"{db}.dbo", type="sqlserver", database=db, schema="dbo", host=host)
    sim.add_quality_score(estate.ds, 80.0)
    groups = (("table", TABLES, False), ("view", VIEWS, False), ("table", ARCHIVED, True))
    for kind, group, archived in groups:
        for n, (table, columns) in enumerate(group.items()):
            cid = sim.add_container(estate.ds, table, table_type=kind, quality_score=70.0 + n, archived=archived)
            estate.containers[table] = cid
            for m, column in enumerate(columns):
                estate.fields[f"{table}.{column}"] = sim.add_field(cid, column, quality_score=60.0 + m)
    c, ds = estate.containers, estate.ds
    estate.checks["amount"] = sim.add_check(ds, c["orders"], ["amount"])
    estate.checks["email"] = sim.add_check(ds, c["orders"], ["email"])
    estate.checks["rows"] = sim.add_check(ds, c["customers"], [], rule_type="minPartitionSize")  # a table-level check
    sim.add_check(ds, c["orders"], ["id"], status="Discarded")  # not active: counts nowhere
    estate.anomalies["amount"] = sim.add_anomaly(ds, c["orders"], check_id=estate.checks["amount"])
    estate.anomalies["name"] = sim.add_anomaly(ds, c["customers"], ["name"])  # its check was deleted
    sim.add_anomaly(ds, c["legacy"], ["id"])  # on the archived table
    return estate


def values(local: LocalEnvironment, guid: str) -> dict[str, Any] | None:
    assert local.purview
    return local.purview.business_metadata(guid).get("Qualytics")


def expected_push(local: LocalEnvironment, estate: Estate) -> dict[str, dict[str, Any]]:
    """guid → the four values, worked out by hand from what ``build`` seeded."""
    assert local.qualytics
    ui, ds, c, f = local.qualytics.ui_url, estate.ds, estate.containers, estate.fields
    out = {estate.guid(): {"QualityScore": 80.0, "AnomalyCount": 2, "CheckCount": 3,
                           "QualyticsURL": f"{ui}/datastores/{ds}"}}  # fmt: skip
    tables = {"orders": (70.0, 1, 2), "customers": (71.0, 1, 1), "v_orders": (70.0, 0, 0)}
    for table, (score, anomalies, checks) in tables.items():
        out[estate.guid(table)] = {"QualityScore": score, "AnomalyCount": anomalies, "CheckCount": checks,
                                   "QualyticsURL": f"{ui}/datastores/{ds}/tables/{c[table]}"}  # fmt: skip
    columns = {"orders#id": (60.0, 0, 0), "orders#amount": (61.0, 1, 1), "orders#email": (62.0, 0, 1),
               "customers#id": (60.0, 0, 0), "customers#name": (61.0, 1, 0), "v_orders#id": (60.0, 0, 0),
               "v_orders#amount": (61.0, 0, 0)}  # fmt: skip
    for column, (score, anomalies, checks) in columns.items():
        table, name = column.split("#")
        link = f"{ui}/datastores/{ds}/tables/{c[table]}/fields/{f[f'{table}.{name}']}"
        out[estate.guid(column)] = {"QualityScore": score, "AnomalyCount": anomalies, "CheckCount": checks,
                                    "QualyticsURL": link}  # fmt: skip
    return out


def sync(api: Api, integration: str, estate: Estate, **kinds: bool) -> dict[str, Any]:
    """One sync of the estate's datastore; a 409 while the previous run's lock is being freed is retried."""
    deadline = time.monotonic() + 15
    while True:
        resp = api.post(f"/integrations/{integration}/sync", json={"datastore_ids": [estate.ds], **kinds})
        if resp.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert resp.status_code == 202, resp.text
    run = wait_for_run(api, integration, resp.json()["id"])
    entry = datastore_entry(run, estate.ds)
    assert entry["status"] == "completed", entry
    assert not entry["errors"], entry["errors"]
    return entry


@pytest.mark.parametrize("sim", SETTINGS, indirect=True,
                         ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "strict")  # fmt: skip
def test_push_then_pull_end_right_under_every_documented_behaviour(
    api: Api, local: LocalEnvironment, sim: QualyticsSim
) -> None:
    assert local.purview
    p = local.purview
    estate = build(local, sim)
    schema_cls, table_cls, label = estate.name("Schema"), estate.name("Confidential"), estate.name("gold")
    email_cls, orphan = estate.name("Email"), estate.name("Orphan")
    team, mine = estate.name("Team-A"), estate.name("Mine")
    p.add_classification(estate.guid(), schema_cls)
    p.add_classification(estate.guid("orders"), table_cls)
    p.set_labels(estate.guid("orders"), [label])
    p.add_classification(estate.guid("orders#email"), email_cls)
    p.add_classification(estate.guid("customers#name"), orphan)
    p.add_classification(estate.guid("legacy"), estate.name("Never"))
    # the user's own tags: one on the datastore and its table both, one on a field
    sim.set_tags("datastore", estate.ds, [team])
    sim.set_tags("container", estate.containers["orders"], [team])
    sim.set_tags("field", estate.fields["orders.id"], [mine])

    # another datastore's pull creates the table's tag between our listing and our create: a duplicate
    def concurrent_create(req: Any) -> None:
        if (req.json() or {}).get("name") == table_cls and table_cls not in sim.tags:
            source = TagSource("classification", table_cls)
            sim.create_tag(table_cls, category=CATEGORY, description=source.description)

    sim.intercepts["tags.create"] = concurrent_create
    resp = api.post("/integrations", json=local.connect_body(domains=["fin01"], event_driven=False))
    assert resp.status_code == 201, resp.text
    integration = resp.json()["id"]
    before = sim.stats["fields.list"]
    sim.recording = []

    # push: every column matched, every value right, nothing on the archived table
    pushed = sync(api, integration, estate, push=True, pull=False)
    assert (pushed["tables_matched"], pushed["columns_matched"]) == (3, 7), pushed
    assert (pushed["tables_unmatched"], pushed["columns_unmatched"]) == (0, 0), pushed
    assert sim.stats["fields.list"] - before == 3  # one request per (live) table under 100 columns
    for guid, want in expected_push(local, estate).items():
        assert values(local, guid) == want, guid
    assert values(local, estate.guid("legacy")) is None and values(local, estate.guid("legacy#id")) is None

    # pull: every tag where it belongs, the user's tags kept
    pulled = sync(api, integration, estate, push=False, pull=True)
    assert pulled["tags_added"] == 5 and pulled["tags_skipped"] == 0, pulled
    shows = sim.effective_tags_of
    assert {schema_cls, team} <= set(shows("datastore", estate.ds))
    assert {table_cls, label, team, schema_cls} <= set(shows("container", estate.containers["orders"]))
    assert email_cls in shows("field", estate.fields["orders.email"])
    assert orphan in shows("field", estate.fields["customers.name"])
    assert mine in shows("field", estate.fields["orders.id"])
    assert estate.name("Never") not in sim.tags  # the archived table is not pulled either
    assert sim.tags[table_cls].category == CATEGORY

    # the classification goes; anomalies keep their tags (docs), the other entities let it go
    sim.set_tags("anomaly", estate.anomalies["name"], [orphan])
    p.remove_classification(estate.guid("customers#name"), orphan)
    again = sync(api, integration, estate, push=False, pull=True)
    assert again["tags_removed"] == 1 and again["tags_added"] == 0, again
    assert orphan not in shows("field", estate.fields["customers.name"])
    assert orphan not in sim.tags  # the orphan tag is cleaned up
    assert team in sim.tags_of("datastore", estate.ds) and team in shows("container", estate.containers["orders"])
    assert team in sim.tags_of("container", estate.containers["orders"])  # still the table's own, too
    assert mine in sim.tags_of("field", estate.fields["orders.id"])
    assert {table_cls, label} <= set(shows("container", estate.containers["orders"]))

    # a pull of an unchanged estate writes nothing; a push of it neither
    writes = ("tags.create", "tags.put", "tags.delete", "datastores.put", "containers.patch", "fields.patch")
    counted = {k: sim.stats[k] for k in writes}
    assert sync(api, integration, estate, push=False, pull=True)["tags_added"] == 0
    assert {k: sim.stats[k] for k in writes} == counted
    assert sync(api, integration, estate, push=True, pull=False)["attributes_written"] == 0

    recorded, sim.recording = list(sim.recording or []), None
    assert not problems(recorded), "\n".join(problems(recorded))  # answers and the product's request bodies
    assert api.delete(f"/integrations/{integration}").status_code == 204


@pytest.mark.parametrize("sim", [{}], indirect=True, ids=["strict"])
def test_a_refused_score_history_is_a_warning_and_the_rest_is_written(
    api: Api, local: LocalEnvironment, sim: QualyticsSim
) -> None:
    """``/quality-scores`` needs the Reporter team permission: a 403 leaves the score unwritten, says what to
    do, and every other value is still written (issue 13 point 11)."""
    estate = build(local, sim)
    resp = api.post("/integrations", json=local.connect_body(domains=["fin01"], event_driven=False))
    integration = resp.json()["id"]
    sim.set_faults(fail_kinds={"datastores.quality_scores": 403})
    try:
        run = run_sync(api, integration, datastore_ids=[estate.ds], push=True, pull=False)
    finally:
        sim.set_faults(fail_kinds={})
    entry = datastore_entry(run, estate.ds)
    assert entry["status"] == "completed" and not entry["errors"], entry
    assert any("HTTP 403" in w and "Reporter" in w for w in entry["warnings"]), entry["warnings"]
    want = expected_push(local, estate)
    schema = want.pop(estate.guid())
    del schema["QualityScore"]
    assert values(local, estate.guid()) == schema  # counts and link, no score
    assert all(values(local, guid) == v for guid, v in want.items())
    assert api.delete(f"/integrations/{integration}").status_code == 204


@pytest.mark.parametrize("sim", [{}], indirect=True, ids=["strict"])
def test_a_database_purview_does_not_scan_as_sql_is_skipped_with_the_reason(
    api: Api, local: LocalEnvironment, sim: QualyticsSim
) -> None:
    """A ``postgresql`` or ``snowflake`` datastore is a database, but not one Purview scans as SQL Server
    family assets: ``skipped`` with that reason, never ``failed`` / ``not_matched`` every run (point 11)."""
    ids = [sim.add_datastore(f"pg_{uuid.uuid4().hex[:6]}.public", type=kind, database="db", schema="public")
           for kind in ("postgresql", "snowflake")]  # fmt: skip
    resp = api.post("/integrations", json=local.connect_body(domains=["fin01"], event_driven=False))
    integration = resp.json()["id"]
    run = run_sync(api, integration, datastore_ids=ids)
    for ds, kind in zip(ids, ("postgresql", "snowflake"), strict=True):
        entry = datastore_entry(run, ds)
        assert entry["status"] == "skipped", entry
        assert kind in entry["reason"] and "SQL Server" in entry["reason"], entry
    assert api.delete(f"/integrations/{integration}").status_code == 204

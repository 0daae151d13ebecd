"""The benchmark's estate: one database of tables x columns seeded in the Purview and Qualytics simulators
(``build_estate``), the score changes and classifications between phases, and the checks of the end state."""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field
from typing import Any

from purview_sync.dev.estate import ROLES
from purview_sync.dev.identities import APP_CLIENT_ID

GROUP = "Qualytics"
COLLECTION = "bench"
PII, RESTRICTED, LABEL = "BenchPII", "BenchRestricted", "bench_certified"  # what pull turns into tags


@dataclass
class Asset:
    kind: str  # schema | table | column
    guid: str
    qid: int  # Qualytics datastore / container / field id
    score: float | None
    anomalies: int
    checks: int
    url: str

    def expected(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "AnomalyCount": self.anomalies,
            "CheckCount": self.checks,
            "QualyticsURL": self.url,
        }
        if self.score is not None:
            values["QualityScore"] = round(self.score, 1)
        return values


@dataclass
class Estate:
    db: str
    host: str
    ds: int
    root_qn: str
    assets: list[Asset]  # schema first, then each table followed by its columns
    tables: list[str]
    columns: list[str]
    table_assets: dict[str, Asset] = field(default_factory=dict)
    column_assets: dict[tuple[str, str], Asset] = field(default_factory=dict)

    @property
    def asset_count(self) -> int:
        return len(self.assets)


def ensure_access(local: Any) -> None:
    """The bench collection exists and the app registration holds the Data Map roles (idempotent)."""
    with contextlib.suppress(ValueError):  # already there (the test suite's shared simulators)
        local.purview.add_collection(COLLECTION, "Benchmark")
    local.purview.grant(APP_CLIENT_ID, *ROLES)


def build_estate(local: Any, db: str, tables: int, columns: int) -> Estate:
    """One Azure SQL database ``db.dbo`` with ``tables`` x ``columns`` in Purview and Qualytics; every table has
    an active check on its first column, every tenth an active anomaly on its second."""
    purview, qualytics = local.purview, local.qualytics
    server = db.replace("_", "-") + "-srv"
    host = f"{server}.database.windows.net"
    table_names = [f"t{i:04d}" for i in range(tables)]
    column_names = [f"c{j:02d}" for j in range(columns)]
    guids = purview.add_sql_database(host, db, flavor="azure_sql", collection=COLLECTION,
                                     schemas={"dbo": dict.fromkeys(table_names, column_names)})  # fmt: skip
    root_qn = f"mssql://{host}/{db}/dbo"
    ui = qualytics.ui_url.rstrip("/")
    ds = qualytics.add_datastore(f"{db}.dbo", type="sqlserver", store_type="jdbc", database=db, schema="dbo",
                                 host=host)  # fmt: skip
    qualytics.add_quality_score(ds, 80.0)
    schema = Asset("schema", guids[root_qn], ds, 80.0, 0, 0, f"{ui}/datastores/{ds}")
    estate = Estate(db, host, ds, root_qn, [schema], table_names, column_names)
    for i, table in enumerate(table_names):
        table_score = 40.0 + (i * 7) % 60 + 0.25
        cid = qualytics.add_container(ds, table, quality_score=table_score)
        has_anomaly = i % 10 == 0 and columns > 1
        t_asset = Asset("table", guids[f"{root_qn}/{table}"], cid, table_score, int(has_anomaly), 1,
                        f"{ui}/datastores/{ds}/tables/{cid}")  # fmt: skip
        estate.assets.append(t_asset)
        estate.table_assets[table] = t_asset
        for j, column in enumerate(column_names):
            score = float((i * 31 + j * 17) % 100) + 0.4
            fid = qualytics.add_field(cid, column, quality_score=score)
            c_asset = Asset("column", guids[f"{root_qn}/{table}#{column}"], fid, score,
                            int(has_anomaly and j == 1), int(j == 0),
                            f"{ui}/datastores/{ds}/tables/{cid}/fields/{fid}")  # fmt: skip
            estate.assets.append(c_asset)
            estate.column_assets[(table, column)] = c_asset
        qualytics.add_check(ds, cid, [column_names[0]])
        if has_anomaly:
            qualytics.add_anomaly(ds, cid, [column_names[1]])
        schema.checks += 1
        schema.anomalies += int(has_anomaly)
    return estate


def change_scores(local: Any, estate: Estate, share: float, seed: int) -> list[Asset]:
    """Change the Qualytics score of ``share`` of the table and column assets; return them."""
    candidates = [a for a in estate.assets if a.kind != "schema"]
    count = max(1, round(len(candidates) * share))
    changed = random.Random(seed).sample(candidates, count)
    for asset in changed:
        asset.score = round(((asset.score or 0.0) + 13.3) % 100, 1)
        local.qualytics.set_score("container" if asset.kind == "table" else "field", asset.qid, asset.score)
    return changed


def classify(local: Any, estate: Estate, share: float) -> dict[tuple[str, int], set[str]]:
    """Put a classification and a label on ``share`` of the tables and a classification on one column of
    each; return the tags pull should add, by Qualytics resource."""
    purview = local.purview
    step = max(1, round(1 / share)) if share > 0 else 0
    wanted: dict[tuple[str, int], set[str]] = {}
    if not step:
        return wanted
    column = estate.columns[min(2, len(estate.columns) - 1)]
    for table in estate.tables[::step]:
        t_asset, c_asset = estate.table_assets[table], estate.column_assets[(table, column)]
        purview.add_classification(t_asset.guid, RESTRICTED)
        purview.set_labels(t_asset.guid, [LABEL])
        purview.add_classification(c_asset.guid, PII)
        wanted[("container", t_asset.qid)] = {RESTRICTED, LABEL}
        wanted[("field", c_asset.qid)] = {PII}
    return wanted


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, float) and isinstance(current, (int, float)):
        return abs(float(current) - wanted) < 1e-3
    return current == wanted


def verify_values(local: Any, estate: Estate) -> list[str]:
    """Every asset's ``Qualytics`` group in the Purview simulator equals what Qualytics says; the mismatches."""
    bad = []
    for asset in estate.assets:
        current = local.purview.business_metadata(asset.guid).get(GROUP) or {}
        wanted = asset.expected()
        if set(current) != set(wanted) or not all(_same(current[k], v) for k, v in wanted.items()):
            bad.append(f"{asset.kind} {asset.guid}: {current} != {wanted}")
    return bad


def verify_tags(local: Any, wanted: dict[tuple[str, int], set[str]]) -> list[str]:
    bad = []
    for (kind, ident), names in wanted.items():
        own = set(local.qualytics.tags_of(kind, ident))
        if not names <= own:
            bad.append(f"{kind} {ident}: tags {sorted(own)} lack {sorted(names - own)}")
    return bad

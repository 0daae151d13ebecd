"""Throughput of purview-sync against Purview's rate budget, side by side with the naive way.

Run it (about 4 minutes at full size on 2 cores)::

    .venv/bin/python -m bench.run                       # 1 datastore x 1,000 tables x 25 columns
    .venv/bin/python -m bench.run --tables 1000 --columns 25 --latency 0.02 --rate 250 --baseline-tables 50

What it does, through the real queue function path (no shortcut into the product's Python):

* starts Azurite and the Entra / Purview / Qualytics simulators in this process, and the function app in
  a separate process (``python -m purview_sync.devhost --no-simulators``, the devhost serving the real
  ``function_app``) — so the host's peak RSS is its own and the simulators do not share its GIL;
* seeds one database (``--tables`` x ``--columns``) in both simulators and gives Purview ``--latency``
  seconds per request and a token-bucket limit of ``--rate`` requests/s (HTTP 429 + ``Retry-After`` beyond);
* connects an integration (``POST /api/integrations``) and runs, each as ``POST /sync`` polled to its end:
  1. cold push, 2. warm re-push after ``--change`` of the scores changed in Qualytics,
  3. pull, after classifications and labels were put on ``--classified`` of the tables in Purview;
* runs the **naive baseline** — what a pyapacheatlas script does: per table one Qualytics read of its fields,
  checks and anomalies, one Purview search, one entity GET, then one sequential business-metadata POST per
  entity — with ``requests`` against the same simulators, on a sample of ``--baseline-tables`` tables of its
  own database, extrapolated per asset to the full estate;
* measures the time of ``import function_app`` in fresh interpreters;
* checks every pushed value and pulled tag in the simulators, prints a table and the targets.

``--json results.json`` also writes every number. ``run_bench`` is what ``tests/test_bench_smoke.py`` calls
with a tiny estate and the test suite's own environment.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests

from purview_sync.dev.estate import ROLES
from purview_sync.dev.local_env import (
    APP_CLIENT_ID,
    APP_CLIENT_SECRET,
    QUALYTICS_TOKEN,
    TENANT_ID,
    LocalEnvironment,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GROUP = "Qualytics"
COLLECTION = "bench"
PII, RESTRICTED, LABEL = "BenchPII", "BenchRestricted", "bench_certified"  # what pull turns into tags
PURVIEW_SCOPE = "https://purview.azure.net/.default"
SEARCH_API = "api-version=2023-09-01"
TERMINAL = {"completed", "completed_with_errors", "cancelled", "failed"}
WRITE_KINDS = ("bm_group_write", "bm_write")
TYPEDEF_WRITE_KINDS = ("typedefs_create", "typedefs_update")


@dataclass
class Config:
    tables: int = 1000
    columns: int = 25
    latency: float = 0.02  # seconds per Purview request
    rate: float | None = 250.0  # Purview requests per second (token bucket); None = unlimited
    burst: float | None = None  # token bucket size; None = one second's worth (the simulator's default)
    change: float = 0.01  # share of the table and column scores changed before the warm re-push
    classified: float = 0.02  # share of the tables that get a classification, a label and a classified column
    baseline_tables: int = 50  # the naive baseline's sample
    seed: int = 7
    run_timeout: float = 1800.0


# --- the estate -------------------------------------------------------------------------------------


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


# --- the host ---------------------------------------------------------------------------------------


class Host(Protocol):
    url: str
    key: str
    label: str

    def peak_rss(self) -> int: ...

    def cpu_seconds(self) -> float: ...


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SubprocessHost:
    """``python -m purview_sync.devhost --no-simulators`` with the simulators' settings, in its own process."""

    label = "host process (devhost + function app)"

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.key = secrets.token_urlsafe(24)
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> SubprocessHost:
        port = _free_port()
        env = {**os.environ, **self.env, "DEVHOST_FUNCTION_KEY": self.key, "PYTHONUNBUFFERED": "1"}
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "purview_sync.devhost", "--no-simulators", "--port", str(port)],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the devhost exited ({self.process.returncode}); see {self.log_path}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/api/health", timeout=5).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the devhost did not answer /api/health within {timeout}s; see {self.log_path}"
                )
            time.sleep(0.2)

    def peak_rss(self) -> int:
        """The host process's peak resident set (``VmHWM``), in bytes."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.M)
        return int(match.group(1)) * 1024 if match else 0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the host process so far."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class InProcessHost:
    """A devhost already running in this process (the test suite's session fixture)."""

    label = "bench process (in-process host + simulators)"

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key

    def peak_rss(self) -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB

    def cpu_seconds(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime


class Api:
    def __init__(self, host: Host) -> None:
        self.base, self.key = host.url + "/api", host.key
        self.session = requests.Session()
        self.session.trust_env = False  # plain http on 127.0.0.1: no proxy

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, headers={"x-functions-key": self.key}, timeout=60,
                                    **kwargs)  # fmt: skip


def connect(api: Api, local: Any) -> str:
    body = local.connect_body(domains=[COLLECTION], event_driven=False)
    resp = api.call("POST", "/integrations", json=body)
    if resp.status_code != 201:
        raise RuntimeError(f"connect failed: HTTP {resp.status_code} {resp.text}")
    return str(resp.json()["id"])


def sync(api: Api, integration: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    resp = api.call("POST", f"/integrations/{integration}/sync", json=body)
    if resp.status_code != 202:
        raise RuntimeError(f"POST /sync failed: HTTP {resp.status_code} {resp.text}")
    run_id = resp.json()["id"]
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(0.25)
        run = api.call("GET", f"/integrations/{integration}/syncs/{run_id}").json()
        if run.get("status") in TERMINAL:
            return run
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} did not end within {timeout}s: {run}")


# --- measuring --------------------------------------------------------------------------------------


def copy_counts(stats: Counter[str]) -> Counter[str]:
    """A copy of a simulator's live counter (its server threads may add a key while we copy)."""
    while True:
        try:
            return Counter(dict(stats))
        except RuntimeError:
            continue


def _delta(after: Counter[str], before: Counter[str]) -> Counter[str]:
    return Counter({k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)})


def ok_requests(stats: Counter[str]) -> int:
    """Requests the service answered itself (not with an injected 429/5xx)."""
    return sum(v for k, v in stats.items() if ":" not in k)


def throttled(stats: Counter[str]) -> int:
    return sum(v for k, v in stats.items() if k.endswith(":429"))


class Sampler:
    """Samples the Purview simulator's counters to find the write phase (first to last write)."""

    def __init__(self, stats: Counter[str], every: float = 0.1) -> None:
        self.stats, self.every = stats, every
        self.samples: list[tuple[float, int, int]] = []  # (time, ok requests, writes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-sampler")

    def _take(self) -> None:
        snap = copy_counts(self.stats)
        self.samples.append((time.perf_counter(), ok_requests(snap), sum(snap[k] for k in WRITE_KINDS)))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._take()

    def __enter__(self) -> Sampler:
        self._take()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._take()

    def write_window(self) -> tuple[float, int] | None:
        """(seconds, Purview requests) from the sample before the first write to the first after the last."""
        writes = [s[2] for s in self.samples]
        if writes[-1] == writes[0]:
            return None
        first = next(i for i, w in enumerate(writes) if w > writes[0]) - 1
        last = next(i for i, w in enumerate(writes) if w == writes[-1])
        (t0, ok0, _), (t1, ok1, _) = self.samples[first], self.samples[last]
        return (t1 - t0, ok1 - ok0) if t1 > t0 else None


@dataclass
class Phase:
    name: str
    wall_s: float
    assets: int
    tables: int
    purview: dict[str, int]
    qualytics: dict[str, int]
    peak_rss: int
    host_cpu_s: float
    run_status: str
    entry: dict[str, Any]  # the datastore's entry of the run (counts, errors)
    write_window: tuple[float, int] | None = None
    checked: str = ""
    problems: list[str] = field(default_factory=list)
    extrapolated_from: int | None = None  # baseline: assets actually run

    @property
    def purview_ok(self) -> int:
        return ok_requests(Counter(self.purview))

    @property
    def writes(self) -> int:
        return sum(self.purview.get(k, 0) for k in WRITE_KINDS)

    @property
    def reads(self) -> int:
        return self.purview_ok - self.writes - sum(self.purview.get(k, 0) for k in TYPEDEF_WRITE_KINDS)

    @property
    def throttled(self) -> int:
        return throttled(Counter(self.purview))

    @property
    def qualytics_total(self) -> int:
        return sum(self.qualytics.values())

    @property
    def ops_per_s(self) -> float:
        return self.purview_ok / self.wall_s if self.wall_s else 0.0

    @property
    def window_ops_per_s(self) -> float | None:
        if not self.write_window:
            return None
        seconds, count = self.write_window
        return count / seconds


def measure(name: str, local: Any, host: Host, estate: Estate, work: Callable[[], dict[str, Any]]) -> Phase:
    p_before, q_before = copy_counts(local.purview.server.stats), copy_counts(local.qualytics.stats)
    cpu_before = host.cpu_seconds()
    with Sampler(local.purview.server.stats) as sampler:
        start = time.perf_counter()
        run = work()
        wall = time.perf_counter() - start
    entry = next((d for d in run.get("datastores", []) if d.get("datastore_id") == estate.ds), {})
    return Phase(
        name=name,
        wall_s=wall,
        assets=estate.asset_count,
        tables=len(estate.tables),
        purview=dict(_delta(copy_counts(local.purview.server.stats), p_before)),
        qualytics=dict(_delta(copy_counts(local.qualytics.stats), q_before)),
        peak_rss=host.peak_rss(),
        host_cpu_s=host.cpu_seconds() - cpu_before,
        run_status=f"{run.get('status')}/{entry.get('status')}",
        entry=entry,
        write_window=sampler.write_window(),
    )


# --- the naive baseline -------------------------------------------------------------------------------


class NaiveClient:
    """What a pyapacheatlas-style script does with ``requests``: one call at a time, a 429 waited out."""

    def __init__(self, local: Any) -> None:
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE of the shell would replace the dev CA bundle
        self.session.verify = str(local.tls.bundle)
        self.purview = local.purview_url
        self.qualytics = local.qualytics.api_url
        token = self.session.post(
            f"{local.entra.url}/{TENANT_ID}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": APP_CLIENT_ID,
                  "client_secret": APP_CLIENT_SECRET, "scope": PURVIEW_SCOPE},
            timeout=30,
        )  # fmt: skip
        token.raise_for_status()
        self.purview_headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        self.qualytics_headers = {"Authorization": f"Bearer {QUALYTICS_TOKEN}"}

    def _send(self, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
        for _ in range(20):
            resp = self.session.request(method, url, headers=headers, timeout=60, **kwargs)
            if resp.status_code == 429:
                time.sleep(float(resp.headers.get("Retry-After") or 1))
                continue
            resp.raise_for_status()
            return resp.json() if resp.content else None
        raise RuntimeError(f"{method} {url}: still throttled")

    def qualytics_all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items, page = [], 1
        while True:
            body = self._send("GET", self.qualytics + path, self.qualytics_headers,
                              params={**params, "page": page, "size": 100})  # fmt: skip
            items += body["items"]
            if page >= body["pages"]:
                return items
            page += 1

    def find(self, qualified_name: str, entity_type: str) -> str:
        body = {"keywords": None, "limit": 10, "filter": {"and": [
            {"entityType": entity_type},
            {"attributeName": "qualifiedName", "operator": "eq", "attributeValue": qualified_name}]}}  # fmt: skip
        hits = self._send("POST", f"{self.purview}/datamap/api/search/query?{SEARCH_API}", self.purview_headers,
                          json=body)["value"]  # fmt: skip
        return str(hits[0]["id"])

    def entity(self, guid: str) -> dict[str, Any]:
        return self._send(
            "GET", f"{self.purview}/datamap/api/atlas/v2/entity/guid/{guid}", self.purview_headers
        )["entity"]

    def write(self, guid: str, values: dict[str, Any]) -> None:
        self._send("POST", f"{self.purview}/datamap/api/atlas/v2/entity/guid/{guid}/businessmetadata",
                   self.purview_headers, params={"isOverwrite": "false"}, json={GROUP: values})  # fmt: skip


def naive_push(local: Any, estate: Estate) -> None:
    """Read Qualytics table by table, find each table in Purview, write every entity one POST at a time."""
    client = NaiveClient(local)
    ui = local.qualytics.ui_url.rstrip("/")
    ds = estate.ds
    score = client._send(
        "GET", f"{client.qualytics}/datastores/{ds}/quality-scores", client.qualytics_headers
    )
    snapshots = score if isinstance(score, list) else score.get("items", [])
    total_anomalies = total_checks = 0
    for table in client.qualytics_all("/containers", datastore=ds, container_type="table"):
        cid = int(table["id"])
        fields = client.qualytics_all("/fields", container=cid)
        checks = client.qualytics_all("/quality-checks", datastore=ds, container=cid, status="Active")
        anomalies = client.qualytics_all("/anomalies", datastore=ds, container=cid, status="Active")
        total_checks += len(checks)
        total_anomalies += len(anomalies)
        table_guid = client.find(f"{estate.root_qn}/{table['name']}", "azure_sql_table")
        entity = client.entity(table_guid)
        columns = {ref["displayText"]: ref["guid"] for ref in entity["relationshipAttributes"]["columns"]}
        values = {"AnomalyCount": len(anomalies), "CheckCount": len(checks),
                  "QualyticsURL": f"{ui}/datastores/{ds}/tables/{cid}"}  # fmt: skip
        if (table.get("metrics") or {}).get("quality_score"):
            values["QualityScore"] = round(table["metrics"]["quality_score"]["total"], 1)
        client.write(table_guid, values)
        for fld in fields:
            name = fld["name"]

            def on(item: dict[str, Any], name: str = name) -> bool:
                names = [f["name"] for f in item.get("fields") or []]
                for failed in item.get("failed_checks") or []:
                    names += [f["name"] for f in (failed.get("quality_check") or {}).get("fields") or []]
                return name in names

            values = {"AnomalyCount": sum(map(on, anomalies)), "CheckCount": sum(map(on, checks)),
                      "QualyticsURL": f"{ui}/datastores/{ds}/tables/{cid}/fields/{fld['id']}"}  # fmt: skip
            if fld.get("quality_score"):
                values["QualityScore"] = round(fld["quality_score"]["total"], 1)
            client.write(columns[name], values)
    schema_guid = client.find(estate.root_qn, "azure_sql_schema")
    values = {
        "AnomalyCount": total_anomalies,
        "CheckCount": total_checks,
        "QualyticsURL": f"{ui}/datastores/{ds}",
    }
    if snapshots:
        values["QualityScore"] = round(max(snapshots, key=lambda s: s["date"])["total"], 1)
    client.write(schema_guid, values)


# --- import time --------------------------------------------------------------------------------------


def import_time(runs: int = 5) -> dict[str, Any]:
    """``import function_app`` in fresh interpreters: the import alone, and the whole process."""
    code = "import time; t = time.perf_counter(); import function_app; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    imports, processes = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, check=True,
                             capture_output=True, text=True)  # fmt: skip
        processes.append(time.perf_counter() - start)
        imports.append(float(out.stdout.strip()))
    trace = subprocess.run([sys.executable, "-X", "importtime", "-c", "import function_app"], cwd=PROJECT_ROOT,
                           env=env, check=True, capture_output=True, text=True).stderr  # fmt: skip
    rows = [(len(p[2]) - len(p[2].lstrip()), p[2].strip(), int(p[1])) for p in
            (line.split("|") for line in trace.splitlines()) if len(p) == 3 and p[1].strip().isdigit()]  # fmt: skip
    root = next(indent for indent, name, _ in rows if name == "function_app")
    top = {name: us for indent, name, us in rows if indent == root + 2}  # what function_app imports directly
    heaviest = sorted(top.items(), key=lambda kv: -kv[1])[:6]
    return {
        "import_s": imports,
        "process_s": processes,
        "median_import_s": statistics.median(imports),
        "median_process_s": statistics.median(processes),
        "heaviest_top_level_ms": {k: round(v / 1000) for k, v in heaviest},
    }


# --- the whole run ------------------------------------------------------------------------------------


@dataclass
class BenchResult:
    config: Config
    host_label: str
    phases: list[Phase]
    baseline: Phase
    baseline_full_s: float  # extrapolated to the full estate
    imports: dict[str, Any] | None
    machine: dict[str, str]
    changed_assets: int
    wanted_tags: int

    def phase(self, name: str) -> Phase:
        return next(p for p in self.phases if p.name == name)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key, phase in [(p.name, p) for p in [*self.phases, self.baseline]]:
            out.setdefault("derived", {})[key] = {
                "purview_ok": phase.purview_ok, "writes": phase.writes, "reads": phase.reads,
                "throttled": phase.throttled, "qualytics": phase.qualytics_total, "ops_per_s": phase.ops_per_s,
                "window_ops_per_s": phase.window_ops_per_s,
            }  # fmt: skip
        return out


def machine(load_at_start: float) -> dict[str, str]:
    """The machine, and its 1-minute load average when the bench started and ended (other work on it skews
    the numbers)."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)  # fmt: skip
    ram = "unknown"
    with contextlib.suppress(OSError, AttributeError):
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": ram, "python": platform.python_version(),
            "platform": platform.platform(),
            "load_1m": f"{load_at_start:.2f} at start, {os.getloadavg()[0]:.2f} at end"}  # fmt: skip


def run_bench(local: Any, host: Host, config: Config, *, measure_imports: bool = True,
              log: Callable[[str], None] = print) -> BenchResult:  # fmt: skip
    """Seed, then cold push, warm re-push, pull and the naive baseline, all measured; ``local`` is a started
    ``LocalEnvironment`` whose settings ``host`` runs with."""
    load_at_start = os.getloadavg()[0]
    ensure_access(local)
    tag = secrets.token_hex(3)
    log(f"seeding {config.tables} tables x {config.columns} columns ...")
    estate = build_estate(local, f"bench_{tag}", config.tables, config.columns)
    naive = build_estate(local, f"naive_{tag}", min(config.baseline_tables, config.tables), config.columns)
    faults = {"latency_s": config.latency, "rate_limit_per_s": config.rate, "rate_burst": config.burst}
    local.purview.server.set_faults(**faults)
    api = Api(host)
    phases: list[Phase] = []
    try:
        integration = connect(api, local)
        body = {"datastore_ids": [estate.ds]}

        def push() -> dict[str, Any]:
            return sync(api, integration, {**body, "push": True, "pull": False}, config.run_timeout)

        def pull() -> dict[str, Any]:
            return sync(api, integration, {**body, "push": False, "pull": True}, config.run_timeout)

        log(f"1/4 cold push of {estate.asset_count} assets ...")
        cold = measure("cold push", local, host, estate, push)
        cold.problems = verify_values(local, estate)
        cold.checked = f"{estate.asset_count - len(cold.problems)}/{estate.asset_count} values right"
        phases.append(cold)

        changed = change_scores(local, estate, config.change, config.seed)
        log(f"2/4 warm re-push ({len(changed)} scores changed) ...")
        warm = measure("warm re-push", local, host, estate, push)
        warm.problems = verify_values(local, estate)
        warm.checked = f"{estate.asset_count - len(warm.problems)}/{estate.asset_count} values right"
        phases.append(warm)

        wanted = classify(local, estate, config.classified)
        n_tags = sum(len(v) for v in wanted.values())
        log(f"3/4 pull ({n_tags} tags to add) ...")
        pulled = measure("pull", local, host, estate, pull)
        pulled.problems = verify_tags(local, wanted)
        pulled.checked = f"{len(wanted) - len(pulled.problems)}/{len(wanted)} resources tagged"
        phases.append(pulled)

        log(f"4/4 naive baseline on {len(naive.tables)} tables ({naive.asset_count} assets) ...")
        base = measure("naive baseline", local, host, naive, lambda: naive_push(local, naive) or {})
        base.peak_rss, base.host_cpu_s = 0, 0.0  # the naive script runs in the bench process, not in the host
        base.run_status = "completed/completed"
        base.problems = verify_values(local, naive)
        base.checked = f"{naive.asset_count - len(base.problems)}/{naive.asset_count} values right"
        base.extrapolated_from = naive.asset_count
    finally:
        local.purview.server.set_faults(latency_s=0.0, rate_limit_per_s=None, rate_burst=None)
    imports = import_time() if measure_imports else None
    return BenchResult(
        config=config,
        host_label=host.label,
        phases=phases,
        baseline=base,
        baseline_full_s=base.wall_s / naive.asset_count * estate.asset_count,
        imports=imports,
        machine=machine(load_at_start),
        changed_assets=len(changed),
        wanted_tags=n_tags,
    )


# --- reporting ----------------------------------------------------------------------------------------


def _kinds(stats: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(stats.items(), key=lambda kv: (-kv[1], kv[0]))) or "-"


def report(result: BenchResult) -> str:
    cfg = result.config
    rate = cfg.rate
    base = result.baseline
    per_asset = base.wall_s / (base.extrapolated_from or 1)
    lines = [
        f"estate: 1 datastore x {cfg.tables} tables x {cfg.columns} columns = {result.phases[0].assets} assets; "
        f"Purview latency {cfg.latency * 1000:.0f} ms, rate limit {rate or 'none'} req/s"
        f"{f' (burst {cfg.burst})' if cfg.burst else ''}",
        f"machine: {result.machine['nproc']} cores, {result.machine['cpu']}, {result.machine['ram']} RAM, "
        f"Python {result.machine['python']}; load average (1 min) {result.machine['load_1m']}",
        "",
        "| phase | wall s | Purview req (reads / writes) | 429s | Qualytics req | req/asset | Purview ops/s "
        "(share of limit) | write phase ops/s | host CPU s | peak RSS MB | vs naive | check |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def share(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:.0f} ({value / rate:.0%})" if rate else f"{value:.0f}"

    for p in [*result.phases, base]:
        naive = p is base
        wall = f"{p.wall_s:.1f}" + (f" → {result.baseline_full_s:.0f} (extrapolated)" if naive else "")
        if naive:
            versus = "1.0×"
        elif p.name == "pull":
            versus = "n/a"
        else:
            versus = f"{result.baseline_full_s / p.wall_s:.1f}× faster"
        req_asset = (p.purview_ok + p.qualytics_total) / p.assets
        rss = "-" if naive else f"{p.peak_rss / 2**20:.0f}"
        cpu = "-" if naive else f"{p.host_cpu_s:.1f}"
        lines.append(
            f"| {p.name}{f' ({p.assets} assets sampled)' if naive else ''} | {wall} | {p.purview_ok} "
            f"({p.reads} / {p.writes}) | {p.throttled} | {p.qualytics_total} | {req_asset:.3f} | {share(p.ops_per_s)} | "
            f"{share(p.window_ops_per_s)} | {cpu} | {rss} | {versus} | {p.checked} |"
        )
    lines += ["", "requests by kind (simulators' counters):"]
    for p in [*result.phases, base]:
        lines.append(f"  {p.name}: Purview: {_kinds(p.purview)}")
        lines.append(f"  {' ' * len(p.name)}  Qualytics: {_kinds(p.qualytics)}")
    lines.append(f"  naive baseline: {per_asset * 1000:.1f} ms per asset, sequential; extrapolated linearly "
                 f"to {result.phases[0].assets} assets (its ~{base.purview_ok / base.wall_s:.0f} req/s stays "
                 "far below the rate limit, so the limit does not bend the line)")  # fmt: skip
    lines.append(f"peak RSS is of the {result.host_label}")
    if result.imports:
        imp = result.imports
        lines.append(
            f"import function_app: median {imp['median_import_s']:.2f} s (runs {', '.join(f'{x:.2f}' for x in imp['import_s'])}); "
            f"whole interpreter {imp['median_process_s']:.2f} s; heaviest: {imp['heaviest_top_level_ms']}"
        )
    lines += ["", "targets:"]
    for ok, text in targets(result):
        lines.append(f"  [{'ok' if ok else 'MISSED'}] {text}")
    for p in [*result.phases, base]:
        for problem in p.problems[:5]:
            lines.append(f"  problem in {p.name}: {problem}")
        if p.entry.get("errors"):
            lines.append(f"  errors in {p.name}: {p.entry['errors'][:3]}")
    return "\n".join(lines)


def targets(result: BenchResult) -> list[tuple[bool, str]]:
    cold, warm = result.phase("cold push"), result.phase("warm re-push")
    rate = result.config.rate
    out: list[tuple[bool, str]] = []
    if rate:
        out.append((cold.ops_per_s >= 0.9 * rate,
                    f"cold push uses ≥ 90 % of the rate limit over the whole run: {cold.ops_per_s / rate:.0%}"))  # fmt: skip
    speedup = result.baseline_full_s / cold.wall_s
    out.append((speedup >= 5, f"cold push ≥ 5× faster than the naive baseline: {speedup:.1f}×"))
    out.append((warm.writes <= 1.1 * result.changed_assets,
                f"warm re-push writes ≤ 1.1 × changed assets: {warm.writes} for {result.changed_assets}"))  # fmt: skip
    out.append((warm.wall_s <= 15, f"warm re-push ≤ 15 s: {warm.wall_s:.1f} s"))
    for p in result.phases:
        out.append(
            (
                p.reads / p.assets <= 0.05,
                f"{p.name}: Purview reads ≤ 0.05 per asset: {p.reads / p.assets:.4f}",
            )
        )
        out.append((p.qualytics_total / p.tables <= 2,
                    f"{p.name}: Qualytics ≤ 2 requests per table: {p.qualytics_total / p.tables:.2f}"))  # fmt: skip
    peak = max(p.peak_rss for p in result.phases)
    out.append((peak <= 250 * 2**20, f"peak RSS ≤ 250 MB: {peak / 2**20:.0f} MB ({result.host_label})"))
    if result.imports:
        out.append((result.imports["median_import_s"] <= 1.0,
                    f"import function_app ≤ 1.0 s: {result.imports['median_import_s']:.2f} s"))  # fmt: skip
    out.append(
        (all(not p.problems for p in [*result.phases, result.baseline]), "every value and tag checked right")
    )
    out.append((all(p.run_status == "completed/completed" for p in result.phases),
                "every run completed: " + ", ".join(f"{p.name} {p.run_status}" for p in result.phases)))  # fmt: skip
    return out


# --- command line -------------------------------------------------------------------------------------


@contextlib.contextmanager
def environment(workdir: Path) -> Iterator[Any]:
    local = LocalEnvironment(workdir=workdir).start(estate=False)
    try:
        yield local
    finally:
        local.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    defaults = Config()
    parser.add_argument("--tables", type=int, default=defaults.tables)
    parser.add_argument("--columns", type=int, default=defaults.columns)
    parser.add_argument("--latency", type=float, default=defaults.latency, help="Purview seconds per request")
    parser.add_argument("--rate", type=float, default=defaults.rate, help="Purview requests/s; 0 = unlimited")
    parser.add_argument("--burst", type=float, default=None, help="token bucket size (default: rate)")
    parser.add_argument("--change", type=float, default=defaults.change)
    parser.add_argument("--classified", type=float, default=defaults.classified)
    parser.add_argument("--baseline-tables", type=int, default=defaults.baseline_tables)
    parser.add_argument("--no-imports", action="store_true", help="skip the import-time measurement")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--workdir", type=Path, help="TLS files and the host log (default: a temp dir)")
    args = parser.parse_args(argv)
    config = Config(tables=args.tables, columns=args.columns, latency=args.latency, rate=args.rate or None,
                    burst=args.burst, change=args.change, classified=args.classified,
                    baseline_tables=args.baseline_tables)  # fmt: skip
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="purview-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with environment(workdir) as local:
        host = SubprocessHost(local.env(), workdir / "host.log").start()
        try:
            result = run_bench(local, host, config, measure_imports=not args.no_imports,
                               log=lambda m: print(m, file=sys.stderr, flush=True))  # fmt: skip
        finally:
            host.stop()
    print(report(result))
    print(f"host log: {workdir / 'host.log'}")
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=2, default=str))
    return 0 if all(ok for ok, _ in targets(result)) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Support for the hardening tests: estates whose end state can be compared, a devhost run as a real
process (so it can be SIGKILLed), and services bound to a storage other than the session's."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from purview_sync.app.services import Services, get_services
from purview_sync.dev.azurite import free_port
from purview_sync.dev.local_env import LocalEnvironment
from tests.conftest import Api

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SERVER = "sync-srv.database.windows.net"
CLASSIFICATION = "MICROSOFT.PERSONAL.EMAIL"  # → Qualytics tag "Email" on the column's field
TERMINAL = {"completed", "completed_with_errors", "cancelled", "failed"}


@dataclass
class Datastore:
    id: int
    database: str
    guids: dict[str, str] = field(default_factory=dict)  # "", "t0", "t0.value" → Purview guid
    fields: dict[str, int] = field(default_factory=dict)  # "t0.value" → Qualytics field id


def build_estate(local: LocalEnvironment, tables: list[int], *, collection: str = "fin01") -> list[Datastore]:
    """Like ``tests.helpers.add_estate`` (one database per datastore, tables of two columns, scores
    80/70/60), plus a classification on every ``value`` column so that pull has work too; returns what is
    needed to read the end state back."""
    assert local.purview and local.qualytics
    out = []
    for n_tables in tables:
        db = f"db_{uuid.uuid4().hex[:8]}"
        spec = {f"t{i}": ["id", "value"] for i in range(n_tables)}
        created = local.purview.add_sql_database(SERVER, db, flavor="azure_sql", collection=collection,
                                                 schemas={"dbo": spec})  # fmt: skip
        ds_id = local.qualytics.add_datastore(f"{db}.dbo", type="sqlserver", store_type="jdbc", database=db,
                                              schema="dbo", host=SERVER)  # fmt: skip
        local.qualytics.add_quality_score(ds_id, 80.0)
        ds = Datastore(ds_id, db)
        prefix = f"mssql://{SERVER}/{db}/dbo"
        ds.guids[""] = created[prefix]
        for table, columns in spec.items():
            cid = local.qualytics.add_container(ds_id, table, quality_score=70.0)
            ds.guids[table] = created[f"{prefix}/{table}"]
            for column in columns:
                ds.fields[f"{table}.{column}"] = local.qualytics.add_field(cid, column, quality_score=60.0)
                ds.guids[f"{table}.{column}"] = created[f"{prefix}/{table}#{column}"]
            local.purview.add_classification(ds.guids[f"{table}.value"], CLASSIFICATION)
        out.append(ds)
    return out


def end_state(local: LocalEnvironment, estate: list[Datastore]) -> list[dict[str, Any]]:
    """Per datastore: the Qualytics business metadata in Purview (ids in links made generic) and the
    Qualytics tags of every field — what a sync leaves behind, comparable across two estates."""
    assert local.purview and local.qualytics
    state = []
    for ds in estate:
        values: dict[str, Any] = {}
        for name, guid in ds.guids.items():
            group = dict(local.purview.business_metadata(guid).get("Qualytics", {}))
            if "QualyticsURL" in group:
                url = str(group["QualyticsURL"]).replace(f"/datastores/{ds.id}", "/datastores/DS")
                group["QualyticsURL"] = re.sub(r"/(tables|fields)/\d+", r"/\1/N", url)
            values[name] = group
        tags = {name: sorted(local.qualytics.tags_of("field", fid)) for name, fid in ds.fields.items()}
        state.append({"business_metadata": values, "tags": tags})
    return state


def comparable(run: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's per-datastore outcome without ids, times and the counts a redelivery may shift
    (values already written before a crash are counted ``unchanged`` the second time)."""
    out = []
    for d in sorted(run["datastores"], key=lambda d: d["datastore_id"]):
        out.append({
            "status": d["status"], "reason": d["reason"], "errors": d["errors"],
            "tables_matched": d.get("tables_matched"), "columns_matched": d.get("columns_matched"),
            "tables_unmatched": d.get("tables_unmatched"), "columns_unmatched": d.get("columns_unmatched"),
            "attribute_values": (d.get("attributes_written") or 0) + (d.get("attributes_unchanged") or 0),
        })  # fmt: skip
    return out


def wait_for_run(api: Api, iid: str, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(requests.RequestException):
            resp = api.get(f"/integrations/{iid}/syncs/{run_id}")
            if resp.status_code == 200 and resp.json()["status"] in TERMINAL:
                return resp.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} did not end within {timeout}s")
        time.sleep(0.25)


def services_on(connection_string: str) -> Services:
    """The app's services with the session's settings but another storage account (a dedicated Azurite)."""
    settings = dataclasses.replace(get_services().settings, storage_connection=connection_string)
    return Services(settings)


class HostProcess:
    """``python -m purview_sync.devhost --no-simulators`` as a child process (kill -9 is the point)."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.env = {**os.environ, **env}
        self.port = port or free_port()
        self.key = env["DEVHOST_FUNCTION_KEY"]
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.api = Api(f"http://127.0.0.1:{self.port}", self.key, requests.Session())

    def start(self, timeout: float = 30.0) -> HostProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "purview_sync.devhost", "--no-simulators", "--port", str(self.port),
             "--state-dir", str(self.log_path.parent / f"state-{self.port}")],  # not the developer's .devhost/
            cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"devhost exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.api.base}/api/health", timeout=2).status_code in (200, 503):
                    return self
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"devhost did not answer within {timeout}s:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no lease given back, requests in flight cut."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

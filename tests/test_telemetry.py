"""Telemetry: with a connection string, a run's spans and metrics reach the Application Insights ingestion
endpoint (a local collector stub here, speaking the exporter's real wire protocol); without one, nothing of
OpenTelemetry is imported."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.local_run import ROOT, local_run

INSTRUMENTATION_KEY = "00000000-0000-4000-8000-000000000001"


class Collector:
    """The ingestion endpoint's ``/v2.1/track``: records every envelope it is sent."""

    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                items = json.loads(raw) if raw else []
                if self.path.startswith("/v2.1/track"):
                    collector.envelopes.extend(items)
                body = json.dumps({"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def connection_string(self) -> str:
        port = self.server.server_address[1]
        return f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint=http://127.0.0.1:{port}/"

    def of_type(self, base_type: str) -> list[dict[str, Any]]:
        return [e["data"]["baseData"] for e in self.envelopes if e.get("data", {}).get("baseType") == base_type]


@pytest.fixture
def collector() -> Iterator[Collector]:
    stub = Collector()
    stub.thread.start()
    yield stub
    stub.server.shutdown()


def test_one_run_sends_its_spans_and_metrics(tmp_path: Path, collector: Collector) -> None:
    with local_run(
        tmp_path,
        APPLICATIONINSIGHTS_CONNECTION_STRING=collector.connection_string,
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",
        OTEL_METRIC_EXPORT_INTERVAL="1000",
        OTEL_BSP_SCHEDULE_DELAY="200",
    ) as host:
        created = host.call("POST", "/integrations", json=host.connect_body)
        assert created.status_code == 201, created.text
        integration_id = created.json()["id"]
        run = host.sync(integration_id)
        assert run["status"] == "completed", run
    assert host.returncode == 0  # a clean exit flushes what is still buffered

    spans = {}
    for item in collector.of_type("RemoteDependencyData") + collector.of_type("RequestData"):
        spans.setdefault(item["name"], []).append(item.get("properties", {}))
    [run_span] = spans["purview_sync.run"]
    assert run_span["run_id"] == run["id"] and run_span["integration_id"] == integration_id
    assert run_span["status"] == "completed"
    database_datastores = {d["datastore_id"] for d in run["datastores"] if d["status"] != "skipped"}
    parts = spans["purview_sync.datastore"]
    assert {int(p["datastore_id"]) for p in parts} == database_datastores
    assert {p["run_id"] for p in parts} == {run["id"]}

    metrics: dict[str, list[dict[str, Any]]] = {}
    for item in collector.of_type("MetricData"):
        for point in item["metrics"]:
            metrics.setdefault(point["name"], []).append({"value": point["value"], **item.get("properties", {})})
    requests_by_status = {p.get("status") for p in metrics["purview_sync.purview.requests"]}
    assert "200" in requests_by_status
    assert {p.get("kind") for p in metrics["purview_sync.purview.requests"]} >= {"search"}
    written = sum(p["value"] for p in metrics["purview_sync.attributes_written"])
    assert written == run["totals"]["attributes_written"] > 0
    assert sum(p["value"] for p in metrics["purview_sync.tags_changed"]) == (
        run["totals"]["tags_added"] + run["totals"]["tags_removed"]
    )
    assert metrics["purview_sync.run.duration"]


def test_without_a_connection_string_nothing_is_exported_or_imported() -> None:
    probe = (
        "import sys, function_app\n"
        "from purview_sync import telemetry\n"
        "with telemetry.span(telemetry.SPAN_DATASTORE, run_id='r'):\n"
        "    telemetry.add('purview_sync.attributes_written', 3)\n"
        "telemetry.finished_span(telemetry.SPAN_RUN, 0.0, 1.0)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'azure.monitor')))\n"
        "print(telemetry.enabled(), loaded)\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False []", out.stdout + out.stderr

"""The run command as a subprocess (``python -m purview_sync.devhost`` on its embedded defaults), for the
tests that need a process of its own: the newcomer's first run, telemetry (process-wide exporters)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from purview_sync.dev.azurite import free_port

ROOT = Path(__file__).resolve().parents[1]
# settings the suite's own environment carries: the subprocess must start from its embedded defaults
SETTINGS = (
    "AzureWebJobsStorage", "QUALYTICS_API_URL", "QUALYTICS_API_TOKEN", "QUALYTICS_UI_URL", "SECRET_ENCRYPTION_KEY",
    "PURVIEW_ALLOWED_HOSTS", "AZURE_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE", "DEVHOST_FUNCTION_KEY", "EVENT_COALESCE_SECONDS", "SYNC_LOCK_TTL_SECONDS",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
)  # fmt: skip


@dataclass
class LocalRun:
    proc: subprocess.Popen[str]
    base: str
    key: str
    connect_body: dict[str, Any]
    returncode: int | None = None

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"x-functions-key": self.key, **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.base}/api{path}", headers=headers, timeout=30, **kwargs)

    def sync(self, integration_id: str, timeout: float = 120.0, **body: Any) -> dict[str, Any]:
        started = self.call("POST", f"/integrations/{integration_id}/sync", json=body)
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + timeout
        path = f"/integrations/{integration_id}/syncs/{started.json()['id']}"
        while (run := self.call("GET", path).json())["status"] in ("running", "cancelling"):
            assert time.monotonic() < deadline, run
            time.sleep(0.3)
        return run


@contextlib.contextmanager
def local_run(tmp_path: Path, **extra_env: str) -> Iterator[LocalRun]:
    """Start the run command, wait for its banner, yield it; SIGTERM at the end (its exit code is kept)."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS} | extra_env
    port = free_port()
    log = (tmp_path / "devhost.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "purview_sync.devhost", "--port", str(port), "--state-dir", str(tmp_path / "state")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    run: LocalRun | None = None
    try:
        banner = ""
        deadline = time.monotonic() + 90
        while "Ctrl-C" not in banner:
            assert proc.poll() is None and time.monotonic() < deadline, banner + log.read()
            banner += proc.stdout.readline()  # type: ignore[union-attr]
        key = re.search(r"function key: (\S+)\)", banner).group(1)  # type: ignore[union-attr]
        body = json.loads(re.search(r"-d '(\{.*\})'", banner).group(1))  # type: ignore[union-attr]
        run = LocalRun(proc, f"http://127.0.0.1:{port}", key, body)
        yield run
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if run is not None:
            run.returncode = proc.returncode

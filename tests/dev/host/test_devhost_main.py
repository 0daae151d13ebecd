"""The run command's host as a newcomer meets it: ``python -m purview_sync.devhost`` with no settings starts
Azurite and the simulators with the sample estate, prints how to call it, and a sync of the sample works."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from purview_sync.dev.azurite import free_port

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = (
    "AzureWebJobsStorage", "QUALYTICS_API_URL", "QUALYTICS_API_TOKEN", "QUALYTICS_UI_URL", "SECRET_ENCRYPTION_KEY",
    "PURVIEW_ALLOWED_HOSTS", "AZURE_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE", "DEVHOST_FUNCTION_KEY", "EVENT_COALESCE_SECONDS", "SYNC_LOCK_TTL_SECONDS",
)  # fmt: skip


def test_the_local_run_on_its_embedded_defaults(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    port = free_port()
    log = (tmp_path / "devhost.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "purview_sync.devhost", "--port", str(port), "--state-dir", str(tmp_path / "state")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    try:
        banner = ""
        deadline = time.monotonic() + 90
        while "Ctrl-C" not in banner:
            assert proc.poll() is None and time.monotonic() < deadline, banner + log.read()
            banner += proc.stdout.readline()  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/api/health", timeout=10).status_code == 200
        key = re.search(r"function key: (\S+)\)", banner).group(1)  # type: ignore[union-attr]
        body = json.loads(re.search(r"-d '(\{.*\})'", banner).group(1))  # type: ignore[union-attr]
        headers = {"x-functions-key": key}
        created = requests.post(f"{base}/api/integrations", json=body, headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        iid = created.json()["id"]
        started = requests.post(f"{base}/api/integrations/{iid}/sync", json={}, headers=headers, timeout=30)
        assert started.status_code == 202, started.text
        run_url = f"{base}/api/integrations/{iid}/syncs/{started.json()['id']}"
        while (run := requests.get(run_url, headers=headers, timeout=10).json())["status"] in ("running", "cancelling"):
            assert time.monotonic() < deadline + 60, run
            time.sleep(0.3)
        assert run["status"] == "completed", run
        by_name = {d["name"]: d for d in run["datastores"]}
        assert by_name["landing_zone"]["status"] == "skipped"
        assert by_name["finance_db.dbo"]["tables_matched"] == 3  # transactions, customers, v_daily_totals
        assert "staging_tmp" in by_name["finance_db.dbo"]["unmatched_sample"]
        assert by_name["finance_db.dbo"]["tags_added"] >= 3  # Credit Card Number, Email, Confidential, gold
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    assert proc.returncode == 0

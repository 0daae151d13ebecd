"""The run command's host as a newcomer meets it: ``python -m purview_sync.devhost`` with no settings starts
Azurite and the simulators with the sample estate, prints how to call it, and a sync of the sample works."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.local_run import local_run


def test_the_local_run_on_its_embedded_defaults(tmp_path: Path) -> None:
    with local_run(tmp_path) as host:
        assert requests.get(f"{host.base}/api/health", timeout=10).status_code == 200
        state = tmp_path / "state"  # where the purview-sync command finds this host and its key
        assert (state / "url").read_text().strip() == host.base
        assert (state / "function-key").read_text().strip() == host.key
        created = host.call("POST", "/integrations", json=host.connect_body)
        assert created.status_code == 201, created.text
        run = host.sync(created.json()["id"])
        assert run["status"] == "completed", run
        by_name = {d["name"]: d for d in run["datastores"]}
        assert by_name["landing_zone"]["status"] == "skipped"
        assert by_name["finance_db.dbo"]["tables_matched"] == 3  # transactions, customers, v_daily_totals
        assert "staging_tmp" in by_name["finance_db.dbo"]["unmatched_sample"]
        assert by_name["finance_db.dbo"]["tags_added"] >= 3  # Credit Card Number, Email, Confidential, gold
    assert host.returncode == 0
    assert not (tmp_path / "state" / "function-key").exists()  # a stopped host leaves no key behind

"""One Purview budget for all instances, end to end: two devhost processes (two instances of the app) on one
storage account share ``PURVIEW_MAX_OPS_PER_SECOND``; the Purview simulator counts what they send together.

The hosts use their own Azurite so that the session's in-process devhost cannot take their messages."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from purview_sync.dev.azurite import Azurite
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.storage.budget import BudgetRepo
from tests.hardening import HostProcess, build_estate, services_on, wait_for_run

BUDGET = 15  # requests per second, both hosts together
WINDOW = 5.0


def host_env(local: LocalEnvironment, azurite: Azurite) -> dict[str, str]:
    return {
        **local.env(),
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_FUNCTION_KEY": "fleet-test-key",
        "PURVIEW_MAX_OPS_PER_SECOND": str(BUDGET),
        "EVENT_COALESCE_SECONDS": "2",
    }


class Counter:
    """The Purview simulator's request count (429s included), sampled every 50 ms."""

    def __init__(self, local: LocalEnvironment) -> None:
        assert local.purview
        self.stats = local.purview.server.stats
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), sum(self.stats.values())))
            time.sleep(0.05)

    def __enter__(self) -> Counter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def worst_window(self) -> int:
        worst = 0
        for i, (start, count) in enumerate(self.samples):
            later = [c for t, c in self.samples[i:] if t <= start + WINDOW]
            worst = max(worst, later[-1] - count)
        return worst


@pytest.mark.timeout(180)
def test_two_hosts_on_one_storage_stay_within_the_shared_budget(
    local: LocalEnvironment, own_azurite: Azurite, tmp_path: Path
) -> None:
    assert local.purview
    estate = build_estate(local, [4] * 12)  # 12 datastores: both hosts take messages
    env = host_env(local, own_azurite)
    hosts = [HostProcess(env, tmp_path / f"host{i}.log").start() for i in range(2)]
    board = BudgetRepo(services_on(own_azurite.connection_string).storage)
    purview_host = local.purview.url.split("://", 1)[1].split("/", 1)[0].lower()
    seen_instances: set[str] = set()
    try:
        resp = hosts[0].api.post("/integrations", json=local.connect_body())
        assert resp.status_code == 201, resp.text
        iid = resp.json()["id"]
        with Counter(local) as counter:
            resp = hosts[0].api.post(f"/integrations/{iid}/sync", json={"datastore_ids": [d.id for d in estate]})
            assert resp.status_code == 202, resp.text
            run_id = resp.json()["id"]
            deadline = time.monotonic() + 150
            while True:
                seen_instances |= {p.instance for p in board.read(purview_host).peers if p.wants}
                view = hosts[1].api.get(f"/integrations/{iid}/syncs/{run_id}").json()
                if view["status"] not in ("running", "cancelling"):
                    break
                assert time.monotonic() < deadline, view
                time.sleep(0.2)
            run = wait_for_run(hosts[0].api, iid, run_id, timeout=10)
        assert run["status"] == "completed", run
        total = counter.samples[-1][1] - counter.samples[0][1]
        elapsed = counter.samples[-1][0] - counter.samples[0][0]
        assert total > 2 * BUDGET * WINDOW, (total, elapsed)  # long enough for several full windows
        worst = counter.worst_window()
        print(f"fleet: worst {WINDOW:.0f} s window {worst} requests, {total} in {elapsed:.1f} s")
        assert worst <= 1.1 * BUDGET * WINDOW, (worst, total, elapsed)
        assert len(seen_instances) == 2, seen_instances  # both hosts sent to Purview, each with its share

        # a host that stops gives its share back at once: its row leaves the board (the other one's stays
        # until it has been idle for a while)
        rows = {p.instance for p in board.read(purview_host).peers}
        assert rows == seen_instances, rows
        hosts[1].stop()
        deadline = time.monotonic() + 5
        while len({p.instance for p in board.read(purview_host).peers}) != 1:
            assert time.monotonic() < deadline, board.read(purview_host)
            time.sleep(0.1)
    finally:
        for host in hosts:
            host.stop()

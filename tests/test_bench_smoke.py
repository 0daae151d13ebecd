"""The benchmark (bench/, run by bench/run.py) on a tiny estate, so it cannot rot: the same code path — seed both
simulators, connect through the HTTP API, cold push, warm re-push, pull, the naive baseline, the report —
against the suite's Azurite, simulators and devhost, with no latency and no rate limit."""

from __future__ import annotations

import time

from bench.hosts import InProcessHost
from bench.measure import import_time
from bench.report import report, targets
from bench.scenario import Config, run_bench
from purview_sync.dev.host import DevHost
from purview_sync.dev.local_env import LocalEnvironment


def test_bench_runs_end_to_end_on_a_tiny_estate(local: LocalEnvironment, devhost: DevHost) -> None:
    started = time.monotonic()
    config = Config(
        tables=5, columns=3, latency=0.0, rate=None, change=0.1, classified=0.5, baseline_tables=2
    )
    result = run_bench(local, InProcessHost(devhost.url, devhost.function_key), config,
                       measure_imports=False, log=lambda _: None)  # fmt: skip
    assets = 1 + 5 + 5 * 3  # the schema, the tables, the columns
    cold, warm, pulled = (result.phase(n) for n in ("cold push", "warm re-push", "pull"))

    for phase in (cold, warm, pulled, result.baseline):
        assert phase.problems == [], (phase.name, phase.problems)  # values / tags checked in the simulators
    assert [p.run_status for p in result.phases] == ["completed/completed"] * 3
    assert cold.assets == assets and cold.checked == f"{assets}/{assets} values right"

    # cold: every asset written once, four values each (every seeded asset has a score)
    assert cold.writes == assets and cold.entry["attributes_written"] == 4 * assets
    assert cold.throttled == 0 and cold.reads / assets <= 0.5
    # warm: only the changed scores are written
    assert result.changed_assets == 2
    assert warm.writes == 2 and warm.entry["attributes_written"] == 2
    assert warm.entry["attributes_unchanged"] == 4 * assets - 2
    # pull: the classified tables (0, 2, 4) get a classification and a label, one column each a classification
    assert result.wanted_tags == 9 and pulled.entry["tags_added"] == 9 and pulled.writes == 0
    assert pulled.qualytics.get("fields.patch") == 1 and pulled.qualytics.get("containers.patch") == 1
    # the naive baseline: one POST per entity, one search per table (+ the schema), on its 2-table sample
    naive = result.baseline
    assert naive.extrapolated_from == 1 + 2 + 2 * 3
    assert naive.purview["bm_write"] == naive.extrapolated_from and naive.purview["search"] == 3
    assert result.baseline_full_s > 0

    text = report(result)
    assert "cold push" in text and "naive baseline" in text and "targets:" in text
    assert any("warm re-push writes" in line for _, line in targets(result))

    imports = import_time(runs=1)
    assert 0 < imports["median_import_s"] < imports["median_process_s"]
    assert time.monotonic() - started < 30

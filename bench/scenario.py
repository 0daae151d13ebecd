"""The benchmark's scenario: seed, cold push, warm re-push, pull and the naive baseline, each measured
(``run_bench`` with a ``Config``), into one ``BenchResult``."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.estate import build_estate, change_scores, classify, ensure_access, verify_tags, verify_values
from bench.hosts import Api, Host, connect, sync
from bench.measure import Phase, import_time, machine, measure
from bench.naive import naive_push


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

"""The scale-out benchmark (issue 17), two scenarios side by side in one run:

1. **parts** — one datastore of ``--big-tables`` x ``--big-columns`` (4,000 x 24: 100,001 assets) pushed by one
   host with ``DATASTORE_TIME_BUDGET_SECONDS=60``; Purview's limit and ``PURVIEW_MAX_OPS_PER_SECOND`` both 250.
   Targets: every value right, ≥ 4 parts, wall ≤ 1.15 x assets / 250 s + reads / 250 s, host peak RSS ≤ 250 MB.
2. **fleet** — two hosts on one storage, 12 datastores x 100 tables x 20 columns, fleet budget 150 ops/s,
   Purview's limit 250: the aggregate request rate in every 5-second window ≤ 1.1 x 150, mean ≥ 0.9 x 150
   while writing, 429s ≤ 0.5 % of the requests, both hosts did work; and the same estate size on two hosts
   without the shared budget (``PURVIEW_MAX_OPS_PER_SECOND=0``, each host on its own) for the 429 count.

    .venv/bin/python -m bench.scale [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.estate import build_estate, ensure_access, verify_values
from bench.hosts import Api, SubprocessHost, connect, sync
from bench.measure import copy_counts, machine, ok_requests, throttled
from bench.run import environment
from purview_sync.settings import load_settings
from purview_sync.storage.budget import BudgetRepo
from purview_sync.storage.clients import StorageClients

WINDOW = 5.0
WRITE_KIND = "bm_group_write"


@dataclass
class Sampled:
    """Purview's request counter (429s included) and its writes, every 100 ms."""

    stats: Any
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (time, all requests, writes)

    def take(self) -> None:
        snap = copy_counts(self.stats)
        self.samples.append((time.perf_counter(), sum(snap.values()), snap.get(WRITE_KIND, 0)))

    def worst_window(self) -> int:
        worst = 0
        for i, (start, count, _) in enumerate(self.samples):
            inside = [c for t, c, _ in self.samples[i:] if t <= start + WINDOW]
            worst = max(worst, inside[-1] - count)
        return worst

    def write_rate(self) -> float:
        """All requests per second from the first to the last write."""
        writes = [s[2] for s in self.samples]
        if writes[-1] == writes[0]:
            return 0.0
        first = next(i for i, w in enumerate(writes) if w > writes[0])
        last = next(i for i, w in enumerate(writes) if w == writes[-1])
        (t0, n0, _), (t1, n1, _) = self.samples[first], self.samples[last]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


def sampling(stats: Any, stop: threading.Event, into: Sampled, also: Any = None) -> threading.Thread:
    def run() -> None:
        while not stop.wait(0.1):
            into.take()
            if also is not None:
                also()

    into.take()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@dataclass
class PartsResult:
    assets: int
    wall_s: float
    reads: int
    writes: int
    throttled: int
    parts: int
    status: str
    values_right: int
    peak_rss_mb: float
    host_cpu_s: float
    limit_s: float  # 1.15 x assets / 250 + reads / 250


@dataclass
class FleetResult:
    label: str
    budget: int
    assets: int
    wall_s: float
    requests: int
    throttled: int
    worst_window_per_s: float
    write_phase_per_s: float
    instances_seen: int
    host_cpu_s: list[float]
    status: str
    values_right: int


def host_with(local: Any, workdir: Path, name: str, **settings: str) -> SubprocessHost:
    return SubprocessHost({**local.env(), **settings}, workdir / f"{name}.log").start()


def parts_scenario(local: Any, workdir: Path, tables: int, columns: int, log: Any) -> PartsResult:
    tag = secrets.token_hex(3)
    log(f"parts: seeding {tables} x {columns} ...")
    estate = build_estate(local, f"big_{tag}", tables, columns)
    host = host_with(local, workdir, "parts-host", DATASTORE_TIME_BUDGET_SECONDS="60",
                     PURVIEW_MAX_OPS_PER_SECOND="250")  # fmt: skip
    try:
        api = Api(host)
        integration = connect(api, local)
        before, cpu = copy_counts(local.purview.server.stats), host.cpu_seconds()
        log(f"parts: pushing {estate.asset_count} assets ...")
        start = time.perf_counter()
        run = sync(api, integration, {"datastore_ids": [estate.ds], "push": True, "pull": False}, 3600)
        wall = time.perf_counter() - start
        after = copy_counts(local.purview.server.stats)
        delta = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
        entry = run["datastores"][0]
        writes = delta.get(WRITE_KIND, 0)
        reads = ok_requests(delta) - writes  # type: ignore[arg-type]
        problems = verify_values(local, estate)
        return PartsResult(
            assets=estate.asset_count, wall_s=wall, reads=reads, writes=writes,
            throttled=throttled(delta),  # type: ignore[arg-type]
            parts=int(entry.get("parts") or 0), status=f"{run['status']}/{entry['status']}",
            values_right=estate.asset_count - len(problems), peak_rss_mb=host.peak_rss() / 2**20,
            host_cpu_s=host.cpu_seconds() - cpu, limit_s=1.15 * estate.asset_count / 250 + reads / 250,
        )  # fmt: skip
    finally:
        host.stop()


def fleet_scenario(local: Any, workdir: Path, label: str, budget: int, datastores: int, tables: int,
                   columns: int, log: Any) -> FleetResult:  # fmt: skip
    tag = secrets.token_hex(3)
    log(f"fleet ({label}): seeding {datastores} x {tables} x {columns} ...")
    estates = [build_estate(local, f"fleet_{tag}_{i}", tables, columns) for i in range(datastores)]
    hosts = [host_with(local, workdir, f"fleet-{label}-{i}", PURVIEW_MAX_OPS_PER_SECOND=str(budget))
             for i in range(2)]  # fmt: skip
    board = BudgetRepo(StorageClients(load_settings_for(local)))
    account = local.purview.url.split("://", 1)[1].split("/", 1)[0].lower()
    seen: set[str] = set()

    def look() -> None:
        try:
            seen.update(p.instance for p in board.read(account).peers if p.wants)
        except Exception:
            pass

    try:
        api = Api(hosts[0])
        integration = connect(api, local)
        cpu = [h.cpu_seconds() for h in hosts]
        sampled, stop = Sampled(local.purview.server.stats), threading.Event()
        before = copy_counts(local.purview.server.stats)
        thread = sampling(local.purview.server.stats, stop, sampled, look)
        log(f"fleet ({label}): pushing {sum(e.asset_count for e in estates)} assets on 2 hosts ...")
        start = time.perf_counter()
        run = sync(api, integration, {"datastore_ids": [e.ds for e in estates], "push": True, "pull": False},
                   3600)  # fmt: skip
        wall = time.perf_counter() - start
        stop.set()
        thread.join()
        after = copy_counts(local.purview.server.stats)
        delta = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
        right = sum(e.asset_count - len(verify_values(local, e)) for e in estates)
        return FleetResult(
            label=label, budget=budget, assets=sum(e.asset_count for e in estates), wall_s=wall,
            requests=sum(delta.values()), throttled=throttled(delta),  # type: ignore[arg-type]
            worst_window_per_s=sampled.worst_window() / WINDOW, write_phase_per_s=sampled.write_rate(),
            instances_seen=len(seen), host_cpu_s=[h.cpu_seconds() - c for h, c in zip(hosts, cpu, strict=True)],
            status=str(run["status"]), values_right=right,
        )  # fmt: skip
    finally:
        for host in hosts:
            host.stop()


def load_settings_for(local: Any) -> Any:
    saved = dict(os.environ)
    os.environ.update(local.env())
    try:
        return load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def targets(parts: PartsResult, fleet: FleetResult, unshared: FleetResult) -> list[tuple[bool, str]]:
    return [
        (parts.values_right == parts.assets and parts.status == "completed/completed",
         f"parts: {parts.values_right}/{parts.assets} values right, {parts.status}"),
        (parts.parts >= 4, f"parts: {parts.parts} parts (≥ 4)"),
        (parts.wall_s <= parts.limit_s, f"parts: wall {parts.wall_s:.0f} s (≤ {parts.limit_s:.0f} s)"),
        (parts.peak_rss_mb <= 250, f"parts: host peak RSS {parts.peak_rss_mb:.0f} MB (≤ 250)"),
        (fleet.worst_window_per_s <= 1.1 * fleet.budget,
         f"fleet: worst 5 s window {fleet.worst_window_per_s:.1f}/s (≤ {1.1 * fleet.budget:.0f})"),
        (fleet.write_phase_per_s >= 0.9 * fleet.budget,
         f"fleet: {fleet.write_phase_per_s:.1f}/s while writing (≥ {0.9 * fleet.budget:.0f})"),
        (fleet.throttled <= 0.005 * fleet.requests,
         f"fleet: {fleet.throttled} 429s of {fleet.requests} requests (≤ 0.5 %); without the shared budget "
         f"{unshared.throttled} of {unshared.requests}"),
        (fleet.instances_seen == 2 and min(fleet.host_cpu_s) > 1.0,
         f"fleet: {fleet.instances_seen} instances on the budget board, host CPU {fleet.host_cpu_s}"),
        (fleet.values_right == fleet.assets, f"fleet: {fleet.values_right}/{fleet.assets} values right"),
    ]


def report(parts: PartsResult, fleet: FleetResult, unshared: FleetResult, info: dict[str, str]) -> str:
    lines = [f"machine: {info}", "",
             "| scenario | assets | wall s | Purview requests | 429s | parts | worst 5 s window /s | "
             "write phase /s | host peak RSS MB | host CPU s | result |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    lines.append(
        f"| parts (1 host, budget 60 s, 250/s) | {parts.assets:,} | {parts.wall_s:.1f} | "
        f"{parts.reads + parts.writes:,} ({parts.reads:,} / {parts.writes:,}) | {parts.throttled} | {parts.parts} | "
        f"– | {parts.writes / parts.wall_s:.0f} (writes/wall) | {parts.peak_rss_mb:.0f} | {parts.host_cpu_s:.1f} | "
        f"{parts.status}, {parts.values_right:,}/{parts.assets:,} right |"
    )
    for f in (fleet, unshared):
        lines.append(
            f"| fleet {f.label} (2 hosts, budget {f.budget or 'none'}) | {f.assets:,} | {f.wall_s:.1f} | "
            f"{f.requests:,} | {f.throttled} | – | {f.worst_window_per_s:.1f} | {f.write_phase_per_s:.1f} | – | "
            f"{' + '.join(f'{c:.1f}' for c in f.host_cpu_s)} | {f.status}, {f.values_right:,}/{f.assets:,} right |"
        )
    lines.append("")
    lines += [("met    " if ok else "MISSED ") + text for ok, text in targets(parts, fleet, unshared)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--big-tables", type=int, default=4000)
    parser.add_argument("--big-columns", type=int, default=24)
    parser.add_argument("--fleet-datastores", type=int, default=12)
    parser.add_argument("--fleet-tables", type=int, default=100)
    parser.add_argument("--fleet-columns", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="purview-bench-scale-"))
    load = os.getloadavg()[0]

    def log(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)

    with environment(workdir) as local:
        ensure_access(local)
        local.purview.server.set_faults(latency_s=0.02, rate_limit_per_s=250.0)
        try:
            parts = parts_scenario(local, workdir, args.big_tables, args.big_columns, log)
            shape = (args.fleet_datastores, args.fleet_tables, args.fleet_columns)
            fleet = fleet_scenario(local, workdir, "shared", 150, *shape, log)
            unshared = fleet_scenario(local, workdir, "unshared", 0, *shape, log)
        finally:
            local.purview.server.set_faults(latency_s=0.0, rate_limit_per_s=None)
    info = machine(load)
    print(report(parts, fleet, unshared, info))
    print(f"host logs: {workdir}")
    if args.json:
        args.json.write_text(json.dumps({"parts": asdict(parts), "fleet": asdict(fleet),
                                         "unshared": asdict(unshared), "machine": info}, indent=2))  # fmt: skip
    return 0 if all(ok for ok, _ in targets(parts, fleet, unshared)) else 1


if __name__ == "__main__":
    sys.exit(main())

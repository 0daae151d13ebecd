"""How the benchmark reports a ``BenchResult``: the table of phases, requests by kind, the import time, and
the targets (``targets``) each marked ok or MISSED."""

from __future__ import annotations

from bench.scenario import BenchResult


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

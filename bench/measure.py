"""What the benchmark measures: the simulators' request counters around a phase (``measure`` → ``Phase``),
the write window, ``import function_app`` in fresh interpreters, and the machine it ran on."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.estate import Estate
from bench.hosts import PROJECT_ROOT, Host

WRITE_KINDS = ("bm_group_write", "bm_write")
TYPEDEF_WRITE_KINDS = ("typedefs_create", "typedefs_update")


def copy_counts(stats: Counter[str]) -> Counter[str]:
    """A copy of a simulator's live counter (its server threads may add a key while we copy)."""
    while True:
        try:
            return Counter(dict(stats))
        except RuntimeError:
            continue


def _delta(after: Counter[str], before: Counter[str]) -> Counter[str]:
    return Counter({k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)})


def ok_requests(stats: Counter[str]) -> int:
    """Requests the service answered itself (not with an injected 429/5xx)."""
    return sum(v for k, v in stats.items() if ":" not in k)


def throttled(stats: Counter[str]) -> int:
    return sum(v for k, v in stats.items() if k.endswith(":429"))


class Sampler:
    """Samples the Purview simulator's counters to find the write phase (first to last write)."""

    def __init__(self, stats: Counter[str], every: float = 0.1) -> None:
        self.stats, self.every = stats, every
        self.samples: list[tuple[float, int, int]] = []  # (time, ok requests, writes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-sampler")

    def _take(self) -> None:
        snap = copy_counts(self.stats)
        self.samples.append((time.perf_counter(), ok_requests(snap), sum(snap[k] for k in WRITE_KINDS)))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._take()

    def __enter__(self) -> Sampler:
        self._take()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._take()

    def write_window(self) -> tuple[float, int] | None:
        """(seconds, Purview requests) from the sample before the first write to the first after the last."""
        writes = [s[2] for s in self.samples]
        if writes[-1] == writes[0]:
            return None
        first = next(i for i, w in enumerate(writes) if w > writes[0]) - 1
        last = next(i for i, w in enumerate(writes) if w == writes[-1])
        (t0, ok0, _), (t1, ok1, _) = self.samples[first], self.samples[last]
        return (t1 - t0, ok1 - ok0) if t1 > t0 else None


@dataclass
class Phase:
    name: str
    wall_s: float
    assets: int
    tables: int
    purview: dict[str, int]
    qualytics: dict[str, int]
    peak_rss: int
    host_cpu_s: float
    run_status: str
    entry: dict[str, Any]  # the datastore's entry of the run (counts, errors)
    write_window: tuple[float, int] | None = None
    checked: str = ""
    problems: list[str] = field(default_factory=list)
    extrapolated_from: int | None = None  # baseline: assets actually run

    @property
    def purview_ok(self) -> int:
        return ok_requests(Counter(self.purview))

    @property
    def writes(self) -> int:
        return sum(self.purview.get(k, 0) for k in WRITE_KINDS)

    @property
    def reads(self) -> int:
        return self.purview_ok - self.writes - sum(self.purview.get(k, 0) for k in TYPEDEF_WRITE_KINDS)

    @property
    def throttled(self) -> int:
        return throttled(Counter(self.purview))

    @property
    def qualytics_total(self) -> int:
        return sum(self.qualytics.values())

    @property
    def ops_per_s(self) -> float:
        return self.purview_ok / self.wall_s if self.wall_s else 0.0

    @property
    def window_ops_per_s(self) -> float | None:
        if not self.write_window:
            return None
        seconds, count = self.write_window
        return count / seconds


def measure(name: str, local: Any, host: Host, estate: Estate, work: Callable[[], dict[str, Any]]) -> Phase:
    p_before, q_before = copy_counts(local.purview.server.stats), copy_counts(local.qualytics.stats)
    cpu_before = host.cpu_seconds()
    with Sampler(local.purview.server.stats) as sampler:
        start = time.perf_counter()
        run = work()
        wall = time.perf_counter() - start
    entry = next((d for d in run.get("datastores", []) if d.get("datastore_id") == estate.ds), {})
    return Phase(
        name=name,
        wall_s=wall,
        assets=estate.asset_count,
        tables=len(estate.tables),
        purview=dict(_delta(copy_counts(local.purview.server.stats), p_before)),
        qualytics=dict(_delta(copy_counts(local.qualytics.stats), q_before)),
        peak_rss=host.peak_rss(),
        host_cpu_s=host.cpu_seconds() - cpu_before,
        run_status=f"{run.get('status')}/{entry.get('status')}",
        entry=entry,
        write_window=sampler.write_window(),
    )


def import_time(runs: int = 5) -> dict[str, Any]:
    """``import function_app`` in fresh interpreters: the import alone, and the whole process."""
    code = "import time; t = time.perf_counter(); import function_app; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    imports, processes = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, check=True,
                             capture_output=True, text=True)  # fmt: skip
        processes.append(time.perf_counter() - start)
        imports.append(float(out.stdout.strip()))
    trace = subprocess.run([sys.executable, "-X", "importtime", "-c", "import function_app"], cwd=PROJECT_ROOT,
                           env=env, check=True, capture_output=True, text=True).stderr  # fmt: skip
    rows = [(len(p[2]) - len(p[2].lstrip()), p[2].strip(), int(p[1])) for p in
            (line.split("|") for line in trace.splitlines()) if len(p) == 3 and p[1].strip().isdigit()]  # fmt: skip
    root = next(indent for indent, name, _ in rows if name == "function_app")
    top = {name: us for indent, name, us in rows if indent == root + 2}  # what function_app imports directly
    heaviest = sorted(top.items(), key=lambda kv: -kv[1])[:6]
    return {
        "import_s": imports,
        "process_s": processes,
        "median_import_s": statistics.median(imports),
        "median_process_s": statistics.median(processes),
        "heaviest_top_level_ms": {k: round(v / 1000) for k, v in heaviest},
    }


def machine(load_at_start: float) -> dict[str, str]:
    """The machine, and its 1-minute load average when the bench started and ended (other work on it skews
    the numbers)."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)  # fmt: skip
    ram = "unknown"
    with contextlib.suppress(OSError, AttributeError):
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": ram, "python": platform.python_version(),
            "platform": platform.platform(),
            "load_1m": f"{load_at_start:.2f} at start, {os.getloadavg()[0]:.2f} at end"}  # fmt: skip

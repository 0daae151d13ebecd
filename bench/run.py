"""Throughput of purview-sync against Purview's rate budget, side by side with the naive way: the command
line, which starts the simulators and the host process, runs ``bench.scenario`` and prints its report.

Run it (about 4 minutes at full size on 2 cores)::

    .venv/bin/python -m bench.run                       # 1 datastore x 1,000 tables x 25 columns
    .venv/bin/python -m bench.run --tables 1000 --columns 25 --latency 0.02 --rate 250 --baseline-tables 50

What it does, through the real queue function path (no shortcut into the product's Python):

* starts Azurite and the Entra / Purview / Qualytics simulators in this process, and the function app in
  a separate process (``python -m purview_sync.devhost --no-simulators``, the devhost serving the real
  ``function_app``) — so the host's peak RSS is its own and the simulators do not share its GIL;
* seeds one database (``--tables`` x ``--columns``) in both simulators and gives Purview ``--latency``
  seconds per request and a token-bucket limit of ``--rate`` requests/s (HTTP 429 + ``Retry-After`` beyond);
* connects an integration (``POST /api/integrations``) and runs, each as ``POST /sync`` polled to its end:
  1. cold push, 2. warm re-push after ``--change`` of the scores changed in Qualytics,
  3. pull, after classifications and labels were put on ``--classified`` of the tables in Purview;
* runs the **naive baseline** — what a pyapacheatlas script does: per table one Qualytics read of its fields,
  checks and anomalies, one Purview search, one entity GET, then one sequential business-metadata POST per
  entity — with ``requests`` against the same simulators, on a sample of ``--baseline-tables`` tables of its
  own database, extrapolated per asset to the full estate;
* measures the time of ``import function_app`` in fresh interpreters;
* checks every pushed value and pulled tag in the simulators, prints a table and the targets.

``--json results.json`` also writes every number. ``bench.scenario.run_bench`` is what
``tests/test_bench_smoke.py`` calls with a tiny estate and the test suite's own environment. The other
modules: ``bench.estate`` (seeding, checks), ``bench.hosts`` (the host, connect, sync), ``bench.measure``
(counters, phases, import time), ``bench.naive`` (the baseline), ``bench.report`` (table and targets).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.hosts import SubprocessHost
from bench.report import report, targets
from bench.scenario import Config, run_bench
from purview_sync.dev.local_env import LocalEnvironment


@contextlib.contextmanager
def environment(workdir: Path) -> Iterator[Any]:
    local = LocalEnvironment(workdir=workdir).start(estate=False)
    try:
        yield local
    finally:
        local.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    defaults = Config()
    parser.add_argument("--tables", type=int, default=defaults.tables)
    parser.add_argument("--columns", type=int, default=defaults.columns)
    parser.add_argument("--latency", type=float, default=defaults.latency, help="Purview seconds per request")
    parser.add_argument("--rate", type=float, default=defaults.rate, help="Purview requests/s; 0 = unlimited")
    parser.add_argument("--burst", type=float, default=None, help="token bucket size (default: rate)")
    parser.add_argument("--change", type=float, default=defaults.change)
    parser.add_argument("--classified", type=float, default=defaults.classified)
    parser.add_argument("--baseline-tables", type=int, default=defaults.baseline_tables)
    parser.add_argument("--no-imports", action="store_true", help="skip the import-time measurement")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--workdir", type=Path, help="TLS files and the host log (default: a temp dir)")
    args = parser.parse_args(argv)
    config = Config(tables=args.tables, columns=args.columns, latency=args.latency, rate=args.rate or None,
                    burst=args.burst, change=args.change, classified=args.classified,
                    baseline_tables=args.baseline_tables)  # fmt: skip
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="purview-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with environment(workdir) as local:
        # the fleet budget set to the account's capacity (the simulated limit), as an operator would
        budget = {"PURVIEW_MAX_OPS_PER_SECOND": str(int(config.rate or 0))}
        host = SubprocessHost({**local.env(), **budget}, workdir / "host.log").start()
        try:
            result = run_bench(local, host, config, measure_imports=not args.no_imports,
                               log=lambda m: print(m, file=sys.stderr, flush=True))  # fmt: skip
        finally:
            host.stop()
    print(report(result))
    print(f"host log: {workdir / 'host.log'}")
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=2, default=str))
    return 0 if all(ok for ok, _ in targets(result)) else 1


if __name__ == "__main__":
    sys.exit(main())

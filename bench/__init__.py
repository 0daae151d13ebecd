"""Throughput benchmark of purview-sync against the simulators (see ``bench/run.py`` and docs/performance.md)."""

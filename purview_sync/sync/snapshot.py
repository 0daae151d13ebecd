"""One datastore as Qualytics sees it now: tables, fields, and the active anomaly / check counts.

Counts per table and per column come from ONE paged listing of the datastore's active anomalies and
active checks (aggregated by container and field name), not from two requests per column.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from purview_sync.clients.qualytics import QualyticsClient


def _container_id(item: dict[str, Any]) -> int | None:
    container = item.get("container")
    if isinstance(container, dict):
        container = container.get("id")
    if container is None:
        container = item.get("container_id")
    return int(container) if container is not None else None


def _field_names(item: dict[str, Any]) -> list[str]:
    """A check names its fields; an anomaly names them through the checks it failed."""
    names: list[str] = []
    for value in item.get("fields") or []:
        names.append(str(value.get("name") if isinstance(value, dict) else value))
    for failed in item.get("failed_checks") or []:
        names += _field_names(failed.get("quality_check") or {})
    return names


@dataclass
class DatastoreSnapshot:
    datastore: dict[str, Any]
    tables: list[dict[str, Any]]
    fields_by_table: dict[int, list[dict[str, Any]]]
    anomalies_by_table: Counter[int] = field(default_factory=Counter)
    checks_by_table: Counter[int] = field(default_factory=Counter)
    anomalies_by_field: Counter[tuple[int, str]] = field(default_factory=Counter)
    checks_by_field: Counter[tuple[int, str]] = field(default_factory=Counter)
    quality_score: float | None = None
    counts_loaded: bool = False

    @property
    def id(self) -> int:
        return int(self.datastore["id"])

    @classmethod
    def load(
        cls,
        client: QualyticsClient,
        datastore: dict[str, Any],
        *,
        with_counts: bool,
        container_id: int | None = None,
    ) -> DatastoreSnapshot:
        ds_id = int(datastore["id"])
        tables = [
            t for t in client.list_tables(ds_id) if container_id is None or int(t["id"]) == container_id
        ]
        table_ids = {int(t["id"]) for t in tables}
        fields_by_table: dict[int, list[dict[str, Any]]] = {tid: [] for tid in table_ids}
        for fld in client.list_fields(ds_id):
            cid = _container_id(fld)
            if cid in table_ids:
                fields_by_table[cid].append(fld)  # type: ignore[index]
        snapshot = cls(datastore=datastore, tables=tables, fields_by_table=fields_by_table)
        if with_counts:
            snapshot.quality_score = client.latest_quality_score(ds_id)
            for item in client.list_active_anomalies(ds_id):
                snapshot._count(item, snapshot.anomalies_by_table, snapshot.anomalies_by_field)
            for item in client.list_active_checks(ds_id):
                snapshot._count(item, snapshot.checks_by_table, snapshot.checks_by_field)
            snapshot.counts_loaded = True
        return snapshot

    @staticmethod
    def _count(item: dict[str, Any], by_table: Counter[int], by_field: Counter[tuple[int, str]]) -> None:
        cid = _container_id(item)
        if cid is None:
            return
        by_table[cid] += 1
        for name in set(n.lower() for n in _field_names(item)):
            by_field[(cid, name)] += 1

"""The LineageMappings table: every Qualytics lineage edge pull created from a Purview process.

PartitionKey = integration id; RowKey = ``<target datastore>-<source container>-<target container>`` (zero
padded), so one datastore's rows are one RowKey range. A row is written *before* the edge is created (with
``edge_id`` None) and completed with the edge's id after, so a crash in between never leaves an edge of the
product's that looks like a user's; pull deletes only edges it has a row for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from purview_sync.storage.clients import TABLE_LINEAGE_MAPPINGS, StorageClients
from purview_sync.storage.tables import delete_partition, to_json


@dataclass
class LineageMapping:
    datastore_id: int  # the target container's datastore (whose pull owns the edge)
    source_container_id: int
    target_container_id: int
    edge_id: int | None = None  # None: intent recorded, the edge not (yet) created
    source_type: str | None = None  # what Qualytics accepted: purview | manual
    processes: list[str] = field(default_factory=list)  # Purview process guids the edge stands for
    description: str = ""

    @property
    def key(self) -> tuple[int, int]:
        return (self.source_container_id, self.target_container_id)


def _rk(datastore_id: int, source: int, target: int) -> str:
    return f"{datastore_id:012d}-{source:012d}-{target:012d}"


class LineageRepo:
    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_LINEAGE_MAPPINGS)

    @staticmethod
    def _from(e: dict[str, Any]) -> LineageMapping:
        edge = e.get("edge_id")
        return LineageMapping(
            datastore_id=int(e["datastore_id"]),
            source_container_id=int(e["source_container_id"]),
            target_container_id=int(e["target_container_id"]),
            edge_id=int(edge) if edge is not None else None,
            source_type=e.get("source_type"),
            processes=json.loads(e.get("processes") or "[]"),
            description=e.get("description") or "",
        )

    def list_for_datastore(self, integration_id: str, datastore_id: int) -> list[LineageMapping]:
        lo = f"{datastore_id:012d}-"
        rows = self.table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": integration_id, "lo": lo, "hi": lo[:-1] + "."},
        )
        return [self._from(e) for e in rows]

    def put(self, integration_id: str, row: LineageMapping) -> None:
        entity = {
            "PartitionKey": integration_id,
            "RowKey": _rk(row.datastore_id, row.source_container_id, row.target_container_id),
            "datastore_id": row.datastore_id,
            "source_container_id": row.source_container_id,
            "target_container_id": row.target_container_id,
            "edge_id": row.edge_id,
            "source_type": row.source_type,
            "processes": to_json(row.processes),
            "description": row.description[:1000],
        }
        self.table.upsert_entity({k: v for k, v in entity.items() if v is not None}, mode=UpdateMode.REPLACE)

    def delete(self, integration_id: str, row: LineageMapping) -> None:
        try:
            self.table.delete_entity(
                integration_id, _rk(row.datastore_id, row.source_container_id, row.target_container_id)
            )
        except ResourceNotFoundError:
            pass

    def delete_all(self, integration_id: str) -> None:
        delete_partition(self.table, integration_id)

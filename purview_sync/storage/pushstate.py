"""The PushState table: a hash of the ``Qualytics`` values push last wrote on each Purview asset.

Push compares with what the entity carries (``businessAttributes``); an account whose bulk GET leaves them out
would otherwise get every value rewritten on every run (issue 13 point 13). PartitionKey = integration id;
RowKey = ``<datastore id>-<container id>-<asset guid>`` (container 0 = the datastore's own asset), so the
rows of one slice of a datastore — a span of container ids — are one range read, whatever the datastore's
size (reading the whole datastore's rows for every slice grew with the square of its slices).
"""

from __future__ import annotations

from collections.abc import Iterable

from azure.data.tables import TableClient

from purview_sync.storage.clients import TABLE_PUSH_STATE, StorageClients
from purview_sync.storage.tables import delete_partition


class PushStateRepo:
    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_PUSH_STATE)

    @staticmethod
    def _key(datastore_id: int, container_id: int, guid: str = "") -> str:
        return f"{int(datastore_id):012d}-{int(container_id):012d}-{guid}"

    def hashes(self, integration_id: str, datastore_id: int, containers: Iterable[int]) -> dict[str, str]:
        """Asset guid → the hash of the values last written there, for the assets of these containers
        (0 = the datastore itself): one range read for the datastore's own row, one for the span of the
        tables (a slice's tables are contiguous in container-id order)."""
        wanted = set(containers)
        spans = [(0, 0)] if 0 in wanted else []
        tables = wanted - {0}
        if tables:
            spans.append((min(tables), max(tables)))
        found: dict[str, str] = {}
        width = len(self._key(datastore_id, 0))  # the RowKey before the guid
        for first, last in spans:
            rows = self.table.query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                parameters={
                    "pk": integration_id,
                    "lo": self._key(datastore_id, first),
                    "hi": self._key(datastore_id, last + 1),
                },
                select=["RowKey", "hash"],
            )
            found.update({e["RowKey"][width:]: str(e.get("hash") or "") for e in rows})
        return found

    def put_hashes(self, integration_id: str, datastore_id: int, hashes: dict[tuple[int, str], str]) -> None:
        """``(container id, asset guid)`` → hash; upserts in transactions of ≤ 100 (one partition)."""
        ops = [
            (
                "upsert",
                {
                    "PartitionKey": integration_id,
                    "RowKey": self._key(datastore_id, container, guid),
                    "hash": value,
                    "datastore_id": int(datastore_id),
                },
            )
            for (container, guid), value in hashes.items()
        ]
        for start in range(0, len(ops), 100):
            self.table.submit_transaction(ops[start : start + 100])  # type: ignore[arg-type]

    def delete_all(self, integration_id: str) -> None:
        delete_partition(self.table, integration_id)

"""The PushState table: a hash of the ``Qualytics`` values push last wrote on each Purview asset.

Push compares with what the entity carries (``businessAttributes``); an account whose bulk GET leaves them out
would otherwise get every value rewritten on every run (issue 13 point 13). PartitionKey = integration id;
RowKey = ``<datastore id>-<asset guid>``, so one datastore's rows are one range read.
"""

from __future__ import annotations

from azure.data.tables import TableClient

from purview_sync.storage.clients import TABLE_PUSH_STATE, StorageClients
from purview_sync.storage.tables import delete_partition


class PushStateRepo:
    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_PUSH_STATE)

    @staticmethod
    def _prefix(datastore_id: int) -> str:
        return f"{int(datastore_id):012d}-"

    def hashes(self, integration_id: str, datastore_id: int) -> dict[str, str]:
        """Asset guid → the hash of the values last written there, for one datastore."""
        prefix = self._prefix(datastore_id)
        rows = self.table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": integration_id, "lo": prefix, "hi": prefix[:-1] + "."},
            select=["RowKey", "hash"],
        )
        return {e["RowKey"][len(prefix) :]: str(e.get("hash") or "") for e in rows}

    def put_hashes(self, integration_id: str, datastore_id: int, hashes: dict[str, str]) -> None:
        """Upserts in transactions of ≤ 100 (one partition)."""
        prefix = self._prefix(datastore_id)
        rows = [
            {
                "PartitionKey": integration_id,
                "RowKey": prefix + guid,
                "hash": value,
                "datastore_id": int(datastore_id),
            }
            for guid, value in hashes.items()
        ]
        ops = [("upsert", row) for row in rows]
        for start in range(0, len(ops), 100):
            self.table.submit_transaction(ops[start : start + 100])  # type: ignore[arg-type]

    def delete_all(self, integration_id: str) -> None:
        delete_partition(self.table, integration_id)

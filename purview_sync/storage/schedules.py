"""Schedule claims: which due occurrence of an integration's schedule has been started, so that several
instances ticking at the same moment start it once.

One row per integration in its ``SyncRuns`` partition (RowKey ``schedule``, removed with the partition when the
integration is deleted) holding the last claimed ``due`` time (ISO-8601 UTC, one format, so it compares as
text). Claiming an occurrence creates the row or replaces it under its etag; whoever loses the race — the
create conflicts or the etag moved — did not claim it.
"""

from __future__ import annotations

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient

from purview_sync.storage.clients import TABLE_SYNC_RUNS, StorageClients
from purview_sync.storage.tables import replace_if_unchanged

CLAIM_RK = "schedule"


class ScheduleClaims:
    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_SYNC_RUNS)

    def claim(self, integration_id: str, due: str) -> bool:
        """True for exactly one caller per (integration, due occurrence)."""
        entity = {"PartitionKey": integration_id, "RowKey": CLAIM_RK, "due": due}
        try:
            current = self.table.get_entity(integration_id, CLAIM_RK)
        except ResourceNotFoundError:
            try:
                self.table.create_entity(entity)
                return True
            except ResourceExistsError:
                return False  # another instance claimed (this or a later occurrence) first
        if str(current.get("due") or "") >= due:
            return False
        return replace_if_unchanged(self.table, entity, current.metadata["etag"]) is not None

    def last_claimed(self, integration_id: str) -> str | None:
        try:
            return self.table.get_entity(integration_id, CLAIM_RK).get("due")
        except ResourceNotFoundError:
            return None

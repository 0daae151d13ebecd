"""The EventState table: per integration × datastore, when an event-driven push is due and when one last ran."""

from __future__ import annotations

from azure.data.tables import TableClient

from purview_sync.storage.clients import (
    TABLE_EVENTS,
    StorageClients,
)


class EventStateRepo:
    """Per integration × datastore: when an event-driven push is due (coalescing) and when one last ran."""

    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_EVENTS)

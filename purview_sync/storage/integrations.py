"""The Integrations table: one row per integration (its secret is only ever a reference)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from purview_sync.models import Integration, is_id
from purview_sync.storage.clients import (
    TABLE_INTEGRATIONS,
    StorageClients,
)
from purview_sync.storage.tables import to_json

INTEGRATION_PK = "integration"


class IntegrationRepo:
    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_INTEGRATIONS)

    @staticmethod
    def _to_entity(integration: Integration) -> dict[str, Any]:
        data = asdict(integration)
        return {
            "PartitionKey": INTEGRATION_PK,
            "RowKey": integration.id,
            **{k: v for k, v in data.items() if k not in ("id", "domains", "last_sync", "schedule")},
            "domains": to_json(integration.domains),
            "last_sync": to_json(integration.last_sync) if integration.last_sync else None,
            "schedule": to_json(integration.schedule) if integration.schedule else None,
        }

    @staticmethod
    def _from_entity(entity: dict[str, Any]) -> Integration:
        return Integration(
            id=entity["RowKey"],
            purview_url=entity["purview_url"],
            tenant_id=entity["tenant_id"],
            client_id=entity.get("client_id"),
            auth=entity["auth"],
            domains=json.loads(entity.get("domains") or "[]"),
            event_driven=bool(entity.get("event_driven")),
            overwrite_tags=bool(entity.get("overwrite_tags")),
            lineage=bool(entity.get("lineage")),
            dimension_scores=bool(entity.get("dimension_scores")),
            created_at=entity["created_at"],
            updated_at=entity["updated_at"],
            secret_ref=entity.get("secret_ref"),
            last_sync=json.loads(entity["last_sync"]) if entity.get("last_sync") else None,
            schedule=json.loads(entity["schedule"]) if entity.get("schedule") else None,
            next_run_at=entity.get("next_run_at"),
        )

    def create(self, integration: Integration) -> None:
        self.table.create_entity(self._to_entity(integration))

    def save(self, integration: Integration) -> None:
        self.table.upsert_entity(self._to_entity(integration), mode=UpdateMode.REPLACE)

    def get(self, integration_id: str) -> Integration | None:
        if not is_id(integration_id):
            return None
        try:
            return self._from_entity(self.table.get_entity(INTEGRATION_PK, integration_id))
        except ResourceNotFoundError:
            return None

    def list(self) -> list[Integration]:
        rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": INTEGRATION_PK})
        return sorted((self._from_entity(e) for e in rows), key=lambda i: i.created_at)

    def set_last_sync(self, integration_id: str, summary: dict[str, Any]) -> None:
        try:
            self.table.update_entity(
                {"PartitionKey": INTEGRATION_PK, "RowKey": integration_id, "last_sync": to_json(summary)},
                mode=UpdateMode.MERGE,
            )
        except ResourceNotFoundError:
            pass

    def move_next_run(self, integration_id: str, expected: str | None, following: str | None) -> bool:
        """Set ``next_run_at`` to ``following`` if the row still holds ``expected`` (an edit made meanwhile
        wins); etag-conditional, so of two movers only one writes."""
        try:
            entity = self.table.get_entity(INTEGRATION_PK, integration_id)
        except ResourceNotFoundError:
            return False
        if entity.get("next_run_at") != expected:
            return False
        try:
            self.table.update_entity(
                {"PartitionKey": INTEGRATION_PK, "RowKey": integration_id, "next_run_at": following},
                mode=UpdateMode.MERGE,
                etag=entity.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    def delete(self, integration_id: str) -> None:
        self.table.delete_entity(INTEGRATION_PK, integration_id)


# --- sync runs ------------------------------------------------------------------------------------

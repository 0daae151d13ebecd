"""Helpers shared by the Table Storage repositories: etag-conditional replace and JSON columns."""

from __future__ import annotations

import json
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode


def replace_if_unchanged(table: TableClient, entity: dict[str, Any], etag: str | None) -> str | None:
    """Replace ``entity`` only if its row still has ``etag``; the new etag, or None when someone else
    changed (or deleted) the row first."""
    try:
        meta = table.update_entity(
            entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
        )
    except (ResourceModifiedError, ResourceNotFoundError):
        return None
    return meta.get("etag", etag)


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def load_json_list(raw: str | None) -> list[Any]:
    try:
        return json.loads(raw or "[]")
    except json.JSONDecodeError:  # truncated by the 32 KB property limit
        return [{"message": "error list truncated", "action": "see the function logs"}]


def delete_partition(table: TableClient, partition_key: str) -> None:
    """Every row of one partition (an integration's rows of a table), one by one."""
    for e in table.query_entities("PartitionKey eq @pk", parameters={"pk": partition_key}, select=["RowKey"]):
        table.delete_entity(partition_key, e["RowKey"])

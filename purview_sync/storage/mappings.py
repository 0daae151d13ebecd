"""The TagMappings table: which Qualytics tag on which resource pull put there, and from which Purview source."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError

from purview_sync.storage.clients import (
    TABLE_TAG_MAPPINGS,
    StorageClients,
)
from purview_sync.storage.tables import delete_partition

TAG_KIND = "tag"  # resource_kind of the rows that record a tag itself as pull's (created or taken over)


@dataclass
class TagMapping:
    """One Qualytics tag on one Qualytics resource that pull put there (or took over).

    Rows with ``resource_kind == "tag"`` (``resource_id`` 0) record the tag itself: pull created it
    (``taken_over`` False — it may delete it once nothing uses it) or took over an existing tag of the same
    name (``taken_over`` True — never deleted). A created-row is written *before* the tag is created and a
    resource row *before* the tag is written onto the resource, so a crash in between leaves a claim that
    the redelivery completes, never a tag of pull's that looks like the user's.
    """

    resource_kind: str  # datastore | container | field | tag
    resource_id: int
    tag_name: str
    source: str  # the Purview classification / label it came from ("classification:X", "label:Y")
    taken_over: bool = False
    datastore_id: int | None = None  # the Qualytics datastore the resource belongs to
    claimed_at: str | None = None  # tag rows: when pull claimed the tag (ISO 8601, UTC)

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.resource_kind, self.resource_id, self.tag_name)


class MappingRepo:
    """The TagMappings table: PartitionKey = integration id; RowKey = kind, resource id, hash of the name."""

    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_TAG_MAPPINGS)

    @staticmethod
    def _rk(kind: str, resource_id: int, tag_name: str) -> str:
        digest = hashlib.sha256(tag_name.encode()).hexdigest()[:32]
        return f"{kind}-{resource_id:012d}-{digest}"

    @staticmethod
    def _from(e: dict[str, Any]) -> TagMapping:
        ds = e.get("datastore_id")
        return TagMapping(
            resource_kind=e["resource_kind"],
            resource_id=int(e["resource_id"]),
            tag_name=e["tag_name"],
            source=e.get("source") or "",
            taken_over=bool(e.get("taken_over")),
            datastore_id=int(ds) if ds is not None else None,
            claimed_at=e.get("claimed_at"),
        )

    def _entity(self, mapping: TagMapping) -> dict[str, Any]:
        return {
            "PartitionKey": "",  # set by the caller
            "RowKey": self._rk(mapping.resource_kind, mapping.resource_id, mapping.tag_name),
            **asdict(mapping),
        }

    def list(self, integration_id: str) -> list[TagMapping]:
        """Every row of the integration (resource rows and tag rows)."""
        rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": integration_id})
        return [self._from(e) for e in rows]

    def list_for_datastore(self, integration_id: str, datastore_id: int) -> list[TagMapping]:
        """The resource rows of one datastore (its own, its containers' and its fields')."""
        rows = self.table.query_entities(
            "PartitionKey eq @pk and datastore_id eq @ds",
            parameters={"pk": integration_id, "ds": int(datastore_id)},
        )
        return [m for m in map(self._from, rows) if m.resource_kind != TAG_KIND]

    def owned_tags(self, integration_id: str) -> dict[str, TagMapping]:
        """Tag name → the row saying pull created (or took over) that tag, for this integration."""
        prefix = f"{TAG_KIND}-"
        rows = self.table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": integration_id, "lo": prefix, "hi": prefix[:-1] + "."},
        )
        return {m.tag_name: m for m in map(self._from, rows)}

    def tag_in_use(self, tag_name: str) -> bool:
        """Whether any integration maps ``tag_name`` onto some resource (a scan, for few names only)."""
        rows = self.table.query_entities(
            "tag_name eq @name and resource_kind ne @tag",
            parameters={"name": tag_name, "tag": TAG_KIND},
            select=["RowKey"],
            results_per_page=1,
        )
        return next(iter(rows), None) is not None

    def all_tag_names(self) -> set[str]:
        return {e["tag_name"] for e in self.table.list_entities(select=["tag_name"])}

    def claim_tag(self, integration_id: str, row: TagMapping) -> bool:
        """Insert a ``tag`` row unless one exists (an existing claim is kept as it is); True if inserted."""
        try:
            self.table.create_entity({**self._entity(row), "PartitionKey": integration_id})
            return True
        except ResourceExistsError:
            return False

    def put(self, integration_id: str, mapping: TagMapping) -> None:
        self.put_many(integration_id, [mapping])

    def put_many(self, integration_id: str, mappings: list[TagMapping]) -> None:
        """Upserts in transactions of ≤ 100 (one partition)."""
        ops = [("upsert", {**self._entity(m), "PartitionKey": integration_id}) for m in mappings]
        for start in range(0, len(ops), 100):
            self.table.submit_transaction(ops[start : start + 100])  # type: ignore[arg-type]

    def delete(self, integration_id: str, mapping: TagMapping) -> None:
        try:
            self.table.delete_entity(
                integration_id, self._rk(mapping.resource_kind, mapping.resource_id, mapping.tag_name)
            )
        except ResourceNotFoundError:
            pass

    def delete_many(self, integration_id: str, mappings: list[TagMapping]) -> None:
        """Deletes in transactions of ≤ 100; a row already gone is not an error."""
        ops = [("delete", {"PartitionKey": integration_id, "RowKey": self._rk(*m.key)}) for m in mappings]
        for start in range(0, len(ops), 100):
            chunk = ops[start : start + 100]
            try:
                self.table.submit_transaction(chunk)  # type: ignore[arg-type]
            except (ResourceNotFoundError, TableTransactionError):
                for _, entity in chunk:  # one row was gone: the rest one by one
                    try:
                        self.table.delete_entity(integration_id, entity["RowKey"])
                    except ResourceNotFoundError:
                        pass

    def delete_all(self, integration_id: str) -> None:
        delete_partition(self.table, integration_id)

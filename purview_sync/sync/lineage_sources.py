"""Which matched Purview tables/views a computed container reads (DESIGN.md §5b).

A source is a Qualytics container; its Purview asset is the table/view the datastore's match found. The
datastore's own tables come from the match already made (no request); a container of another datastore of
the integration (a join's right side), or of this datastore during an event push of one table, is matched
on demand: one ``Matcher.match`` per datastore for all of its containers needed, cached for the push.
Whatever resolves to no matched asset is returned as unmatched, by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from purview_sync.sync.job import DatastoreJob, SyncContext
from purview_sync.sync.lineage_sql import QueryError, SourceRef, TableName, container_sources, query_tables
from purview_sync.sync.matcher import MatchedAsset, Matcher

TABLE_TYPES = ("table", "view")


@dataclass
class Sources:
    assets: list[MatchedAsset] = field(default_factory=list)  # in definition order, no duplicates
    unmatched: list[str] = field(default_factory=list)
    by_ref: dict[int, MatchedAsset] = field(default_factory=dict)  # container id → its asset (joins)


def _same(a: Any, b: Any) -> bool:
    return str(a or "").lower() == str(b or "").lower()


class SourceResolver:
    def __init__(self, job: DatastoreJob, context: SyncContext) -> None:
        self.job, self.context = job, context
        self.datastore = context.snapshot.datastore
        self.ds_id = int(self.datastore["id"])
        self._tables: dict[str, dict[str, Any]] | None = None
        # (datastore id, container id) → asset (None: looked for, not matched)
        self._assets: dict[tuple[int, int], MatchedAsset | None] = {
            (self.ds_id, cid): asset for cid, asset in context.match.tables.items()
        }
        self._names: dict[int, str] = {int(t["id"]): str(t.get("name")) for t in context.snapshot.tables}
        # a full push matched every table of the datastore already: what is not in the match is unmatched
        self._own_complete = job.container_id is None and context.complete

    # --- the datastore's own tables, by name (a computed table's query names them) -------------------
    def _own_tables(self) -> dict[str, dict[str, Any]]:
        if self._tables is None:
            tables = self.context.snapshot.tables
            if self.job.container_id is not None or not self.context.complete:  # one table, or one slice
                tables = list(self.context.qualytics.list_tables(self.ds_id))
            self._tables = {str(t.get("name", "")).lower(): t for t in tables}
        return self._tables

    def _table_for(self, ref: TableName) -> dict[str, Any] | None:
        if ref.database and not _same(ref.database, self.datastore.get("database")):
            return None
        if (
            ref.schema
            and self.datastore.get("schema")
            and not _same(ref.schema, self.datastore.get("schema"))
        ):
            return None
        return self._own_tables().get(ref.table.lower())

    # --- any container → its matched asset --------------------------------------------------------------
    def prefetch(self, computed: list[dict[str, Any]]) -> None:
        """Match, in one go per datastore, every container the computed containers read and not yet known."""
        wanted: dict[int, dict[int, dict[str, Any] | None]] = {}
        for container in computed:
            if container.get("container_type") == "computed_table":
                try:
                    names = query_tables(str(container.get("query") or ""))
                except QueryError:
                    continue
                for name in names:
                    table = self._table_for(name)
                    if (
                        table is not None
                        and not self._own_complete
                        and (self.ds_id, int(table["id"])) not in self._assets
                    ):
                        wanted.setdefault(self.ds_id, {})[int(table["id"])] = table
                continue
            for ref in container_sources(container):
                ds = ref.datastore_id or self.ds_id
                if ds == self.ds_id and self._own_complete:
                    continue
                if (ds, ref.container_id) not in self._assets:
                    wanted.setdefault(ds, {})[ref.container_id] = None
        for ds, containers in wanted.items():
            self._match(ds, containers)

    def _match(self, ds_id: int, containers: dict[int, dict[str, Any] | None]) -> None:
        qualytics = self.context.qualytics
        datastore = self.datastore if ds_id == self.ds_id else qualytics.get_datastore(ds_id)
        tables = []
        for cid, table in containers.items():
            self._assets[(ds_id, cid)] = None
            table = table or qualytics.get_container(cid)
            if table is None:
                continue
            self._names[cid] = str(table.get("name") or cid)
            if table.get("container_type", "table") == "table":
                tables.append(table)
        if datastore is None or not tables:
            return
        match = Matcher(self.context.purview, self.job.integration.domains).match(datastore, tables, {})
        for cid, asset in match.tables.items():
            self._assets[(ds_id, cid)] = asset

    def _asset(self, ref: SourceRef) -> MatchedAsset | None:
        return self._assets.get((ref.datastore_id or self.ds_id, ref.container_id))

    # --- one computed container --------------------------------------------------------------------------
    def sources(self, container: dict[str, Any]) -> Sources:
        out = Sources()
        seen: set[str] = set()

        def add(asset: MatchedAsset | None, label: str) -> None:
            if asset is None:
                out.unmatched.append(label)
            elif asset.guid not in seen:
                seen.add(asset.guid)
                out.assets.append(asset)

        if container.get("container_type") == "computed_table":
            try:
                names = query_tables(str(container.get("query") or ""))
            except QueryError as exc:
                out.unmatched.append(f"the query could not be parsed ({exc})")
                return out
            for name in names:
                table = self._table_for(name)
                asset = self._assets.get((self.ds_id, int(table["id"]))) if table is not None else None
                add(asset, str(name))
            return out
        for ref in container_sources(container):
            asset = self._asset(ref)
            if asset is not None:
                out.by_ref[ref.container_id] = asset
            add(asset, self._names.get(ref.container_id) or f"container {ref.container_id}")
        return out

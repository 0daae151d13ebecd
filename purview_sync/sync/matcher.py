"""Match a Qualytics datastore (database.schema.table.column) to Purview assets, by name, inside the
selected collections (DESIGN.md §5a, reference/purview-api.md §7).

Search finds the schema (or database) and the tables/views under it; table → columns comes from the
entities' ``relationshipAttributes.columns`` (bulk GET, ≤ 100 per call). Names compare case-insensitively
and URL-decoded; the datastore's host breaks ties; two candidates left → ``ambiguous``, never a guess.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from purview_sync.clients.purview import PurviewClient

log = logging.getLogger(__name__)

# typeName prefixes of the supported SQL sources → whether their qualifiedName carries an instance segment
FLAVOURS: dict[str, bool] = {
    "azure_sql": False,  # mssql://{server}.database.windows.net/{db}/{schema}/{table}#{column}
    "azure_sql_mi": False,  # mssql://{mi}.{zone}.database.windows.net:3342/{db}/...
    "azure_sql_dw": False,
    "azure_synapse_dedicated_sql": False,  # mssql://{ws}.sql.azuresynapse.net/{pool}/...
    "mssql": True,  # mssql://{host}/{instance}/{db}/{schema}/{table}
}
SCHEMA_TYPES = tuple(f"{p}_schema" for p in FLAVOURS)
DB_TYPES = tuple(f"{p}_db" for p in FLAVOURS)
TABLE_TYPES = tuple(f"{p}_table" for p in FLAVOURS)
VIEW_TYPES = tuple(f"{p}_view" for p in FLAVOURS)
COLUMN_TYPES = tuple(f"{p}_column" for p in FLAVOURS) + tuple(f"{p}_view_column" for p in FLAVOURS)
ALL_APPLICABLE_TYPES = DB_TYPES + SCHEMA_TYPES + TABLE_TYPES + VIEW_TYPES + COLUMN_TYPES


def flavour_of(type_name: str) -> str | None:
    for prefix in sorted(FLAVOURS, key=len, reverse=True):
        if type_name.startswith(prefix + "_"):
            return prefix
    return None


@dataclass(frozen=True)
class ParsedName:
    host: str
    database: str
    schema: str | None
    table: str | None = None


def parse_qualified_name(qualified_name: str, type_name: str) -> ParsedName | None:
    """``mssql://host[:port][/instance]/db[/schema[/table]]`` → its parts (decoded, as written)."""
    flavour = flavour_of(type_name)
    split = urlsplit(qualified_name.split("#", 1)[0])
    if flavour is None or split.scheme.lower() != "mssql":
        return None
    parts = [unquote(p) for p in split.path.strip("/").split("/") if p]
    if FLAVOURS[flavour]:
        parts = parts[1:]  # SQL Server: the instance segment
    if not parts:
        return None
    return ParsedName(
        host=(split.hostname or "").lower(),
        database=parts[0],
        schema=parts[1] if len(parts) > 1 else None,
        table=parts[2] if len(parts) > 2 else None,
    )


@dataclass
class MatchedAsset:
    guid: str
    qualified_name: str
    type_name: str
    business_attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    classifications: list[str] = field(default_factory=list)  # direct ones only (not propagated)
    labels: list[str] = field(default_factory=list)

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> MatchedAsset:
        guid = entity.get("guid", "")
        return cls(
            guid=guid,
            qualified_name=(entity.get("attributes") or {}).get("qualifiedName", ""),
            type_name=entity.get("typeName", ""),
            business_attributes=entity.get("businessAttributes") or {},
            classifications=[
                c["typeName"]
                for c in entity.get("classifications") or []
                if c.get("typeName") and c.get("entityGuid", guid) == guid
            ],
            labels=list(entity.get("labels") or []),
        )


@dataclass
class DatastoreMatch:
    """What matched; ``status`` is ``matched``, ``ambiguous``, ``outside_collections`` or ``not_found``."""

    status: str
    root: MatchedAsset | None = None  # the schema entity (the database entity when there is no schema)
    candidates: list[str] = field(default_factory=list)
    tables: dict[int, MatchedAsset] = field(default_factory=dict)  # Qualytics container id → asset
    columns: dict[int, MatchedAsset] = field(default_factory=dict)  # Qualytics field id → asset
    unmatched_tables: list[str] = field(default_factory=list)
    unmatched_columns: list[str] = field(default_factory=list)


def _any_of(key: str, values: Iterable[str]) -> dict[str, Any]:
    return {"or": [{key: v} for v in values]}


def _scope(domains: list[str]) -> list[dict[str, Any]]:
    return [_any_of("collectionId", domains)] if domains else []


def datastore_host(datastore: dict[str, Any]) -> str | None:
    connection = datastore.get("connection") or {}
    host = connection.get("host") or datastore.get("host")
    return str(host).lower().split(":")[0] if host else None


def _active(ref: dict[str, Any]) -> bool:
    return (ref.get("entityStatus") or "ACTIVE") == "ACTIVE" and (
        ref.get("relationshipStatus") or "ACTIVE"
    ) == "ACTIVE"


def _same_host(a: str, b: str) -> bool:
    a, b = a.split(":")[0], b.split(":")[0]
    return a == b or a.split(".")[0] == b.split(".")[0]


class Matcher:
    def __init__(self, purview: PurviewClient, domains: list[str]) -> None:
        self.purview = purview
        self.domains = domains

    def find_root(self, datastore: dict[str, Any]) -> DatastoreMatch:
        database = str(datastore.get("database") or "")
        schema = datastore.get("schema")
        types = SCHEMA_TYPES if schema else DB_TYPES
        wanted_name = str(schema) if schema else database

        def search(scoped: bool) -> list[dict[str, Any]]:
            clauses = [
                _any_of("entityType", types),
                {"attributeName": "name", "operator": "eq", "attributeValue": wanted_name},
            ]
            if scoped:
                clauses += _scope(self.domains)
            hits = []
            for hit in self.purview.search({"and": clauses}):
                parsed = parse_qualified_name(hit.get("qualifiedName", ""), hit.get("entityType", ""))
                if parsed is None or parsed.database.lower() != database.lower():
                    continue
                if schema and (parsed.schema or "").lower() != str(schema).lower():
                    continue
                if not schema and parsed.schema is not None:
                    continue
                hits.append(hit)
            return hits

        hits = search(scoped=True)
        if not hits:
            if self.domains and search(scoped=False):
                return DatastoreMatch(status="outside_collections")
            return DatastoreMatch(status="not_found")
        if len(hits) > 1:
            host = datastore_host(datastore)
            if host:
                same = [
                    h
                    for h in hits
                    if _same_host(parse_qualified_name(h["qualifiedName"], h["entityType"]).host, host)  # type: ignore[union-attr]
                ]
                hits = same or hits
        if len(hits) > 1:
            return DatastoreMatch(status="ambiguous", candidates=sorted(h["qualifiedName"] for h in hits))
        root_entity = self.purview.get_entity(hits[0]["id"])
        return DatastoreMatch(status="matched", root=MatchedAsset.from_entity(root_entity))

    def match(
        self,
        datastore: dict[str, Any],
        tables: list[dict[str, Any]],
        fields_by_table: dict[int, list[dict[str, Any]]],
    ) -> DatastoreMatch:
        result = self.find_root(datastore)
        if result.status != "matched" or result.root is None:
            return result
        root = result.root
        flavour = flavour_of(root.type_name) or "azure_sql"
        prefix = root.qualified_name.rstrip("/") + "/"
        filter_ = {
            "and": [
                _any_of("entityType", (f"{flavour}_table", f"{flavour}_view")),
                {"attributeName": "qualifiedName", "operator": "prefix", "attributeValue": prefix},
                *_scope(self.domains),
            ]
        }
        by_name: dict[str, dict[str, Any]] = {}
        for hit in self.purview.search(filter_):
            rest = hit.get("qualifiedName", "")[len(prefix) :]
            if (
                not hit.get("qualifiedName", "").lower().startswith(prefix.lower())
                or "/" in rest
                or "#" in rest
            ):
                continue
            by_name.setdefault(unquote(rest).lower(), hit)

        wanted: dict[str, dict[str, Any]] = {}
        for table in tables:
            hit = by_name.get(str(table.get("name", "")).lower())
            if hit is None:
                result.unmatched_tables.append(str(table.get("name")))
                continue
            wanted[hit["id"]] = table
        # table entities → direct classifications, labels, current values, and their columns
        column_guids: dict[str, tuple[int, dict[str, Any]]] = {}
        for entity in self.purview.get_entities(wanted):
            table = wanted.get(entity.get("guid", ""))
            if table is None:
                continue
            result.tables[int(table["id"])] = MatchedAsset.from_entity(entity)
            columns = {
                str(ref.get("displayText") or "").lower(): ref.get("guid")
                for ref in (entity.get("relationshipAttributes") or {}).get("columns") or []
                if ref.get("guid") and _active(ref)  # a dropped column may still be listed, as DELETED
            }
            for fld in fields_by_table.get(int(table["id"]), []):
                guid = columns.get(str(fld.get("name", "")).lower())
                if guid is None:
                    result.unmatched_columns.append(f"{table.get('name')}.{fld.get('name')}")
                else:
                    column_guids[guid] = (int(fld["id"]), fld)
        for entity in self.purview.get_entities(column_guids):
            entry = column_guids.get(entity.get("guid", ""))
            if entry is not None:
                result.columns[entry[0]] = MatchedAsset.from_entity(entity)
        for table_id in {int(t["id"]) for t in wanted.values()} - set(result.tables):
            name = next((t.get("name") for t in tables if int(t["id"]) == table_id), table_id)
            result.unmatched_tables.append(str(name))
        return result

"""Match a Qualytics datastore (database.schema.table.column) to Purview assets, by name, inside the
selected collections (DESIGN.md §5a, reference/purview-api.md §7).

Search finds the schema (or database): ``name eq`` first, and when that finds nothing (``eq`` may compare
case, or be refused) the schemas of those types in the collections, compared on our side. The schema's tables
and views come from its own ``relationshipAttributes`` (one GET, no search: ``prefix`` may be unsupported or
case-sensitive); a ``qualifiedName`` prefix search is the fallback when the entity lists none. Table →
columns comes from ``relationshipAttributes.columns`` (bulk GET, ≤ 100 per call). Search is eventually
consistent: a hit that a GET no longer finds (404) or finds deleted is skipped. Names compare
case-insensitively and URL-decoded; qualifiedNames are read from their end, so a SQL Server name parses with
or without its instance segment; the datastore's host breaks ties; two candidates left → ``ambiguous``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from purview_sync.clients.http import HttpError
from purview_sync.clients.purview import PurviewClient

log = logging.getLogger(__name__)

# typeName prefixes of the supported SQL sources; their qualifiedNames (reference §7), read from the end:
FLAVOURS = (
    "azure_sql",  # mssql://{server}.database.windows.net/{db}/{schema}/{table}#{column}
    "azure_sql_mi",  # mssql://{mi}.{zone}.database.windows.net:3342/{db}/...
    "azure_sql_dw",
    "azure_synapse_dedicated_sql",  # mssql://{ws}.sql.azuresynapse.net/{pool}/...
    "mssql",  # mssql://{host}[/{instance}]/{db}/{schema}/{table} — the instance segment is [U]
)
SCHEMA_TYPES = tuple(f"{p}_schema" for p in FLAVOURS)
DB_TYPES = tuple(f"{p}_db" for p in FLAVOURS)
TABLE_TYPES = tuple(f"{p}_table" for p in FLAVOURS)
VIEW_TYPES = tuple(f"{p}_view" for p in FLAVOURS)
COLUMN_TYPES = tuple(f"{p}_column" for p in FLAVOURS) + tuple(f"{p}_view_column" for p in FLAVOURS)
ALL_APPLICABLE_TYPES = DB_TYPES + SCHEMA_TYPES + TABLE_TYPES + VIEW_TYPES + COLUMN_TYPES
_DEPTH = {"db": 1, "schema": 2, "table": 3, "view": 3, "column": 3, "view_column": 3}  # path segments


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
    """``mssql://host[:port][/instance]/db[/schema[/table]]`` → its parts (decoded, as written).

    The type says how many path segments name the asset (db 1, schema 2, table / view / column 3), so they
    are taken from the end: whatever comes before them (a SQL Server instance, or nothing) is not needed."""
    flavour = flavour_of(type_name)
    split = urlsplit(qualified_name.split("#", 1)[0])
    if flavour is None or split.scheme.lower() != "mssql":
        return None
    depth = _DEPTH.get(type_name[len(flavour) + 1 :])
    parts = [unquote(p) for p in split.path.strip("/").split("/") if p]
    if depth is None or len(parts) < depth:
        return None
    parts = parts[-depth:]
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
    collection_id: str | None = None
    # guids of the Process entities that write this asset (relationshipAttributes.outputFromProcesses, active)
    output_from_processes: list[str] = field(default_factory=list)

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> MatchedAsset:
        guid = entity.get("guid", "")
        relationships = entity.get("relationshipAttributes") or {}
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
            collection_id=entity.get("collectionId"),
            output_from_processes=[
                str(ref["guid"])
                for ref in relationships.get("outputFromProcesses") or []
                if isinstance(ref, dict) and ref.get("guid") and _active(ref)
            ],
        )


@dataclass
class DatastoreMatch:
    """What matched; ``status`` is ``matched``, ``ambiguous``, ``outside_collections`` or ``not_found``."""

    status: str
    root: MatchedAsset | None = None  # the schema entity (the database entity when there is no schema)
    root_entity: dict[str, Any] | None = None  # as fetched (its relationshipAttributes list the tables)
    candidates: list[str] = field(default_factory=list)
    tables: dict[int, MatchedAsset] = field(default_factory=dict)  # Qualytics container id → asset
    columns: dict[int, MatchedAsset] = field(default_factory=dict)  # Qualytics field id → asset
    unmatched_tables: list[str] = field(default_factory=list)
    unmatched_columns: list[str] = field(default_factory=list)
    # what Purview has, for a preview's suggestions: table/view names under the root; column names per
    # matched table (keyed by the Qualytics table name)
    purview_tables: list[str] = field(default_factory=list)
    purview_columns: dict[str, list[str]] = field(default_factory=dict)


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


def _is_refusal(exc: HttpError) -> bool:
    """A search the account does not support (e.g. an operator): 400, not an outage or a missing role."""
    return exc.status == 400


class Matcher:
    def __init__(self, purview: PurviewClient, domains: list[str]) -> None:
        self.purview = purview
        self.domains = domains

    # --- the schema (or database) -------------------------------------------------------------------
    def _root_hits(self, datastore: dict[str, Any], *, scoped: bool) -> list[dict[str, Any]]:
        database = str(datastore.get("database") or "")
        schema = datastore.get("schema")
        types = SCHEMA_TYPES if schema else DB_TYPES
        wanted_name = str(schema) if schema else database

        def keep(hit: dict[str, Any]) -> bool:
            parsed = parse_qualified_name(hit.get("qualifiedName", ""), hit.get("entityType", ""))
            if parsed is None or parsed.database.lower() != database.lower():
                return False
            if schema:
                return (parsed.schema or "").lower() == str(schema).lower()
            return parsed.schema is None

        base = [_any_of("entityType", types), *(_scope(self.domains) if scoped else [])]
        named = {"attributeName": "name", "operator": "eq", "attributeValue": wanted_name}
        try:
            hits = [h for h in self.purview.search({"and": [*base, named]}) if keep(h)]
        except HttpError as exc:
            if not _is_refusal(exc):
                raise
            hits = []
        if not hits:  # `eq` may compare case (or be refused): list those types and compare on our side
            hits = [h for h in self.purview.search({"and": base}) if keep(h)]
        return list({h["id"]: h for h in hits if h.get("id")}.values())

    def find_root(self, datastore: dict[str, Any]) -> DatastoreMatch:
        hits = self._root_hits(datastore, scoped=True)
        if not hits:
            if self.domains and self._root_hits(datastore, scoped=False):
                return DatastoreMatch(status="outside_collections")
            return DatastoreMatch(status="not_found")
        # search lags the Data Map: a hit a GET no longer finds (or finds deleted) is skipped
        entities = [e for e in self.purview.get_entities([h["id"] for h in hits]) if _live(e)]
        if not entities:
            return DatastoreMatch(status="not_found")
        if len(entities) > 1:
            host = datastore_host(datastore)
            if host:
                same = [e for e in entities if _same_host(_entity_host(e), host)]
                entities = same or entities
        if len(entities) > 1:
            return DatastoreMatch(
                status="ambiguous", candidates=sorted(MatchedAsset.from_entity(e).qualified_name for e in entities)
            )
        root = MatchedAsset.from_entity(entities[0])
        return DatastoreMatch(status="matched", root=root, root_entity=entities[0])

    # --- its tables and views -----------------------------------------------------------------------
    def _table_refs(self, match: DatastoreMatch) -> dict[str, str] | None:
        """``{lower-case name: guid}`` of the root's tables and views, from its ``relationshipAttributes``
        (None when the entity lists none, e.g. a database root: then search is asked)."""
        assert match.root is not None
        relations = (match.root_entity or {}).get("relationshipAttributes") or {}
        refs = [
            ref
            for value in relations.values()
            if isinstance(value, list)
            for ref in value
            if isinstance(ref, dict) and ref.get("guid") and str(ref.get("typeName")) in _TABLE_LIKE
        ]
        if not refs and not any(key in relations for key in ("tables", "views")):
            return None
        named = {str(r["displayText"]).lower(): r["guid"] for r in refs if _active(r) and r.get("displayText")}
        match.purview_tables = [str(r["displayText"]) for r in refs if _active(r) and r.get("displayText")]
        unnamed = [r["guid"] for r in refs if _active(r) and not r.get("displayText")]
        for entity in self.purview.get_entities(unnamed) if unnamed else ():
            name = (entity.get("attributes") or {}).get("name")
            if name and _live(entity):
                named.setdefault(str(name).lower(), entity["guid"])
                match.purview_tables.append(str(name))
        return named

    def _searched_tables(self, match: DatastoreMatch) -> dict[str, str]:
        """The fallback: tables / views whose qualifiedName is the root's plus one segment."""
        assert match.root is not None
        flavour = flavour_of(match.root.type_name) or "azure_sql"
        prefix = match.root.qualified_name.rstrip("/") + "/"
        types = _any_of("entityType", (f"{flavour}_table", f"{flavour}_view"))
        by_prefix = {"attributeName": "qualifiedName", "operator": "prefix", "attributeValue": prefix}
        try:
            hits = list(self.purview.search({"and": [types, by_prefix, *_scope(self.domains)]}))
        except HttpError as exc:
            if not _is_refusal(exc):
                raise
            hits = []
        if not hits:  # `prefix` refused or case-sensitive: list those types, compare on our side
            hits = list(self.purview.search({"and": [types, *_scope(self.domains)]}))
        by_name: dict[str, str] = {}
        for hit in hits:
            qn = hit.get("qualifiedName", "")
            rest = qn[len(prefix) :]
            if not qn.lower().startswith(prefix.lower()) or "/" in rest or "#" in rest or not hit.get("id"):
                continue
            by_name.setdefault(unquote(rest).lower(), hit["id"])
            match.purview_tables.append(unquote(rest))
        return by_name

    def match(
        self,
        datastore: dict[str, Any],
        tables: list[dict[str, Any]],
        fields_by_table: dict[int, list[dict[str, Any]]],
    ) -> DatastoreMatch:
        found = self.find_root(datastore)
        if found.status != "matched" or found.root is None:
            return found
        return self.match_tables(found, self.table_index(found), tables, fields_by_table)

    def table_index(self, found: DatastoreMatch) -> dict[str, str]:
        """``{lower-case name: guid}`` of the matched root's tables and views (read once per part)."""
        by_name = self._table_refs(found)
        return self._searched_tables(found) if by_name is None else by_name

    def match_tables(
        self,
        found: DatastoreMatch,
        by_name: dict[str, str],
        tables: list[dict[str, Any]],
        fields_by_table: dict[int, list[dict[str, Any]]],
    ) -> DatastoreMatch:
        """Match these tables (all of the datastore's, or one slice of them) and their fields."""
        result = DatastoreMatch(status="matched", root=found.root, root_entity=found.root_entity)
        result.purview_tables = found.purview_tables  # (read by table_index)
        wanted: dict[str, dict[str, Any]] = {}
        for table in tables:
            guid = by_name.get(str(table.get("name", "")).lower())
            if guid is None:
                result.unmatched_tables.append(str(table.get("name")))
                continue
            wanted[guid] = table
        # table entities → direct classifications, labels, current values, and their columns
        column_guids: dict[str, tuple[int, dict[str, Any]]] = {}
        for entity in self.purview.get_entities(wanted):
            table = wanted.get(entity.get("guid", ""))
            if table is None or not _live(entity):
                continue
            result.tables[int(table["id"])] = MatchedAsset.from_entity(entity)
            refs = [
                ref
                for ref in (entity.get("relationshipAttributes") or {}).get("columns") or []
                if ref.get("guid") and _active(ref)  # a dropped column may still be listed, as DELETED
            ]
            columns = {str(ref.get("displayText") or "").lower(): ref.get("guid") for ref in refs}
            result.purview_columns[str(table.get("name"))] = [str(r.get("displayText") or "") for r in refs]
            for fld in fields_by_table.get(int(table["id"]), []):
                guid = columns.get(str(fld.get("name", "")).lower())
                if guid is None:
                    result.unmatched_columns.append(f"{table.get('name')}.{fld.get('name')}")
                else:
                    column_guids[guid] = (int(fld["id"]), fld)
        for entity in self.purview.get_entities(column_guids):
            entry = column_guids.get(entity.get("guid", ""))
            if entry is not None and _live(entity):
                result.columns[entry[0]] = MatchedAsset.from_entity(entity)
        for table_id in {int(t["id"]) for t in wanted.values()} - set(result.tables):
            name = next((t.get("name") for t in tables if int(t["id"]) == table_id), table_id)
            result.unmatched_tables.append(str(name))
        return result


_TABLE_LIKE = frozenset(TABLE_TYPES + VIEW_TYPES)


def _live(entity: dict[str, Any]) -> bool:
    return bool(entity.get("guid")) and (entity.get("status") or "ACTIVE") == "ACTIVE"


def _entity_host(entity: dict[str, Any]) -> str:
    qualified_name = (entity.get("attributes") or {}).get("qualifiedName", "")
    parsed = parse_qualified_name(qualified_name, entity.get("typeName", ""))
    return parsed.host if parsed else ""

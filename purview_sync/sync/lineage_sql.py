"""What a computed container reads, from its definition (reference/qualytics-lineage.md §2).

* ``computed_table``: the tables its ``query`` names, parsed with a real SQL parser (sqlglot, T-SQL dialect:
  the SQL sources this product supports). CTE names and subqueries are not sources; a name qualified with a
  schema is a table even when a CTE has the same name. Temp tables (``#t``) and table-valued functions are not
  tables of the datastore and are left out.
* ``computed_join``: ``sources[*]`` (SQL mode) or the left/right containers (ids or ``{id}`` objects); the
  left side lives in the join's own datastore, the right side in ``right_datastore_id`` (same when absent).
* ``computed_file``: ``source_container`` (object) or ``source_container_id``.

``column_pairs`` derives a one-to-one column mapping from a select list where every item is a plain column
(optionally aliased); a join's columns carry the side's prefix (``left_id`` = ``id`` of the left side [I]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from purview_sync.clients.qualytics import reference_id

DIALECT = "tsql"


@dataclass(frozen=True)
class TableName:
    """``[database.][schema.]table`` as written in a query (empty parts were not written)."""

    database: str
    schema: str
    table: str

    def __str__(self) -> str:
        return ".".join(p for p in (self.database, self.schema, self.table) if p)


@dataclass(frozen=True)
class SourceRef:
    """A container a join or a computed file reads: its id and (when the definition says) its datastore."""

    container_id: int
    datastore_id: int | None
    side: str | None = None  # "left" / "right" for a pairwise join
    prefix: str | None = None  # the join's column prefix of that side


class QueryError(ValueError):
    """The query could not be parsed."""


def query_tables(query: str) -> list[TableName]:
    """The tables a SQL query reads, without duplicates (ordered by where the parser finds them)."""
    try:
        trees = sqlglot.parse(query, read=DIALECT)
    except ParseError as exc:
        raise QueryError(str(exc).splitlines()[0]) from exc
    found: dict[tuple[str, str, str], TableName] = {}
    for tree in trees:
        if tree is None:
            continue
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            name = table.name
            ident = table.this
            if not name or not isinstance(ident, exp.Identifier):
                continue  # a table-valued function
            if ident.args.get("temporary") or ident.args.get("global_") or name.startswith("#"):
                continue  # a temp table (#t, ##t)
            if not table.db and not table.catalog and name.lower() in ctes:
                continue
            ref = TableName(table.catalog or "", table.db or "", name)
            found.setdefault((ref.database.lower(), ref.schema.lower(), ref.table.lower()), ref)
    return list(found.values())


def container_sources(container: dict[str, Any]) -> list[SourceRef]:
    """The containers a computed join / computed file reads (a computed table reads tables: see above)."""
    kind = container.get("container_type")
    own_ds = reference_id(container.get("datastore")) or reference_id(container.get("datastore_id"))
    if kind == "computed_file":
        cid = reference_id(container.get("source_container")) or reference_id(
            container.get("source_container_id")
        )
        return [SourceRef(cid, own_ds)] if cid is not None else []
    if kind != "computed_join":
        return []
    sources = container.get("sources")
    if isinstance(sources, list) and sources:
        refs = []
        for item in sorted(sources, key=lambda s: (s.get("ordinal") or 0) if isinstance(s, dict) else 0):
            cid = reference_id(item.get("container_id")) if isinstance(item, dict) else None
            if cid is not None:
                refs.append(SourceRef(cid, reference_id(item.get("datastore_id")) or own_ds))
        return refs
    refs = []
    for side in ("left", "right"):
        cid = reference_id(container.get(f"{side}_container_id")) or reference_id(
            container.get(f"{side}_container")
        )
        if cid is None:
            continue
        ds = own_ds if side == "left" else (reference_id(container.get("right_datastore_id")) or own_ds)
        refs.append(SourceRef(cid, ds, side, str(container.get(f"{side}_prefix") or side)))
    return refs


def column_pairs(select_clause: str | None) -> list[tuple[str, str]] | None:
    """``[(source column, sink column)]`` when every select item is a plain column; None otherwise."""
    if not select_clause or not select_clause.strip():
        return None
    try:
        tree = sqlglot.parse_one(f"SELECT {select_clause}", read=DIALECT)
    except ParseError:
        return None
    if not isinstance(tree, exp.Select):
        return None
    pairs = []
    for item in tree.expressions:
        column = item.unalias()
        if not isinstance(column, exp.Column) or isinstance(column.this, exp.Star):
            return None
        pairs.append((column.name, item.alias_or_name))
    return pairs or None

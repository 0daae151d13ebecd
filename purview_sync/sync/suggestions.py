"""A preview's near misses: for what did not match, the closest names that do exist in Purview.

For each unmatched Qualytics table, the table/view names of the matched Purview schema; for each unmatched
column of a matched table, the column names of that Purview table; for a datastore no schema matched, the
schemas (``database.schema``) in the integration's collections. Only names Purview returned are offered —
none is invented — and a name that already matched another Qualytics name is not offered again.

Similarity (0–100) of two names, compared lower-case with runs of non-alphanumerics as one ``_``:

* rapidfuzz ``fuzz.ratio`` (normalised Indel similarity: ``staging_tmp``/``staging`` 78, ``amount``/``amt`` 67);
* 90 when every word of the shorter name (words split at ``_``) is a word of the longer one and the shorter has
  at least 3 characters — a prefixed or suffixed rename (``cust_phone``/``phone``, ``email``/``email_addr``).

A candidate needs ``THRESHOLD`` (65) or more; at most ``MAX_CANDIDATES`` (3) per name, best first (ties by
name). A datastore's candidates need a close database name (the schema part only ranks them: 0.7 x database
+ 0.3 x schema). An entry lists only names with at least one candidate, up to ``MAX_SUGGESTIONS`` (50) per
datastore: ``{"kind": "table" | "column" | "datastore", "name": "customers.cust_phone", "candidates": [...]}``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

from rapidfuzz import fuzz

from purview_sync.clients.purview import PurviewClient
from purview_sync.sync.matcher import DB_TYPES, SCHEMA_TYPES, DatastoreMatch, parse_qualified_name
from purview_sync.sync.snapshot import DatastoreSnapshot

THRESHOLD = 65.0
CONTAINED_SCORE = 90.0
MIN_CONTAINED_LENGTH = 3
MAX_CANDIDATES = 3
MAX_SUGGESTIONS = 50
MAX_NAME = 100  # characters of a name kept in an entry (the run row has a size limit)
MAX_SCHEMAS = 5000  # schemas in scope read for a datastore's candidates

_SEPARATORS = re.compile(r"[^0-9a-z]+")


def _normal(name: str) -> str:
    return _SEPARATORS.sub("_", name.lower()).strip("_")


def similarity(a: str, b: str) -> float:
    """How alike two names are, 0–100 (see the module docstring)."""
    x, y = _normal(a), _normal(b)
    if not x or not y:
        return 0.0
    score = float(fuzz.ratio(x, y))
    short, long = sorted((x, y), key=len)
    if len(short) >= MIN_CONTAINED_LENGTH and set(short.split("_")) <= set(long.split("_")):
        score = max(score, CONTAINED_SCORE)
    return score


def closest(name: str, choices: Iterable[str], *, taken: Iterable[str] = ()) -> list[str]:
    """Up to ``MAX_CANDIDATES`` choices at ``THRESHOLD`` or above, best first; ``taken`` (any case) excluded."""
    excluded = {t.lower() for t in taken}
    scored: dict[str, float] = {}
    for choice in choices:
        if not choice or choice.lower() in excluded or choice.lower() == name.lower():
            continue
        score = similarity(name, choice)
        if score >= THRESHOLD and score > scored.get(choice, -1.0):
            scored[choice] = score
    ranked = sorted(scored.items(), key=lambda item: (-item[1], item[0]))
    return [choice[:MAX_NAME] for choice, _ in ranked[:MAX_CANDIDATES]]


def _entry(kind: str, name: str, candidates: list[str]) -> dict[str, Any]:
    return {"kind": kind, "name": name[:MAX_NAME], "candidates": candidates}


def for_match(snapshot: DatastoreSnapshot, match: DatastoreMatch) -> list[dict[str, Any]]:
    """Suggestions for the unmatched tables, then the unmatched columns of matched tables."""
    out: list[dict[str, Any]] = []
    tables = snapshot.tables
    matched_tables = [str(t.get("name")) for t in tables if int(t["id"]) in match.tables]
    for table in tables:
        if int(table["id"]) in match.tables:
            continue
        name = str(table.get("name"))
        candidates = closest(name, match.purview_tables, taken=matched_tables)
        if candidates:
            out.append(_entry("table", name, candidates))
            if len(out) >= MAX_SUGGESTIONS:
                return out
    for table in tables:
        if int(table["id"]) not in match.tables:
            continue
        name = str(table.get("name"))
        fields = snapshot.fields_by_table.get(int(table["id"]), [])
        matched = [str(f.get("name")) for f in fields if int(f["id"]) in match.columns]
        for fld in fields:
            if int(fld["id"]) in match.columns:
                continue
            candidates = closest(str(fld.get("name")), match.purview_columns.get(name, []), taken=matched)
            if candidates:
                out.append(_entry("column", f"{name}.{fld.get('name')}", candidates))
                if len(out) >= MAX_SUGGESTIONS:
                    return out
    return out


def for_datastore(
    purview: PurviewClient, domains: list[str], datastore: dict[str, Any]
) -> list[dict[str, Any]]:
    """A datastore no Purview schema matched: the closest ``database.schema`` names in the collections."""
    database = str(datastore.get("database") or "")
    schema = datastore.get("schema")
    types = SCHEMA_TYPES if schema else DB_TYPES
    clauses: list[dict[str, Any]] = [{"or": [{"entityType": t} for t in types]}]
    if domains:
        clauses.append({"or": [{"collectionId": d} for d in domains]})
    wanted = ".".join(str(p) for p in (database, schema) if p)
    scored: dict[str, float] = {}
    for hit in itertools.islice(purview.search({"and": clauses}), MAX_SCHEMAS):
        parsed = parse_qualified_name(hit.get("qualifiedName", ""), hit.get("entityType", ""))
        if parsed is None:
            continue
        db_score = similarity(database, parsed.database)
        if db_score < THRESHOLD:
            continue
        label = ".".join(p for p in (parsed.database, parsed.schema) if p)
        if label.lower() == wanted.lower():
            continue
        score = db_score
        if schema:
            score = 0.7 * db_score + 0.3 * similarity(str(schema), parsed.schema or "")
        scored[label] = max(score, scored.get(label, 0.0))
    ranked = sorted(scored.items(), key=lambda item: (-item[1], item[0]))
    candidates = [label[:MAX_NAME] for label, _ in ranked[:MAX_CANDIDATES]]
    return [_entry("datastore", wanted, candidates)] if candidates else []

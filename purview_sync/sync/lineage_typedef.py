"""The product's two lineage entity types (DESIGN.md §5b, reference/purview-lineage-and-import.md B2).

``qualytics_computed_table`` (superType ``DataSet``) is a Qualytics computed container in Purview;
``qualytics_computed_process`` (superType ``Process``, optional string ``columnMapping``) links the tables it
reads to it. Both carry ``serviceType`` ``Qualytics`` (grouped under "Browse by source type"). Names can never
change once created in a customer's account.

``ensure_lineage_typedefs`` makes both exist, then makes the ``Qualytics`` managed attribute group applicable
to ``qualytics_computed_table`` — once per process per Purview endpoint, race-safe like the group itself:
GET each entity def → one POST of the missing ones → a 409 (a concurrent creator) counts as success once a GET
sees the def → a process def without ``columnMapping`` gets it with a PUT.
"""

from __future__ import annotations

import copy
import logging
import threading
from typing import Any

from purview_sync.clients.http import HttpError
from purview_sync.clients.purview import PurviewClient
from purview_sync.sync.typedef import TypedefError, ensure_qualytics_typedef, refusal

log = logging.getLogger(__name__)

COMPUTED_TABLE = "qualytics_computed_table"
COMPUTED_PROCESS = "qualytics_computed_process"
SERVICE_TYPE = "Qualytics"
LINEAGE_TYPES = (COMPUTED_TABLE, COMPUTED_PROCESS)

COLUMN_MAPPING = {
    "name": "columnMapping",
    "typeName": "string",
    "isOptional": True,
    "cardinality": "SINGLE",
    "valuesMinCount": 0,
    "valuesMaxCount": 1,
    "isUnique": False,
    "isIndexable": False,
    "includeInNotification": False,
}


def entity_defs() -> dict[str, dict[str, Any]]:
    return {
        COMPUTED_TABLE: {
            "category": "ENTITY",
            "name": COMPUTED_TABLE,
            "description": "A Qualytics computed container (computed table, join or file)",
            "superTypes": ["DataSet"],
            "serviceType": SERVICE_TYPE,
            "typeVersion": "1.0",
            "attributeDefs": [],
        },
        COMPUTED_PROCESS: {
            "category": "ENTITY",
            "name": COMPUTED_PROCESS,
            "description": "How a Qualytics computed container is computed from the tables it reads",
            "superTypes": ["Process"],
            "serviceType": SERVICE_TYPE,
            "typeVersion": "1.0",
            "attributeDefs": [dict(COLUMN_MAPPING)],
        },
    }


_ensured: set[str] = set()
_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def forget_ensured() -> None:
    with _guard:
        _ensured.clear()


def ensure_lineage_typedefs(purview: PurviewClient) -> None:
    """Raises ``TypedefError`` for a refusal a person must fix; throttles and outages propagate."""
    key = purview.base_url.lower()
    if key in _ensured:
        return
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        if key in _ensured:
            return
        try:
            _ensure(purview)
        except HttpError as exc:
            refusal = _refusal(exc)
            if refusal is None:
                raise
            raise refusal from exc
        ensure_qualytics_typedef(purview, extra_types=(COMPUTED_TABLE,))
        _ensured.add(key)


def _ensure(purview: PurviewClient) -> None:
    wanted = entity_defs()
    existing = {name: purview.get_entity_def(name) for name in wanted}
    missing = [wanted[name] for name, found in existing.items() if found is None]
    if missing:
        try:
            purview.create_typedefs({"entityDefs": missing})
            log.info("created the lineage types %s in %s", [d["name"] for d in missing], purview.base_url)
        except HttpError as exc:
            if exc.status != 409:
                raise
            for d in missing:  # created meanwhile by someone else: create what is still missing, one by one
                existing[d["name"]] = purview.get_entity_def(d["name"])
                if existing[d["name"]] is None:
                    _create_one(purview, d)
        for d in missing:
            existing[d["name"]] = existing[d["name"]] or d
    process = existing[COMPUTED_PROCESS] or wanted[COMPUTED_PROCESS]
    names = {a.get("name") for a in process.get("attributeDefs") or []}
    if "columnMapping" not in names:
        update = copy.deepcopy(process)
        update["attributeDefs"] = [*(update.get("attributeDefs") or []), dict(COLUMN_MAPPING)]
        purview.update_typedefs({"entityDefs": [update]})
        log.info("added columnMapping to %s", COMPUTED_PROCESS)


def _create_one(purview: PurviewClient, d: dict[str, Any]) -> None:
    try:
        purview.create_typedefs({"entityDefs": [d]})
    except HttpError as exc:
        if exc.status != 409:
            raise


def _refusal(exc: HttpError) -> TypedefError | None:
    return refusal(
        exc,
        f"the lineage types {', '.join(LINEAGE_TYPES)}",
        "Check the entity types of that name in Purview: they must be DataSet / Process subtypes as the "
        "sync defines them (see the README, Lineage).",
    )

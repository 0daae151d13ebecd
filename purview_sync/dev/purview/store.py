"""PurviewStore: the state of one simulated Purview account (entities and their indexes, collections, role
grants, typedefs) and the in-process look-ups on it; the layer every other simulator part builds on.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from purview_sync.dev.purview.knobs import Knobs
from purview_sync.dev.purview.records import Collection, Entity, Rel, SimCall, now_ms
from purview_sync.dev.purview.vocab import CATEGORIES, GUID_NS, SYSTEM_CLASSIFICATIONS, builtin_entity_types
from purview_sync.dev.simserver import SimServer, Simulator
from purview_sync.dev.tls import DevTLS


class PurviewStore(Simulator):
    """The account's state; its mixins (``PurviewSim``'s bases) add seeding, rules, auth and routes."""

    def __init__(
        self,
        tls: DevTLS | None,
        *,
        account: str = "contoso",
        tenant_id: str,
        token_verifier: Callable[[str], dict[str, Any] | None],
        port: int = 0,
    ) -> None:
        self.account = account
        self.tenant_id = tenant_id
        self.token_verifier = token_verifier
        self.server = SimServer(
            f"purview-{account}", ssl_context=tls.server_context() if tls else None, port=port
        )
        self.collections_page_size = 50  # account plane page size [U]; tests lower it to exercise nextLink
        self.knobs = Knobs()  # the unknowns of a real account, one switch each (knobs.py)
        self.calls: deque[SimCall] = deque(maxlen=100_000)
        self._lock = threading.RLock()
        self._seq = itertools.count()
        self._internal_ids = itertools.count(9514774903018192)
        self._entities: dict[str, Entity] = {}
        self._by_type_qn: dict[tuple[str, str], str] = {}
        self._by_qn: dict[str, list[str]] = {}
        self._by_type: dict[str, set[str]] = {}
        self._by_collection: dict[str, set[str]] = {}
        self._by_classification: dict[str, set[str]] = {}
        self._by_name: dict[str, set[str]] = {}
        self._qn_sorted: list[tuple[str, str]] | None = None  # (lower qn, guid), rebuilt lazily
        # (DataSet guid, "inputToProcesses" | "outputFromProcesses") → process guids (dev/purview/lineage.py)
        self._lineage_of: dict[tuple[str, str], set[str]] = {}
        self._collections: dict[str, Collection] = {}
        self._grants: dict[str, dict[str, set[str]]] = {}
        # typedefs, by category
        self._defs: dict[str, dict[str, dict[str, Any]]] = {cat: {} for cat in CATEGORIES.values()}
        self._def_guids: dict[str, tuple[str, str]] = {}
        self._bm_applicable: dict[tuple[str, str], frozenset[str]] = {}
        self._ancestor_cache: dict[str, frozenset[str]] = {}
        self._def_lag: dict[str, int] = {}  # typedef name → GETs by name that still answer 404
        self._stale: dict[str, Entity] = {}  # purged entities search still returns (eventual consistency)
        self._applicable_cache: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        self._collections[account] = Collection(account, account, None, None, now_ms())
        for name, supers in builtin_entity_types().items():
            self._store_def("ENTITY", self._builtin_def("ENTITY", name, {"superTypes": list(supers)}))
        for name in SYSTEM_CLASSIFICATIONS:
            self._store_def("CLASSIFICATION", self._builtin_def("CLASSIFICATION", name, {"superTypes": []}))
        self._register_routes()

    def _register_routes(self) -> None:
        """Called last by ``__init__``, once the state exists; ``PurviewSim`` registers every route here."""

    # --- internal: entity store -----------------------------------------------------------------------
    def _create(
        self, type_name: str, attrs: dict[str, Any], collection: str, *, guid: str | None, who: str
    ) -> Entity:
        qn = str(attrs["qualifiedName"])
        if (type_name, qn) in self._by_type_qn:
            raise ValueError(f"{type_name} {qn!r} already exists")
        if guid is not None and guid in self._entities:
            raise ValueError(f"guid {guid} already exists")
        now = now_ms()
        entity = Entity(
            guid=guid or str(uuid.uuid4()),
            type_name=type_name,
            attributes=attrs,
            collection=collection,
            seq=next(self._seq),
            created_by=who,
            updated_by=who,
            create_time=now,
            update_time=now,
        )
        self._entities[entity.guid] = entity
        self._index(entity)
        return entity

    def _index(self, e: Entity) -> None:
        self._by_type_qn[(e.type_name, e.qualified_name)] = e.guid
        self._by_qn.setdefault(e.qualified_name, []).append(e.guid)
        self._by_type.setdefault(e.type_name, set()).add(e.guid)
        self._by_collection.setdefault(e.collection, set()).add(e.guid)
        self._by_name.setdefault(e.name.lower(), set()).add(e.guid)
        for c in e.classifications:
            self._by_classification.setdefault(c.type_name, set()).add(e.guid)
        self._qn_sorted = None

    def _unindex(self, e: Entity) -> None:
        self._by_type_qn.pop((e.type_name, e.qualified_name), None)
        guids = self._by_qn.get(e.qualified_name, [])
        if e.guid in guids:
            guids.remove(e.guid)
        self._by_type.get(e.type_name, set()).discard(e.guid)
        self._by_collection.get(e.collection, set()).discard(e.guid)
        self._by_name.get(e.name.lower(), set()).discard(e.guid)
        self._qn_sorted = None

    def _rel_guid(self, relationship_type: str, a: str, b: str) -> str:
        lo, hi = sorted((a, b))
        return str(uuid.uuid5(GUID_NS, f"{relationship_type}|{lo}|{hi}"))

    def _parse_seed_rel(self, entity: Entity, attr: str, value: Any) -> Rel | list[Rel] | None:
        if value is None:
            return None
        if isinstance(value, list):
            return [r for r in (self._parse_seed_rel(entity, attr, v) for v in value) if isinstance(r, Rel)]
        guid, rel_type = (
            (value, None) if isinstance(value, str) else (value["guid"], value.get("relationshipType"))
        )
        rel_type = rel_type or f"{entity.type_name}_{attr}"
        return Rel(guid, rel_type, self._rel_guid(rel_type, entity.guid, guid))

    def _collection_chain(self, name: str) -> list[str]:
        chain: list[str] = []
        current: str | None = name
        while current is not None and current not in chain:
            chain.append(current)
            found = self._collections.get(current)
            current = found.parent if found else None
        return chain

    # --- internal: typedefs ----------------------------------------------------------------------------
    def _builtin_def(self, category: str, name: str, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "category": category,
            "guid": str(uuid.uuid5(GUID_NS, f"typedef|{name}")),
            "name": name,
            "description": name,
            "createdBy": "admin",
            "updatedBy": "admin",
            "createTime": 1600000000000,
            "updateTime": 1600000000000,
            "version": 1,
            "typeVersion": "1.0",
            "lastModifiedTS": "1",
            "attributeDefs": [],
            **extra,
        }

    def _store_def(self, category: str, d: dict[str, Any]) -> None:
        lag = self.knobs.typedef_read_lag
        if lag and category == "BUSINESS_METADATA" and d["name"] not in self._defs[category]:
            self._def_lag[d["name"]] = lag  # knob: GETs by name do not see the new def yet
        self._defs[category][d["name"]] = d
        self._def_guids[d["guid"]] = (category, d["name"])
        if category == "BUSINESS_METADATA":
            for attr in d["attributeDefs"]:
                types = json.loads(attr["options"]["applicableEntityTypes"])
                self._bm_applicable[(d["name"], attr["name"])] = frozenset(types)
        self._ancestor_cache.clear()
        self._applicable_cache.clear()

    def _find_def(self, name: str) -> tuple[str, dict[str, Any]] | None:
        for category, defs in self._defs.items():
            if name in defs:
                return category, defs[name]
        return None

    def _ancestors(self, type_name: str) -> frozenset[str]:
        """The type and all its supertypes (entity or classification)."""
        cached = self._ancestor_cache.get(type_name)
        if cached is not None:
            return cached
        seen: set[str] = set()
        todo = [type_name]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            d = self._defs["ENTITY"].get(current) or self._defs["CLASSIFICATION"].get(current)
            todo.extend((d or {}).get("superTypes") or [])
        result = frozenset(seen)
        self._ancestor_cache[type_name] = result
        return result

    def _classification_family(self, name: str) -> set[str]:
        """``name`` and every classification that has it among its supertypes."""
        return {n for n in self._defs["CLASSIFICATION"] if name in self._ancestors(n)} | {name}

    def _applicable_bm(self, type_name: str) -> dict[str, dict[str, dict[str, Any]]]:
        """``{group: {attr: attrDef}}`` of BM attributes applicable to an entity type (via supertypes too)."""
        cached = self._applicable_cache.get(type_name)
        if cached is not None:
            return cached
        lineage = self._ancestors(type_name)
        result: dict[str, dict[str, dict[str, Any]]] = {}
        for bm_name, d in self._defs["BUSINESS_METADATA"].items():
            for attr in d["attributeDefs"]:
                if self._bm_applicable.get((bm_name, attr["name"]), frozenset()) & lineage:
                    result.setdefault(bm_name, {})[attr["name"]] = attr
        self._applicable_cache[type_name] = result
        return result

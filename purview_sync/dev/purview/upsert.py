"""Upsert: the Purview simulator's Entity_CreateOrUpdate / Entity_BulkCreateOrUpdate semantics (match by
guid or typeName+qualifiedName, placeholder guids, relationships, collection moves, business metadata).
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from purview_sync.dev.purview.bizmeta import BusinessMetadataValues
from purview_sync.dev.purview.gate import Gate
from purview_sync.dev.purview.lineage import LINEAGE_ENDS
from purview_sync.dev.purview.records import Caller, Classification, Entity, atlas_error, bad_params
from purview_sync.dev.simserver import SimRequest


class Upsert(Gate, BusinessMetadataValues):
    """All-or-nothing entity create/update."""

    def _upsert(self, req: SimRequest, caller: Caller, items: list[Any]) -> dict[str, Any]:
        """Entity_BulkCreateOrUpdate: match by guid, else by (typeName, qualifiedName); all-or-nothing."""
        behavior = (req.arg("businessAttributeUpdateBehavior") or "ignore").lower()
        if behavior not in ("ignore", "replace", "merge"):
            raise bad_params("businessAttributeUpdateBehavior must be ignore, replace or merge")
        move_to = req.arg("collectionId")
        if move_to is not None and move_to not in self._collections:
            raise bad_params(f"collection {move_to} does not exist")
        assignments: dict[str, str] = {}
        plan: list[tuple[dict[str, Any], Entity | None, str, str]] = []  # (item, existing, guid, placeholder)
        batch_qns: dict[tuple[str, str], str] = {}
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("typeName"), str):
                raise bad_params("every entity needs a typeName")
            type_name = item["typeName"]
            if type_name not in self._defs["ENTITY"]:
                raise atlas_error(404, "ATLAS-404-00-001", f"Given typename {type_name} was invalid")
            attrs = item.get("attributes") or {}
            qn = attrs.get("qualifiedName") if isinstance(attrs, dict) else None
            given = str(item.get("guid") or "")
            existing = self._entities.get(given) if given and not given.startswith("-") else None
            if given and not given.startswith("-") and existing is None:
                raise atlas_error(
                    404, "ATLAS-404-00-005", f"Given instance guid {given} is invalid/not found"
                )
            if existing is None and qn:
                found = self._by_type_qn.get((type_name, str(qn)))
                existing = self._entities.get(found) if found else None
            if existing is None and not qn:
                raise atlas_error(400, "ATLAS-400-00-073", "Mandatory qualifiedName attribute is missing")
            placeholder = (
                given if given.startswith("-") else ("" if given else f"-{next(self._internal_ids)}")
            )
            guid = existing.guid if existing else str(uuid.uuid4())
            if existing is None and (type_name, str(qn)) in batch_qns:
                guid = batch_qns[(type_name, str(qn))]
            batch_qns[(type_name, str(qn or ""))] = guid
            if placeholder:
                assignments[placeholder] = guid
            target_collection = move_to or (existing.collection if existing else self.account)
            self._require_curator(
                caller, target_collection, f"create/update entity: {type_name} {qn or given}"
            )
            if existing is not None:
                self._require_curator(caller, existing.collection, f"update entity: guid={existing.guid}")
            for cls in item.get("classifications") or []:
                if not isinstance(cls, dict) or cls.get("typeName") not in self._defs["CLASSIFICATION"]:
                    name = cls.get("typeName") if isinstance(cls, dict) else cls
                    raise atlas_error(404, "ATLAS-404-00-008", f"Given classification {name} was invalid")
            plan.append((item, existing, guid, placeholder))
        batch_guids = {guid for _, _, guid, _ in plan}

        def resolve(ref: Any, where: str) -> str:
            if isinstance(ref, dict):
                g = str(ref.get("guid") or "")
                if g.startswith("-") and g in assignments:
                    return assignments[g]
                live = g in self._entities and self._entities[g].status == "ACTIVE"
                if g and (live or g in batch_guids):
                    return g
                unique = ref.get("uniqueAttributes") or {}
                found = self._by_type_qn.get((str(ref.get("typeName")), str(unique.get("qualifiedName"))))
                found = found or batch_qns.get((str(ref.get("typeName")), str(unique.get("qualifiedName"))))
                if found:
                    return found
            raise atlas_error(
                404, "ATLAS-404-00-00A", f"Referenced entity {json.dumps(ref)} is not found ({where})"
            )

        batch_types = {guid: item["typeName"] for item, _, guid, _ in plan}
        rel_plan: list[dict[str, Any]] = []
        lineage_plan: list[dict[str, list[str]]] = []
        for item, _existing, _guid, _ in plan:
            lineage_plan.append(self._lineage_refs(item, resolve, batch_types))
            rels: dict[str, Any] = {}
            for attr, value in (item.get("relationshipAttributes") or {}).items():
                if attr in LINEAGE_ENDS and "Process" in self._ancestors(item["typeName"]):
                    continue  # resolved above, stored as lineage ends
                if value is None:
                    rels[attr] = None
                elif isinstance(value, list):
                    rels[attr] = [
                        (resolve(v, attr), v.get("relationshipType") if isinstance(v, dict) else None)
                        for v in value
                    ]
                else:
                    rels[attr] = (
                        resolve(value, attr),
                        value.get("relationshipType") if isinstance(value, dict) else None,
                    )
            rel_plan.append(rels)
        for item, existing, _guid, _ in plan:
            if behavior != "ignore" and item.get("businessAttributes") and existing is not None:
                self._check_bm(existing, item["businessAttributes"], overwrite=behavior == "replace")
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        for (item, existing, guid, _), rels, ends in zip(plan, rel_plan, lineage_plan, strict=True):
            attrs = {
                k: v for k, v in (item.get("attributes") or {}).items() if not (ends and k in LINEAGE_ENDS)
            }
            if existing is None and guid in self._entities:
                existing = self._entities[guid]  # same entity twice in one batch
            if existing is None:
                entity = self._create(
                    item["typeName"], attrs, move_to or self.account, guid=guid, who=caller.principal
                )
                for cls in item.get("classifications") or []:
                    entity.classifications.append(
                        Classification(cls["typeName"], entity.guid, dict(cls.get("attributes") or {}))
                    )
                    self._by_classification.setdefault(cls["typeName"], set()).add(entity.guid)
                bucket = created
            else:
                entity = existing
                self._unindex(entity)
                entity.attributes.update(attrs)
                if move_to:
                    entity.collection = move_to
                self._index(entity)
                entity.touch(caller.principal)
                bucket = updated
            if "labels" in item:
                entity.labels = list(dict.fromkeys(item.get("labels") or []))
            if "contacts" in item:
                entity.contacts = copy.deepcopy(item.get("contacts") or {})
            for attr, value in rels.items():
                if value is None:
                    entity.relationships[attr] = None
                elif isinstance(value, list):
                    entity.relationships[attr] = [
                        self._parse_seed_rel(entity, attr, {"guid": g, "relationshipType": t})
                        for g, t in value
                    ]
                else:
                    entity.relationships[attr] = self._parse_seed_rel(
                        entity, attr, {"guid": value[0], "relationshipType": value[1]}
                    )
            for attr, guids in ends.items():
                self._set_lineage_ends(entity, attr, guids)
            if behavior != "ignore" and item.get("businessAttributes"):
                self._write_bm(
                    entity, item["businessAttributes"], overwrite=behavior == "replace", who=caller.principal
                )
            header = {
                "typeName": entity.type_name,
                "attributes": {"qualifiedName": entity.qualified_name},
                "lastModifiedTS": str(entity.last_modified),
                "guid": entity.guid,
                "status": entity.status,
            }
            if not any(h["guid"] == entity.guid for h in bucket):
                bucket.append(header)
        mutated: dict[str, Any] = {}
        if created:
            mutated["CREATE"] = created
        if updated:
            mutated["UPDATE"] = updated
        return {"mutatedEntities": mutated, "guidAssignments": assignments, "partialUpdatedEntities": []}

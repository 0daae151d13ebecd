"""Rendering: how the Purview simulator shows its records on the wire (AtlasEntity, ext info, headers,
classifications, relationship ends, account-plane collections).
"""

from __future__ import annotations

import copy
from typing import Any

from purview_sync.dev.purview.lineage import LINEAGE_ENDS, Lineage
from purview_sync.dev.purview.records import Classification, Collection, Entity, Rel, iso


class Rendering(Lineage):
    """JSON shapes of stored records, as the Data Map and Account APIs answer them."""

    def _collection_json(self, c: Collection) -> dict[str, Any]:
        out: dict[str, Any] = {"name": c.name, "friendlyName": c.friendly_name}
        if c.description:
            out["description"] = c.description
        if c.parent is not None:
            out["parentCollection"] = {"type": "CollectionReference", "referenceName": c.parent}
        out["collectionProvisioningState"] = "Succeeded"
        out["systemData"] = {
            "createdAt": iso(c.created_at),
            "createdBy": "ServiceAdmin",
            "createdByType": "Application",
            "lastModifiedAt": iso(c.created_at),
            "lastModifiedBy": "ServiceAdmin",
            "lastModifiedByType": "Application",
        }
        return out

    def _render_classification(self, c: Classification) -> dict[str, Any]:
        source = self._entities.get(c.entity_guid)
        return {
            "typeName": c.type_name,
            "attributes": dict(c.attributes),
            "lastModifiedTS": str(c.last_modified),
            "entityGuid": c.entity_guid,
            "entityStatus": source.status if source else "DELETED",
            "removePropagationsOnEntityDelete": False,
            "validityPeriods": [],
        }

    def _related(self, rel: Rel) -> dict[str, Any]:
        target = self._entities.get(rel.guid)
        status = target.status if target else "DELETED"
        return {
            "guid": rel.guid,
            "typeName": target.type_name if target else None,
            "displayText": target.name if target else None,
            "entityStatus": status,
            "relationshipType": rel.relationship_type,
            "relationshipGuid": rel.relationship_guid,
            "relationshipStatus": "ACTIVE" if status == "ACTIVE" else "DELETED",
            "relationshipAttributes": {"typeName": rel.relationship_type},
        }

    def _render_entity(self, e: Entity, *, relationships: bool = True) -> dict[str, Any]:
        """AtlasEntity; empty classifications/labels/businessAttributes/contacts are left out (as Atlas)."""
        out: dict[str, Any] = {
            "typeName": e.type_name,
            "attributes": copy.deepcopy(e.attributes),
            "guid": e.guid,
            "status": e.status,
            "createdBy": e.created_by,
            "updatedBy": e.updated_by,
            "createTime": e.create_time,
            "updateTime": e.update_time,
            "version": e.version,
            "lastModifiedTS": str(e.last_modified),
            "collectionId": e.collection,
            "isIncomplete": False,
        }
        if e.classifications:
            out["classifications"] = [self._render_classification(c) for c in e.classifications]
        if e.labels:
            out["labels"] = list(e.labels)
        if e.business:
            out["businessAttributes"] = copy.deepcopy(e.business)
        if e.contacts:
            out["contacts"] = copy.deepcopy(e.contacts)
        is_process = "Process" in self._ancestors(e.type_name)
        if is_process:  # Atlas shows a process's ends as object ids in attributes too
            for attr in LINEAGE_ENDS:
                ends = e.relationships.get(attr)
                if isinstance(ends, list):
                    out["attributes"][attr] = [self._object_id(r.guid) for r in ends]
        if relationships:
            rels: dict[str, Any] = {}
            if not is_process and "DataSet" in self._ancestors(e.type_name):
                for attr, ends in self._inverse_rels(e).items():
                    rels[attr] = [self._related(r) for r in ends]
            for attr, value in e.relationships.items():
                if value is None:
                    rels[attr] = None
                elif isinstance(value, list):
                    rels[attr] = [self._related(r) for r in value]
                else:
                    rels[attr] = self._related(value)
            rels.setdefault("meanings", [])
            out["relationshipAttributes"] = rels
        return out

    def _object_id(self, guid: str) -> dict[str, Any]:
        target = self._entities.get(guid)
        qn = target.qualified_name if target else None
        return {
            "guid": guid,
            "typeName": target.type_name if target else None,
            "uniqueAttributes": {"qualifiedName": qn},
        }

    def _min_entity(self, e: Entity) -> dict[str, Any]:
        return {
            "typeName": e.type_name,
            "guid": e.guid,
            "status": e.status,
            "attributes": {"qualifiedName": e.qualified_name, "name": e.name},
            "collectionId": e.collection,
        }

    def _ext_info(
        self, entities: list[Entity], *, min_ext: bool, ignore_rel: bool
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Entities plus ``referredEntities``: the owned columns of tables/views (full, or minimal with
        ``minExtInfo=true``). ``ignoreRelationships=true`` drops relationshipAttributes and the referred."""
        rendered = [self._render_entity(e, relationships=not ignore_rel) for e in entities]
        referred: dict[str, Any] = {}
        if not ignore_rel:
            own = {e.guid for e in entities}
            for e in entities:
                cols = e.relationships.get("columns")
                for rel in cols if isinstance(cols, list) else []:
                    target = self._entities.get(rel.guid)
                    if target is not None and target.guid not in own and target.guid not in referred:
                        referred[target.guid] = (
                            self._min_entity(target)
                            if min_ext
                            else self._render_entity(target, relationships=False)
                        )
        return rendered, referred

    def _header(self, e: Entity) -> dict[str, Any]:
        return {
            "typeName": e.type_name,
            "attributes": {"qualifiedName": e.qualified_name, "name": e.name},
            "guid": e.guid,
            "status": e.status,
            "displayText": e.name,
            "classificationNames": sorted({c.type_name for c in e.classifications}),
            "labels": list(e.labels),
            "meaningNames": [],
            "meanings": [],
            "lastModifiedTS": str(e.last_modified),
        }

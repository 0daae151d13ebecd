"""EntityRoutes: the Purview simulator's discovery and entity routes (search query; entity GET by guid,
header, bulk, unique attribute; entity and bulk create-or-update; delete by guid and in bulk).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from purview_sync.dev.purview.records import Caller, Entity, atlas_error, bad_params
from purview_sync.dev.purview.search import Search
from purview_sync.dev.purview.upsert import Upsert
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response


class EntityRoutes(Upsert, Search):
    """Routes that read, find and write entities."""

    def _register_entity_routes(self) -> None:
        route = self._route

        # ---- discovery ----
        @route("POST", "/search/query", "search", api_version_required=True)
        def search(req: SimRequest, caller: Caller) -> SimResponse:
            return json_response(self._search(self._json_body(req) or {}, caller))

        # ---- entities: read ----
        @route("GET", "/atlas/v2/entity/guid/{guid}", "entity_get")
        def entity_get(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_read(caller, entity)
            return self._ext_response(req, [entity], single=True)

        @route("GET", "/atlas/v2/entity/guid/{guid}/header", "entity_header")
        def entity_header(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_read(caller, entity)
            return json_response(self._header(entity))

        @route("GET", "/atlas/v2/entity/bulk", "entity_bulk_get")
        def entity_bulk_get(req: SimRequest, caller: Caller) -> SimResponse:
            guids = req.query.get("guid") or []
            if not guids:
                raise bad_params("at least one guid is required")
            entities = [self._entity_or_404(g) for g in dict.fromkeys(guids)]
            for entity in entities:
                self._require_read(caller, entity)
            response = self._ext_response(req, entities, single=False)
            if not self.knobs.bulk_get_business_attributes:  # knob: the bulk GET leaves them out
                for rendered in response.body["entities"]:
                    rendered.pop("businessAttributes", None)
            return response

        @route("GET", "/atlas/v2/entity/uniqueAttribute/type/{typeName}", "entity_get_by_qn")
        def entity_get_by_qn(req: SimRequest, caller: Caller) -> SimResponse:
            type_name = unquote(req.params["typeName"])
            self._require_entity_type(type_name)
            qn = req.arg("attr:qualifiedName")
            if not qn:
                raise bad_params("attr:qualifiedName is required")
            guid = self._by_type_qn.get((type_name, qn))
            if guid is None:
                raise atlas_error(
                    404,
                    "ATLAS-404-00-009",
                    f"Instance {type_name} with unique attribute {{qualifiedName={qn}}} does not exist",
                )
            entity = self._entities[guid]
            self._require_read(caller, entity)
            return self._ext_response(req, [entity], single=True)

        @route("GET", "/atlas/v2/entity/bulk/uniqueAttribute/type/{typeName}", "entity_bulk_get_by_qn")
        def entity_bulk_get_by_qn(req: SimRequest, caller: Caller) -> SimResponse:
            type_name = unquote(req.params["typeName"])
            self._require_entity_type(type_name)
            qns = [
                v[0] for k, v in sorted(req.query.items()) if re.fullmatch(r"attr_\d+:qualifiedName", k) and v
            ]
            entities = []
            for qn in qns:
                guid = self._by_type_qn.get((type_name, qn))
                if guid is not None:
                    self._require_read(caller, self._entities[guid])
                    entities.append(self._entities[guid])
            response = self._ext_response(req, entities, single=False)
            if not self.knobs.bulk_get_business_attributes:  # knob: as the bulk GET by guid
                for rendered in response.body["entities"]:
                    rendered.pop("businessAttributes", None)
            return response

        # ---- entities: write ----
        @route("POST", "/atlas/v2/entity/bulk", "entity_bulk_upsert")
        def entity_bulk_upsert(req: SimRequest, caller: Caller) -> SimResponse:
            body = self._json_body(req)
            if not isinstance(body, dict) or not isinstance(body.get("entities"), list):
                raise bad_params("body must be AtlasEntitiesWithExtInfo with an 'entities' array")
            return json_response(self._upsert(req, caller, body["entities"]))

        @route("POST", "/atlas/v2/entity", "entity_upsert")
        def entity_upsert(req: SimRequest, caller: Caller) -> SimResponse:
            body = self._json_body(req)
            if not isinstance(body, dict) or not isinstance(body.get("entity"), dict):
                raise bad_params("body must be AtlasEntityWithExtInfo with an 'entity' object")
            return json_response(self._upsert(req, caller, [body["entity"]]))

        # ---- entities: delete (reference/purview-lineage-and-import.md B4) ----
        def delete(entities: list[Entity], caller: Caller) -> SimResponse:
            for entity in entities:
                self._require_curator(caller, entity.collection, f"delete entity: guid={entity.guid}")
            deleted = []
            for entity in entities:
                if entity.status != "ACTIVE":
                    continue  # already deleted: Atlas leaves it out of the result
                header = self._header(entity)  # the pre-delete snapshot, status ACTIVE (as Atlas shows it)
                self._delete_entity(entity, caller.principal)
                deleted.append(header)
            return json_response({"mutatedEntities": {"DELETE": deleted} if deleted else {}})

        @route("DELETE", "/atlas/v2/entity/guid/{guid}", "entity_delete")
        def entity_delete(req: SimRequest, caller: Caller) -> SimResponse:
            return delete([self._entity_or_404(req.params["guid"])], caller)

        @route("DELETE", "/atlas/v2/entity/bulk", "entity_bulk_delete")
        def entity_bulk_delete(req: SimRequest, caller: Caller) -> SimResponse:
            guids = req.query.get("guid") or []
            if not guids:
                raise bad_params("at least one guid is required")
            return delete([self._entity_or_404(g) for g in dict.fromkeys(guids)], caller)

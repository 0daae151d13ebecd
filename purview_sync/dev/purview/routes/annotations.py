"""AnnotationRoutes: the Purview simulator's routes that annotate one entity: business metadata (all
groups or one), classifications, labels.
"""

from __future__ import annotations

from urllib.parse import unquote

from purview_sync.dev.purview.bizmeta import BusinessMetadataValues
from purview_sync.dev.purview.gate import Gate
from purview_sync.dev.purview.records import Caller, Classification, atlas_error, bad_params
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response


class AnnotationRoutes(Gate, BusinessMetadataValues):
    """Routes under ``/entity/guid/{guid}/`` that change what an entity carries."""

    def _register_annotation_routes(self) -> None:
        route = self._route

        # ---- business metadata ----
        @route("POST", "/atlas/v2/entity/guid/{guid}/businessmetadata", "bm_write")
        def bm_write(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"update business-metadata: guid={entity.guid}")
            overwrite = self._bool_arg(req, "isOverwrite", False)
            self._write_bm(entity, self._json_body(req), overwrite=overwrite, who=caller.principal)
            return SimResponse(204)

        @route("DELETE", "/atlas/v2/entity/guid/{guid}/businessmetadata", "bm_delete")
        def bm_delete(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"remove business-metadata: guid={entity.guid}")
            self._remove_bm(entity, self._json_body(req), caller.principal)
            return SimResponse(204)

        @route("POST", "/atlas/v2/entity/guid/{guid}/businessmetadata/{bmName}", "bm_group_write")
        def bm_group_write(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            bm = unquote(req.params["bmName"])
            self._require_curator(
                caller, entity.collection, f"update business-metadata: guid={entity.guid}, {bm}"
            )
            attrs = self._json_body(req)
            if not isinstance(attrs, dict):
                raise bad_params("body must be an object {attribute: value}")
            replace = self.knobs.bm_group_post == "replace"  # knob: the body replaces the whole group
            self._write_bm(entity, {bm: attrs}, overwrite=False, who=caller.principal, replace_groups=replace)
            return SimResponse(204)

        @route("DELETE", "/atlas/v2/entity/guid/{guid}/businessmetadata/{bmName}", "bm_group_delete")
        def bm_group_delete(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            bm = unquote(req.params["bmName"])
            self._require_curator(
                caller, entity.collection, f"remove business-metadata: guid={entity.guid}, {bm}"
            )
            attrs = self._json_body(req)
            if attrs is not None and not isinstance(attrs, dict):
                raise bad_params("body must be an object {attribute: value}")
            self._remove_bm(entity, {bm: attrs or {}}, caller.principal)
            return SimResponse(204)

        # ---- classifications ----
        @route("GET", "/atlas/v2/entity/guid/{guid}/classifications", "classifications_get")
        def classifications_get(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_read(caller, entity)
            items = [self._render_classification(c) for c in entity.classifications]
            return json_response(
                {
                    "list": items,
                    "pageSize": len(items),
                    "sortType": "NONE",
                    "startIndex": 0,
                    "totalCount": len(items),
                }
            )

        @route("GET", "/atlas/v2/entity/guid/{guid}/classification/{name}", "classification_get")
        def classification_get(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_read(caller, entity)
            name = unquote(req.params["name"])
            for c in entity.classifications:
                if c.type_name == name:
                    return json_response(self._render_classification(c))
            raise atlas_error(404, "ATLAS-404-00-008", f"Given classification {name} was invalid")

        @route("POST", "/atlas/v2/entity/guid/{guid}/classifications", "classifications_add")
        def classifications_add(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"add classification: guid={entity.guid}")
            body = self._json_body(req)
            if not isinstance(body, list):
                raise bad_params(
                    "Cannot deserialize value of type `java.util.ArrayList<org.apache.atlas.model.instance."
                    "AtlasClassification>` from Object value (the body must be a JSON array)"
                )
            names = []
            for item in body:
                name = item.get("typeName") if isinstance(item, dict) else None
                if name not in self._defs["CLASSIFICATION"]:
                    raise atlas_error(404, "ATLAS-404-00-008", f"Given classification {name} was invalid")
                if any(c.type_name == name and c.entity_guid == entity.guid for c in entity.classifications):
                    raise atlas_error(
                        400,
                        "ATLAS-400-00-01B",
                        f"instance {entity.guid} already is associated with classification {name}",
                    )
                names.append((name, dict(item.get("attributes") or {})))
            for name, attrs in names:
                entity.classifications.append(Classification(name, entity.guid, attrs))
                self._by_classification.setdefault(name, set()).add(entity.guid)
            entity.touch(caller.principal)
            return SimResponse(204)

        @route("DELETE", "/atlas/v2/entity/guid/{guid}/classification/{name}", "classification_delete")
        def classification_delete(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"remove classification: guid={entity.guid}")
            name = unquote(req.params["name"])
            direct = [
                c for c in entity.classifications if c.type_name == name and c.entity_guid == entity.guid
            ]
            if not direct:
                propagated = [c for c in entity.classifications if c.type_name == name]
                if propagated:
                    raise atlas_error(
                        400,
                        "ATLAS-400-00-089",
                        f"Removal of classification {name}, which is propagated from entity "
                        f"{propagated[0].entity_guid}, is not supported",
                    )
                raise atlas_error(
                    400, "ATLAS-400-00-06D", f"Classification {name} is not associated with entity"
                )
            entity.classifications = [c for c in entity.classifications if c not in direct]
            if not any(c.type_name == name for c in entity.classifications):
                self._by_classification.get(name, set()).discard(entity.guid)
            entity.touch(caller.principal)
            return SimResponse(204)

        # ---- labels ----
        def labels_body(req: SimRequest) -> list[str]:
            body = self._json_body(req)
            if body is None:
                return []
            if not isinstance(body, list) or not all(isinstance(x, str) for x in body):
                raise bad_params("labels must be a JSON array of strings")
            return body

        @route("PUT", "/atlas/v2/entity/guid/{guid}/labels", "labels_add")
        def labels_add(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"add label: guid={entity.guid}")
            entity.labels = list(dict.fromkeys(entity.labels + labels_body(req)))
            entity.touch(caller.principal)
            return SimResponse(204)

        @route("POST", "/atlas/v2/entity/guid/{guid}/labels", "labels_set")
        def labels_set(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"set labels: guid={entity.guid}")
            entity.labels = list(dict.fromkeys(labels_body(req)))
            entity.touch(caller.principal)
            return SimResponse(204)

        @route("DELETE", "/atlas/v2/entity/guid/{guid}/labels", "labels_remove")
        def labels_remove(req: SimRequest, caller: Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"remove labels: guid={entity.guid}")
            gone = set(labels_body(req))
            entity.labels = [x for x in entity.labels if x not in gone]
            entity.touch(caller.principal)
            return SimResponse(204)

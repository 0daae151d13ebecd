"""The Qualytics simulator's computed containers and lineage edges (reference/qualytics-lineage.md).

Seeding: ``add_computed_table(ds, name, query)``, ``add_computed_join(ds, name, left_id, right_id, ...)``
(the right side may be in another datastore), ``add_computed_file(ds, name, source_id, select_clause)``,
``remove_container`` (a computed container deleted in Qualytics), ``add_lineage_edge`` (a user's edge).

Routes (§1.2): ``POST /lineage/edges`` — Manager (or Admin) only; a container edge
``{source_container_id, target_container_id, source_type, description?}`` or a field edge
``{source_field_id, target_field_id, ...}``, never both levels; answers 200 with the edge (``id``, ``created``,
both ends as ids and ``{id, name, display_name, container_type, datastore_id, datastore_name}`` objects, field
ends ``null``). ``source_type`` ``manual`` always; a catalog's name (``purview`` ...) only while the knob
``lineage_accepts_purview`` is on (whether an outside caller may send it is [?]) — otherwise 422 like any
enum; ``inferred`` never (Qualytics-managed). ``DELETE /lineage/edges/{id}`` → 204 [I], 404 when absent.
Whether ``description`` may be sent is [?]: knob ``lineage_description_writable`` (off → 422 naming it).
Both answer 403 while the add-on is off (``lineage_addon``, access.py) or the user is not a Manager/Admin.
The edges are ``lineage_edges`` (access.py: a list of edge payloads, what ``GET /lineage/edges`` pages).
"""

from __future__ import annotations

from typing import Any

from purview_sync.dev.qualytics.payloads import Payloads
from purview_sync.dev.qualytics.records import utc_now
from purview_sync.dev.qualytics.wire import ApiError, body_object, error_item, invalid, not_found, path_id
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response

CATALOG_SOURCE_TYPES = ("atlan", "alation", "collibra", "datahub", "purview")
LINEAGE_ROLES = ("Admin", "Manager")


class LineageRoutes(Payloads):
    lineage_addon: bool
    lineage_edges: list[dict[str, Any]]

    # --- seeding -------------------------------------------------------------------------------------------
    def _add_computed(self, datastore_id: int, name: str, kind: str, definition: dict[str, Any],
                      quality_score: float | None) -> int:
        with self._lock:
            cid = self.add_container(datastore_id, name, container_type=kind, quality_score=quality_score)
            self.containers[cid].definition = definition
            return cid

    def add_computed_table(self, datastore_id: int, name: str, query: str, *,
                           quality_score: float | None = None) -> int:
        return self._add_computed(datastore_id, name, "computed_table", {"query": query}, quality_score)

    def add_computed_file(self, datastore_id: int, name: str, source_container_id: int, *,
                          select_clause: str = "*", where_clause: str | None = None,
                          quality_score: float | None = None) -> int:
        self._container(source_container_id)
        return self._add_computed(datastore_id, name, "computed_file", {
            "source_container_id": source_container_id, "select_clause": select_clause,
            "where_clause": where_clause}, quality_score)

    def add_computed_join(self, datastore_id: int, name: str, left_container_id: int, right_container_id: int,
                          *, left_join_field_name: str = "id", right_join_field_name: str = "id",
                          select_clause: str = "*", join_type: str = "inner", left_prefix: str = "left",
                          right_prefix: str = "right", quality_score: float | None = None) -> int:
        for cid in (left_container_id, right_container_id):
            if self._container(cid).container_type not in ("table", "file"):
                raise ValueError("a join takes base containers (table, view or file) only")
        return self._add_computed(datastore_id, name, "computed_join", {
            "left_container_id": left_container_id, "right_container_id": right_container_id,
            "left_join_field_name": left_join_field_name, "right_join_field_name": right_join_field_name,
            "left_prefix": left_prefix, "right_prefix": right_prefix, "join_type": join_type,
            "select_clause": select_clause, "where_clause": None}, quality_score)

    def set_definition(self, container_id: int, **changes: Any) -> None:
        """Edit a computed container's definition (e.g. a new ``query``)."""
        with self._lock:
            self._container(container_id).definition.update(changes)

    def remove_container(self, container_id: int) -> None:
        """Delete a (computed) container with its fields, checks, anomalies and the edges that touch it."""
        with self._lock:
            c = self._container(container_id)
            self._containers_by_ds[c.datastore_id].remove(container_id)
            for fid in self._fields_by_container.pop(container_id, []):
                self.fields.pop(fid, None)
            for kid in self._checks_by_container.pop(container_id, []):
                self.checks.pop(kid, None)
            for aid in self._anomalies_by_container.pop(container_id, []):
                self.anomalies.pop(aid, None)
            self.lineage_edges[:] = [e for e in self.lineage_edges
                                     if container_id not in (e["source_container_id"], e["target_container_id"])]
            del self.containers[container_id]

    def add_lineage_edge(self, source_container_id: int, target_container_id: int, *,
                         source_type: str = "manual", description: str | None = None) -> int:
        with self._lock:
            edge = {"id": next(self._ids["edge"]), "created": utc_now(), "source_container_id": source_container_id,
                    "source_field_id": None, "target_container_id": target_container_id, "target_field_id": None,
                    "description": description, "source_type": source_type,
                    "source_container": self._end(source_container_id),
                    "target_container": self._end(target_container_id), "source_field": None, "target_field": None}
            self.lineage_edges.append(edge)
            return int(edge["id"])

    def edges(self) -> list[dict[str, Any]]:
        """Every edge, as the API renders it (tests inspect these)."""
        with self._lock:
            return [dict(e) for e in self.lineage_edges]

    # --- routes --------------------------------------------------------------------------------------------
    def _require_lineage(self) -> None:
        if not self.lineage_addon:
            raise ApiError(403, "The Lineage add-on is not enabled for this deployment")
        if self.user.get("role") not in LINEAGE_ROLES:
            raise ApiError(403, "Managing lineage requires the Manager role")

    def _end(self, cid: int) -> dict[str, Any]:
        c = self.containers.get(cid)
        if c is None:
            return {"id": cid}
        ds = self.datastores[c.datastore_id]
        return {"id": c.id, "name": c.name, "display_name": c.name, "container_type": c.container_type,
                "datastore_id": ds.id, "datastore_name": ds.name}

    def _create_edge(self, req: SimRequest) -> SimResponse:
        self._require_lineage()
        body = body_object(req)
        allowed = ("manual", *CATALOG_SOURCE_TYPES) if self.lineage_accepts_purview else ("manual",)
        source_type = body.get("source_type", "manual")
        errors = []
        if source_type not in allowed:
            permitted = ", ".join(repr(t) for t in allowed)
            errors.append(error_item(["body", "source_type"],
                                     f"value is not a valid enumeration member; permitted: {permitted}",
                                     "type_error.enum"))
        fields = [k for k in ("source_field_id", "target_field_id") if body.get(k) is not None]
        containers = [k for k in ("source_container_id", "target_container_id") if body.get(k) is not None]
        if fields:
            errors.append(error_item(["body"], "field edges are not simulated", "value_error"))
        elif len(containers) != 2:
            errors.append(error_item(["body"], "both ends of an edge are required (containers or fields, not both)",
                                     "value_error"))
        for key in containers:
            if not isinstance(body[key], int) or isinstance(body[key], bool):
                errors.append(error_item(["body", key], "value is not a valid integer", "type_error.integer"))
        if "description" in body and not self.lineage_description_writable:
            errors.append(error_item(["body", "description"], "extra fields not permitted", "value_error.extra"))
        elif body.get("description") is not None and not isinstance(body["description"], str):
            errors.append(error_item(["body", "description"], "str type expected", "type_error.str"))
        if errors:
            raise invalid(errors)
        source, target = body["source_container_id"], body["target_container_id"]
        for cid in (source, target):
            if cid not in self.containers:
                raise not_found("Container", cid)
        if source == target:
            raise invalid([error_item(["body"], "an edge cannot link a container to itself", "value_error")])
        edge_id = self.add_lineage_edge(source, target, source_type=source_type, description=body.get("description"))
        return json_response(next(dict(e) for e in self.lineage_edges if e["id"] == edge_id))

    def _delete_edge(self, req: SimRequest) -> SimResponse:
        self._require_lineage()
        edge_id = path_id(req)
        found = [e for e in self.lineage_edges if e.get("id") == edge_id]
        if not found:
            raise not_found("Lineage edge", edge_id)
        self.lineage_edges.remove(found[0])
        return json_response(None, 204)

    def _register_lineage_routes(self) -> None:
        self._add("POST", "/lineage/edges", "lineage.edges.create", self._create_edge)
        self._add("DELETE", "/lineage/edges/{id}", "lineage.edges.delete", self._delete_edge)

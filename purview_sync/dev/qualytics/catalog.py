"""The Qualytics simulator's catalog routes: connections, datastores (and their quality-score snapshots),
containers and fields — list, listing, get, PUT and the atomic bulk PATCH of containers and fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from purview_sync.dev.qualytics.payloads import Payloads
from purview_sync.dev.qualytics.records import (
    CONTAINER_TYPES,
    DEFAULT_FIELD_STATUSES,
    FIELD_STATUSES,
    FIELD_TYPES,
    ContainerRecord,
    DatastoreRecord,
    FieldRecord,
    utc_now,
)
from purview_sync.dev.qualytics.wire import (
    ApiError,
    Query,
    archived_ok,
    body_object,
    error_item,
    invalid,
    not_found,
    page_of,
    parse_body,
    path_id,
    tag_names,
)
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response


class CatalogRoutes(Payloads):
    """Handlers of ``/connections``, ``/datastores``, ``/containers`` and ``/fields``."""

    # connections
    def _get_connection(self, req: SimRequest) -> SimResponse:
        conn = self.connections.get(path_id(req))
        if conn is None:
            raise not_found("Connection", req.params["id"])
        return json_response({"id": conn.id, "name": conn.name, "type": conn.type, "connection_type": conn.type,
                              "host": conn.host, "port": 1433 if conn.type == "sqlserver" else None,
                              "parameters": {}, "created": conn.created})

    # datastores
    def _filtered_datastores(self, q: Query) -> list[DatastoreRecord]:
        ids = q.integers("id")
        name = q.text("name")
        search = q.text("search")
        types = q.texts("datastore_type")
        tags = q.texts("tag")
        enrichment_only = q.boolean("enrichment_only", default=False)
        sort_name, sort_created = q.sort("sort_name"), q.sort("sort_created")
        q.done()
        out = []
        for ds in self.datastores.values():
            if ids is not None and ds.id not in ids:
                continue
            if name is not None and ds.name != name:
                continue
            if search and search.lower() not in ds.name.lower():
                continue
            if types is not None and ds.type not in types:
                continue
            if ds.enrichment_only != enrichment_only:
                continue
            if tags is not None and not set(tags) & set(self.effective_tags_of("datastore", ds.id)):
                continue
            out.append(ds)
        if sort_name:
            out.sort(key=lambda d: d.name.lower(), reverse=sort_name == "desc")
        elif sort_created:
            out.sort(key=lambda d: (d.created, d.id), reverse=sort_created == "desc")
        return out

    def _list_datastores(self, req: SimRequest) -> SimResponse:
        q = Query(req)
        page, size = q.page()
        items = self._filtered_datastores(q)
        return json_response(page_of(items, page, size, self._datastore_payload))

    def _datastores_listing(self, req: SimRequest) -> SimResponse:
        items = self._filtered_datastores(Query(req))
        return json_response([{"id": d.id, "name": d.name, "type": d.type, "store_type": d.store_type}
                              for d in items])

    def _get_datastore(self, req: SimRequest) -> SimResponse:
        return json_response(self._datastore_payload(self._datastore(path_id(req))))

    def _put_datastore(self, req: SimRequest) -> SimResponse:
        ds = self._datastore(path_id(req))
        body = body_object(req)
        errors = [error_item(["body", key], "str type expected", "type_error.str")
                  for key in ("name", "description", "database", "schema")
                  if body.get(key) is not None and not isinstance(body[key], str)]
        if errors:
            raise invalid(errors)
        tags = tag_names(body.get("tags"), ["body", "tags"])
        for key in ("name", "description", "database", "schema"):
            if body.get(key) is not None:
                setattr(ds, key, body[key])
        if isinstance(body.get("enrichment_only"), bool):
            ds.enrichment_only = body["enrichment_only"]
        if tags is not None:
            self._assign_tags("datastore", ds, tags)
        ds.updated = utc_now()
        return json_response(self._datastore_payload(ds))

    def _quality_scores(self, req: SimRequest) -> SimResponse:
        ds = self._datastore(path_id(req))
        snaps = sorted(ds.scores.values(), key=lambda s: s.date, reverse=True)[:10]
        return json_response([{"date": s.date, "total": s.total, **s.dimensions} for s in snaps])

    # containers
    def _filtered_containers(self, q: Query) -> list[ContainerRecord]:
        datastores = q.integers("datastore")
        types = q.texts("container_type", allowed=CONTAINER_TYPES)
        name = q.text("name")
        search = q.text("search")
        tags = q.texts("tag")
        archived = q.archived(default="include" if self.knobs.archived_in_listing else "exclude")
        sort_name = q.sort("sort_name")
        q.done()
        if datastores is not None:
            candidates = [self.containers[c] for d in datastores for c in self._containers_by_ds.get(d, ())]
            candidates.sort(key=lambda c: c.id)
        else:
            candidates = list(self.containers.values())
        out = []
        for c in candidates:
            if types is not None and c.container_type not in types:
                continue
            if name is not None and c.name != name:
                continue
            if search and search.lower() not in c.name.lower():
                continue
            if not archived_ok(archived, c.archived):
                continue
            if tags is not None and not set(tags) & {t["name"] for t in self._global_tags("container", c)}:
                continue
            out.append(c)
        if sort_name:
            out.sort(key=lambda c: c.name.lower(), reverse=sort_name == "desc")
        return out

    def _list_containers(self, req: SimRequest) -> SimResponse:
        q = Query(req)
        page, size = q.page()
        def render(c: ContainerRecord) -> dict[str, Any]:
            out = self._container_payload(c, listed=True)
            if self.computed_listing_brief:  # knob: only GET /containers/{id} has the definition
                for key in self._computed_fields(c):
                    out.pop(key, None)
            return out

        return json_response(page_of(self._filtered_containers(q), page, size, render))

    def _containers_listing(self, req: SimRequest) -> SimResponse:
        items = self._filtered_containers(Query(req))
        return json_response([self._listing_item(c) for c in items])

    def _listing_item(self, c: ContainerRecord) -> dict[str, Any]:
        """``GetContainerListing200ResponseInner`` (Oct-2025 ``*ContainerListing``)."""
        out: dict[str, Any] = {"id": c.id, "name": c.name, "container_type": c.container_type,
                               "deleted_at": c.created if c.archived else None,
                               "volumetric_tracking_enabled": False, "freshness_tracking_enabled": False,
                               "datastore": self._ds_stub(self.datastores[c.datastore_id]), "favorite": False}
        if c.container_type == "table":
            out["table_type"] = c.table_type
        return out

    def _container(self, ident: int) -> ContainerRecord:
        c = self.containers.get(ident)
        if c is None:
            raise not_found("Container", ident)
        return c

    def _get_container(self, req: SimRequest) -> SimResponse:
        return json_response(self._container_payload(self._container(path_id(req))))

    def _put_container(self, req: SimRequest) -> SimResponse:
        """A full PUT in Qualytics: ``container_type`` is the required discriminator (S1 always re-sends it)."""
        c = self._container(path_id(req))
        body = body_object(req)
        if "container_type" not in body:
            raise invalid([error_item(["body", "container_type"], "field required", "value_error.missing")])
        if body["container_type"] != c.container_type:
            raise invalid([error_item(["body", "container_type"],
                                   f"container_type cannot change from {c.container_type!r}", "value_error")])
        tags = tag_names(body.get("tags"), ["body", "tags"])
        if isinstance(body.get("name"), str) and body["name"]:
            c.name = body["name"]
        if tags is not None:
            self._assign_tags("container", c, tags)
        return json_response(self._container_payload(c))

    def _bulk_update(self, req: SimRequest, table: dict[int, Any], kind: str,
                     validate_status: Callable[[Any, list[str | int]], None] | None = None) -> list[Any]:
        """Bulk PATCH ``[{"id", "tags"?, "status"?}]``: validate everything first, then apply (atomic)."""
        body = parse_body(req)
        if not isinstance(body, list):
            raise invalid([error_item(["body"], "value is not a valid list", "type_error.list")])
        parsed: list[tuple[Any, list[str] | None, dict[str, Any]]] = []
        errors: list[dict[str, Any]] = []
        for i, item in enumerate(body):
            if not isinstance(item, dict):
                errors.append(error_item(["body", i], "value is not a valid dict", "type_error.dict"))
                continue
            if not isinstance(item.get("id"), int) or isinstance(item.get("id"), bool):
                errors.append(error_item(["body", i, "id"], "field required" if "id" not in item
                                     else "value is not a valid integer",
                                     "value_error.missing" if "id" not in item else "type_error.integer"))
                continue
            try:
                parsed.append((item["id"], tag_names(item.get("tags"), ["body", i, "tags"]), item))
            except ApiError as exc:
                errors.extend(exc.detail)
        if errors:
            raise invalid(errors)
        missing = [ident for ident, _, _ in parsed if ident not in table]
        if missing:
            raise ApiError(404, f"{kind} with id {missing[0]} not found")
        if validate_status is not None:
            for i, (_, _, item) in enumerate(parsed):
                validate_status(item.get("status"), ["body", i, "status"])
        updated = []
        for ident, tags, item in parsed:
            entity = table[ident]
            if tags is not None:
                self._assign_tags(kind.lower(), entity, tags)
            if validate_status is not None and item.get("status") is not None:
                entity.status = item["status"]
            updated.append(entity)
        return updated

    def _patch_containers(self, req: SimRequest) -> SimResponse:
        updated = self._bulk_update(req, self.containers, "Container")
        return json_response([self._container_payload(c) for c in updated])

    # fields
    def _filtered_fields(self, q: Query) -> list[FieldRecord]:
        container_id = q.integer("container_id")
        datastores = q.integers("datastore")
        containers = q.integers("container")
        name = q.text("name")
        types = q.texts("type", allowed=FIELD_TYPES)
        tags = q.texts("tag")
        statuses = q.texts("status", allowed=FIELD_STATUSES, commas=True) or list(DEFAULT_FIELD_STATUSES)
        q.done()
        if container_id is not None:
            cids = [container_id]
        elif containers is not None:
            cids = containers
        elif datastores is not None:
            cids = [c for d in datastores for c in self._containers_by_ds.get(d, ())]
        else:
            cids = list(self.containers)
        out = []
        for cid in sorted(set(cids)):
            container = self.containers.get(cid)
            if container is None:
                continue
            if container_id is not None and cid != container_id:
                continue
            if containers is not None and cid not in containers:
                continue
            if datastores is not None and container.datastore_id not in datastores:
                continue
            fields = [self.fields[fid] for fid in self._fields_by_container[cid]]
            if name is None and types is None and tags is None:  # the common, hot case: paging a datastore
                out.extend(f for f in fields if f.status in statuses)
                continue
            for f in fields:
                if name is not None and f.name != name:
                    continue
                if types is not None and f.type not in types:
                    continue
                if f.status not in statuses:
                    continue
                if tags is not None and not set(tags) & {t["name"] for t in self._global_tags("field", f)}:
                    continue
                out.append(f)
        return out

    def _list_fields(self, req: SimRequest) -> SimResponse:
        q = Query(req)
        page, size = q.page()
        return json_response(page_of(self._filtered_fields(q), page, size, self._field_payload))

    def _fields_listing(self, req: SimRequest) -> SimResponse:
        items = self._filtered_fields(Query(req))
        return json_response([{"name": f.name} for f in items])  # List[FieldStub]: the name only

    def _field(self, ident: int) -> FieldRecord:
        f = self.fields.get(ident)
        if f is None:
            raise not_found("Field", ident)
        return f

    def _get_field(self, req: SimRequest) -> SimResponse:
        return json_response(self._field_payload(self._field(path_id(req))))

    @staticmethod
    def _validate_field_status(value: Any, loc: list[str | int]) -> None:
        if value is not None and value not in FIELD_STATUSES:
            permitted = ", ".join(repr(s) for s in FIELD_STATUSES)
            raise invalid([error_item(loc, f"value is not a valid enumeration member; permitted: {permitted}",
                                   "type_error.enum")])

    def _put_field(self, req: SimRequest) -> SimResponse:
        f = self._field(path_id(req))
        body = body_object(req)
        tags = tag_names(body.get("tags"), ["body", "tags"])
        self._validate_field_status(body.get("status"), ["body", "status"])
        if isinstance(body.get("name"), str) and body["name"]:
            f.name = body["name"]
        if body.get("status") is not None:
            f.status = body["status"]
        if tags is not None:
            self._assign_tags("field", f, tags)
        return json_response(self._field_payload(f))

    def _patch_fields(self, req: SimRequest) -> SimResponse:
        updated = self._bulk_update(req, self.fields, "Field", self._validate_field_status)
        return json_response([self._field_payload(f) for f in updated])

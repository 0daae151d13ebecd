"""Seeding: the Purview simulator's in-process API for tests, the sample estate and the benchmark
(roles, collections, entities, scanned SQL databases, classifications, labels, business metadata, typedefs).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from purview_sync.dev.purview.bizmeta import BusinessMetadataValues
from purview_sync.dev.purview.knobs import Knobs
from purview_sync.dev.purview.records import Classification, Collection, HttpError, Rel, now_ms
from purview_sync.dev.purview.render import Rendering
from purview_sync.dev.purview.typesystem import TypedefRules
from purview_sync.dev.purview.vocab import ROLES, SQL_FLAVORS, qn_segment


class Seeding(Rendering, TypedefRules, BusinessMetadataValues):
    """Build and inspect an estate without HTTP; every method takes the store lock."""

    def set_knobs(self, **values: object) -> None:
        """Turn the simulator's unknown-behaviour knobs (``knobs.Knobs``), e.g. ``bm_group_post="replace"``."""
        with self._lock:
            self.knobs.update(**values)

    def reset_knobs(self) -> None:
        """Every knob back to its default (the simulator's historical behaviour), e.g. after a test."""
        self.set_knobs(**{f.name: getattr(Knobs(), f.name) for f in fields(Knobs)})

    # --- seeding: roles and collections ----------------------------------------------------------------
    def grant(self, principal_id: str, *roles: str, collection: str | None = None) -> None:
        """Give ``principal_id`` (token ``appid`` or ``oid``) roles on a collection (None = root, inherited
        by every collection)."""
        with self._lock:
            target = collection or self.account
            if target not in self._collections:
                raise KeyError(f"unknown collection {target!r}")
            for role in roles:
                if role not in ROLES:
                    raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
            self._grants.setdefault(principal_id, {}).setdefault(target, set()).update(roles)

    def revoke(self, principal_id: str, *roles: str, collection: str | None = None) -> None:
        """Remove roles (all of them when none are named) from one collection assignment."""
        with self._lock:
            held = self._grants.get(principal_id, {}).get(collection or self.account)
            if held is not None:
                held.difference_update(roles or set(held))

    def add_collection(
        self,
        name: str,
        friendly_name: str | None = None,
        parent: str | None = None,
        *,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Create a collection (``name`` is the short id used by search and ``collectionId``)."""
        with self._lock:
            if name in self._collections:
                raise ValueError(f"collection {name!r} already exists")
            parent_name = parent or self.account
            if parent_name not in self._collections:
                raise KeyError(f"unknown parent collection {parent_name!r}")
            self._collections[name] = Collection(
                name, friendly_name or name, parent_name, description, now_ms()
            )
            return self._collection_json(self._collections[name])

    # --- seeding: entities -------------------------------------------------------------------------
    def add_entity(
        self,
        type_name: str,
        qualified_name: str,
        *,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
        collection: str | None = None,
        guid: str | None = None,
        relationships: dict[str, Any] | None = None,
        contacts: dict[str, list[dict[str, Any]]] | None = None,
        labels: Iterable[str] = (),
    ) -> str:
        """Add one entity and return its guid. An unknown ``type_name`` is registered as a DataSet subtype.

        ``relationships`` maps a relationship attribute to None, a guid, ``{"guid", "relationshipType"}``
        or a list of those; the other end is not updated (use ``link`` for both ends).
        """
        with self._lock:
            if type_name not in self._defs["ENTITY"]:
                self._store_def("ENTITY", self._builtin_def("ENTITY", type_name, {"superTypes": ["DataSet"]}))
            attrs = dict(attributes or {})
            attrs["qualifiedName"] = qualified_name
            attrs["name"] = name if name is not None else attrs.get("name", qualified_name.rsplit("/", 1)[-1])
            entity = self._create(type_name, attrs, collection or self.account, guid=guid, who="ServiceAdmin")
            for attr, value in (relationships or {}).items():
                entity.relationships[attr] = self._parse_seed_rel(entity, attr, value)
            entity.contacts = copy.deepcopy(contacts or {})
            entity.labels = list(labels)
            return entity.guid

    def link(
        self, parent_guid: str, attr: str, child_guid: str, inverse: str, relationship_type: str
    ) -> None:
        """Link both ends: ``parent.attr`` (a list) gains child; ``child.inverse`` = parent."""
        with self._lock:
            parent, child = self._entities[parent_guid], self._entities[child_guid]
            rel_guid = self._rel_guid(relationship_type, parent_guid, child_guid)
            ends = parent.relationships.setdefault(attr, [])
            assert isinstance(ends, list), f"{attr} is not a list relationship"
            ends.append(Rel(child_guid, relationship_type, rel_guid))
            child.relationships[inverse] = Rel(parent_guid, relationship_type, rel_guid)

    def add_sql_database(
        self,
        server_host: str,
        database: str,
        *,
        flavor: str = "azure_sql",
        collection: str | None = None,
        schemas: dict[str, dict[str, Any]] | None = None,
        views: dict[str, dict[str, Any]] | None = None,
        instance: str = "MSSQLSERVER",
    ) -> dict[str, str]:
        """Add a scanned SQL database; return ``{qualifiedName: guid}`` for every entity created.

        ``schemas={"dbo": {"transactions": ["id", "amount"]}}`` (columns as a list of names or a
        ``{name: data_type}`` dict); ``views`` has the same shape. Qualified names follow reference §7:
        Azure SQL ``mssql://{server}.database.windows.net/{db}/{schema}/{table}#{column}``, MI with a
        ``:3342`` host, SQL Server ``mssql://{host}/{instance}/{db}/...`` (``mssql://{host}/{db}/...`` with the
        knob ``sqlserver_instance_in_names`` off), Synapse on
        ``*.sql.azuresynapse.net``.
        A server shared by several databases is created once.
        """
        fl = SQL_FLAVORS[flavor]
        host = server_host
        if fl.host_suffix and not host.split(":", 1)[0].endswith(fl.host_suffix):
            host = (
                host.split(":", 1)[0] + fl.host_suffix + (":" + host.split(":", 1)[1] if ":" in host else "")
            )
        if fl.default_port and ":" not in host:
            host = f"{host}:{fl.default_port}"
        coll = collection or self.account
        p = fl.prefix
        created: dict[str, str] = {}
        with self._lock:
            if coll not in self._collections:
                raise KeyError(f"unknown collection {coll!r}")
            if fl.key == "mssql" and self.knobs.sqlserver_instance_in_names:
                server_qn = f"mssql://{host}/{qn_segment(instance)}"
                server_name = instance
            elif fl.key == "mssql":  # knob: scans that leave the instance out of the names
                server_qn, server_name = f"mssql://{host}", host
            elif fl.key == "synapse_dedicated":
                workspace = host.split(".", 1)[0]
                server_qn = f"https://{workspace}.dev.azuresynapse.net"  # [U]
                server_name = workspace
            else:
                server_qn = f"mssql://{host}"
                server_name = host.split(".", 1)[0]
            sql_root = server_qn if fl.key != "synapse_dedicated" else f"mssql://{host}"
            server_guid = self._by_type_qn.get((fl.server_type, server_qn))
            if server_guid is None:
                server_guid = self.add_entity(fl.server_type, server_qn, name=server_name, collection=coll)
                created[server_qn] = server_guid
            db_qn = f"{sql_root}/{qn_segment(database)}"
            db_guid = self.add_entity(f"{p}_db", db_qn, name=database, collection=coll)
            created[db_qn] = db_guid
            self.link(server_guid, "databases", db_guid, "server", f"{fl.server_type}_databases")
            schema_guids: dict[str, str] = {}

            def schema_guid(schema: str) -> str:
                if schema not in schema_guids:
                    qn = f"{db_qn}/{qn_segment(schema)}"
                    schema_guids[schema] = created[qn] = self.add_entity(
                        f"{p}_schema", qn, name=schema, collection=coll
                    )
                    self.link(db_guid, "schemas", schema_guids[schema], "db", f"{p}_db_schemas")
                return schema_guids[schema]

            for kind, spec in (("table", schemas or {}), ("view", views or {})):
                for schema, objects in spec.items():
                    s_guid = schema_guid(schema)
                    for obj, columns in objects.items():
                        qn = f"{db_qn}/{qn_segment(schema)}/{qn_segment(obj)}"
                        o_guid = created[qn] = self.add_entity(
                            f"{p}_{kind}", qn, name=obj, collection=coll, attributes={"description": None}
                        )
                        self.link(s_guid, f"{kind}s", o_guid, "dbSchema", f"{p}_schema_{kind}s")
                        col_items = (
                            columns.items() if isinstance(columns, dict) else ((c, None) for c in columns)
                        )
                        col_type = f"{p}_column" if kind == "table" else f"{p}_view_column"
                        for col, data_type in col_items:
                            col_qn = f"{qn}#{qn_segment(col)}"
                            c_guid = created[col_qn] = self.add_entity(
                                col_type,
                                col_qn,
                                name=col,
                                collection=coll,
                                attributes={"data_type": data_type or "nvarchar", "description": None},
                            )
                            self.link(o_guid, "columns", c_guid, kind, f"{p}_{kind}_columns")
            for schema in list(schemas or {}) + list(views or {}):
                schema_guid(schema)
        return created

    def rescan(self, guid: str, *, search_lags: bool = True) -> str:
        """A re-scan deleted the entity and created it again: same type, attributes, collection,
        relationships (both ends), classifications and labels, a new guid, no business metadata. With
        ``search_lags`` search still returns the old guid as it was (eventual consistency) while every GET
        of it answers 404. Returns the new guid."""
        with self._lock:
            old = self._entities.pop(guid)
            self._by_type_qn.pop((old.type_name, old.qualified_name), None)
            same_qn = self._by_qn.get(old.qualified_name, [])
            if guid in same_qn:
                same_qn.remove(guid)
            new = self._create(old.type_name, copy.deepcopy(old.attributes), old.collection, guid=None,
                               who="ServiceAdmin")  # fmt: skip
            new.labels, new.contacts = list(old.labels), copy.deepcopy(old.contacts)
            for c in old.classifications:
                source = new.guid if c.entity_guid == guid else c.entity_guid
                new.classifications.append(Classification(c.type_name, source, dict(c.attributes)))
                self._by_classification.setdefault(c.type_name, set()).add(new.guid)

            def repoint(rel: Rel, a: str) -> Rel:
                return Rel(new.guid if rel.guid == guid else rel.guid, rel.relationship_type,
                           self._rel_guid(rel.relationship_type, a, rel.guid if rel.guid != guid else new.guid))  # fmt: skip

            for attr, value in old.relationships.items():
                new.relationships[attr] = (
                    [repoint(r, new.guid) for r in value] if isinstance(value, list)
                    else repoint(value, new.guid) if value is not None else None
                )  # fmt: skip
            for other in self._entities.values():
                for attr, value in other.relationships.items():
                    if isinstance(value, list):
                        other.relationships[attr] = [repoint(r, other.guid) if r.guid == guid else r for r in value]
                    elif value is not None and value.guid == guid:
                        other.relationships[attr] = repoint(value, other.guid)
            if search_lags:
                self._stale[guid] = old
            else:
                self._unindex(old)
            self._qn_sorted = None
            return new.guid

    def delete_entity(self, guid: str) -> None:
        """Soft-delete (status DELETED): GET still answers, search drops it, relations show DELETED."""
        with self._lock:
            entity = self._entities[guid]
            entity.status = "DELETED"
            entity.touch("ServiceAdmin")

    def entity(self, guid: str) -> dict[str, Any] | None:
        """The entity as ``GET /entity/guid/{guid}`` renders it (``entity`` part), or None."""
        with self._lock:
            found = self._entities.get(guid)
            return self._render_entity(found) if found else None

    def entity_by_qn(self, qn: str, type_name: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            if type_name is not None:
                guid = self._by_type_qn.get((type_name, qn))
            else:
                guids = self._by_qn.get(qn) or []
                guid = guids[0] if guids else None
            return self._render_entity(self._entities[guid]) if guid else None

    def guid_of(self, qn: str, type_name: str | None = None) -> str:
        found = self.entity_by_qn(qn, type_name)
        if found is None:
            raise KeyError(qn)
        return str(found["guid"])

    def add_classification(
        self,
        guid: str,
        type_name: str,
        *,
        propagated_from: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        """Attach a classification; ``propagated_from`` = the source entity's guid (its ``entityGuid``)."""
        with self._lock:
            entity = self._entities[guid]
            if type_name not in self._defs["CLASSIFICATION"]:
                self.add_classification_def(type_name)
            source = propagated_from or guid
            if source not in self._entities:
                raise KeyError(f"unknown source entity {source}")
            if any(c.type_name == type_name and c.entity_guid == source for c in entity.classifications):
                return
            entity.classifications.append(Classification(type_name, source, dict(attributes or {})))
            self._by_classification.setdefault(type_name, set()).add(guid)
            entity.touch("ServiceAdmin")

    def remove_classification(self, guid: str, type_name: str) -> None:
        """Remove every association (direct and propagated) of ``type_name`` from the entity."""
        with self._lock:
            entity = self._entities[guid]
            entity.classifications = [c for c in entity.classifications if c.type_name != type_name]
            self._by_classification.get(type_name, set()).discard(guid)
            entity.touch("ServiceAdmin")

    def set_labels(self, guid: str, labels: Iterable[str]) -> None:
        with self._lock:
            entity = self._entities[guid]
            entity.labels = list(dict.fromkeys(labels))
            entity.touch("ServiceAdmin")

    def business_metadata(self, guid: str) -> dict[str, dict[str, Any]]:
        """A copy of the entity's business metadata ``{group: {attr: value}}``."""
        with self._lock:
            return copy.deepcopy(self._entities[guid].business)

    def set_business_metadata(self, guid: str, group: str, attrs: dict[str, Any]) -> None:
        """Merge values into one group (e.g. another team's). An unknown group is created on the fly with
        attribute types inferred from the values and applicable to every asset type."""
        with self._lock:
            entity = self._entities[guid]
            if group not in self._defs["BUSINESS_METADATA"]:
                inferred = {
                    name: "boolean"
                    if isinstance(v, bool)
                    else "int"
                    if isinstance(v, int)
                    else "float"
                    if isinstance(v, float)
                    else "string"
                    for name, v in attrs.items()
                }
                self.add_business_metadata_def(group, inferred)
            try:
                self._write_bm(entity, {group: dict(attrs)}, overwrite=False, who="ServiceAdmin")
            except HttpError as exc:
                raise ValueError(exc.response.body) from None

    def add_business_metadata_def(
        self,
        name: str,
        attributes: dict[str, str],
        *,
        applicable: Iterable[str] = ("Referenceable",),
        max_str_length: int = 1024,
        description: str = "",
    ) -> dict[str, Any]:
        """Create a BM typedef from ``{attr: typeName}`` (string attributes get ``maxStrLength``)."""
        applicable_json = json.dumps(list(applicable))
        attr_defs = []
        for attr, type_name in attributes.items():
            options = {"applicableEntityTypes": applicable_json}
            if type_name in ("string", "array<string>"):
                options["maxStrLength"] = str(max_str_length)
            attr_defs.append({"name": attr, "typeName": type_name, "isOptional": True, "options": options})
        body = {
            "businessMetadataDefs": [{"name": name, "description": description, "attributeDefs": attr_defs}]
        }
        return self.add_typedefs(body)["businessMetadataDefs"][0]

    def add_classification_def(self, name: str, super_types: Iterable[str] = ()) -> dict[str, Any]:
        return self.add_typedefs({"classificationDefs": [{"name": name, "superTypes": list(super_types)}]})[
            "classificationDefs"
        ][0]

    def add_typedefs(self, typedefs: dict[str, Any], *, update: bool = False) -> dict[str, Any]:
        """``POST /types/typedefs`` semantics (``PUT`` with ``update=True``); ValueError when invalid."""
        with self._lock:
            try:
                return self._apply_typedefs(typedefs, update=update, who="ServiceAdmin")
            except HttpError as exc:
                raise ValueError(exc.response.body) from None

    def typedef(self, name: str) -> dict[str, Any] | None:
        """Any typedef by name (business metadata, classification, entity, ...), as the API returns it."""
        with self._lock:
            for defs in self._defs.values():
                if name in defs:
                    return copy.deepcopy(defs[name])
            return None

    def entity_count(self) -> int:
        with self._lock:
            return len(self._entities)

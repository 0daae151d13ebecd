"""How the Qualytics simulator renders its records as API payloads (datastore, container, field, check,
anomaly and the stubs they embed); metrics are computed from stored anomalies/checks at read time.

* Datastore: no top-level score (as in the 2026 example) — the current score is the newest entry of
  ``GET /datastores/{id}/quality-scores``, which answers at most 10 daily snapshots, **newest first**
  (the order of the docs' example), each ``{date, total, <8 dimensions>}``.
* Container: ``metrics.quality_score`` is ``{created, total, <8 dims>}`` or ``null`` when never scored;
  views are ``container_type: "table"`` + ``table_type: "view"``; ``table_type`` is present only on
  ``container_type == "table"``.
* Field: ``quality_score`` ``{total, <8 dims>}`` or ``null``; ``container_id`` names its container.
  Dimension values deliberately differ from ``total`` so that reading the wrong key shows up.
* Anomaly item (``AnomalyListing``): ``{id, uuid, created, type, status, archived, is_new, message,
  datastore{id,name,store_type,type}, container{id,name,container_type,table_type},
  failed_checks: [{quality_check: {id, rule_type, description, deleted_at, fields: [{id, name, type}]},
  message}], global_tags}``. The fields an anomaly touches are the ``fields[].name`` of its failed checks —
  the only place the real listing names them — so per-field counts come from one paged listing of the
  datastore. An anomaly seeded without ``check_id`` gets a failed-check stub for a check that no longer
  exists (``deleted_at`` set; its id is not listed by ``/quality-checks``), as happens after a check is
  deleted in Qualytics.
* Quality-check item: ``{id, created, rule_type, description, status, archived, deleted_at,
  container{id,name,container_type,table_type, datastore{...}}, fields: [{id,name,type}],
  anomaly_count (its Active anomalies), global_tags}``. ``datastore`` is a required query parameter.
* Metrics are computed from stored anomalies/checks at read time: ``active_anomalies`` = status
  ``Active``; container ``anomalies`` = open (Active + Acknowledged); ``active_checks`` = status ``Active``.
"""

from __future__ import annotations

from typing import Any

from purview_sync.dev.qualytics.records import (
    ANOMALY_ARCHIVED,
    ANOMALY_OPEN,
    CHECK_ARCHIVED,
    AnomalyRecord,
    CheckRecord,
    ContainerRecord,
    DatastoreRecord,
    FieldRecord,
    dimension_scores,
)
from purview_sync.dev.qualytics.state import QualyticsState


class Payloads(QualyticsState):
    """Record → JSON for every entity the routes answer with."""

    def _ds_stub(self, ds: DatastoreRecord) -> dict[str, Any]:
        return {"id": ds.id, "name": ds.name, "store_type": ds.store_type, "type": ds.type}

    def _container_stub(self, c: ContainerRecord) -> dict[str, Any]:
        out: dict[str, Any] = {"id": c.id, "name": c.name, "container_type": c.container_type}
        if c.container_type == "table":
            out["table_type"] = c.table_type
        return out

    def _field_stubs(self, container_id: int, names: list[str]) -> list[dict[str, Any]]:
        by_name = {self.fields[f].name: self.fields[f] for f in self._fields_by_container.get(container_id, ())}
        return [{"id": by_name[n].id if n in by_name else None, "name": n,
                 "type": by_name[n].type if n in by_name else "Unknown"} for n in names]

    def _datastore_payload(self, ds: DatastoreRecord) -> dict[str, Any]:
        conn = self.connections[ds.connection_id]
        cids = self._containers_by_ds.get(ds.id, [])
        live = [self.containers[c] for c in cids if not self.containers[c].archived]
        active_anomalies = active_checks = fields_profiled = 0
        for c in live:
            active_anomalies += sum(1 for a in self._container_anomalies(c.id) if a.status == "Active")
            active_checks += sum(1 for k in self._container_checks(c.id) if k.status == "Active")
            fields_profiled += sum(1 for f in self._fields_by_container[c.id] if self.fields[f].status != "excluded")
        return {
            "id": ds.id, "name": ds.name, "type": ds.type, "store_type": ds.store_type,
            "database": ds.database, "schema": ds.schema, "root_path": ds.root_path,
            "connected": True, "favorite": False, "enrichment_only": ds.enrichment_only,
            "description": ds.description, "created": ds.created, "updated": ds.updated,
            "connection": {"id": conn.id, "name": conn.name, "type": conn.type, "host": conn.host},
            "teams": [{"name": "Public"}],
            "global_tags": self._global_tags("datastore", ds),
            "metrics": {"containers": len(live), "records": sum(c.records for c in live),
                        "fields_profiled": fields_profiled, "active_checks": active_checks,
                        "active_anomalies": active_anomalies},
        }

    def _container_payload(self, c: ContainerRecord) -> dict[str, Any]:
        ds = self.datastores[c.datastore_id]
        anomalies = self._container_anomalies(c.id)
        checks = self._container_checks(c.id)
        active_checks = {k.id for k in checks if k.status == "Active"}
        failing = {a.check_id for a in anomalies if a.status == "Active" and a.check_id in active_checks}
        score = None
        if c.quality_score is not None:
            score = {"created": c.score_created, "total": c.quality_score, **dimension_scores(c.quality_score)}
        out = {
            "id": c.id, "created": c.created, "name": c.name, "container_type": c.container_type,
            "datastore": self._ds_stub(ds), "global_tags": self._global_tags("container", c),
            "exclude_fields": [], "favorite": False, "archived": c.archived,
            "deleted_at": None, "volumetric_tracking_enabled": False, "freshness_tracking_enabled": False,
            "additional_metadata": None, "partition_field": None, "incremental_field_name": None,
            "metrics": {
                "last_profiled": c.created, "last_scanned": c.created,
                "fields": sum(1 for f in self._fields_by_container[c.id] if self.fields[f].status != "excluded"),
                "records": c.records, "completeness": None,
                "active_checks": len(active_checks), "important_checks": 0,
                "passing_checks": len(active_checks) - len(failing), "failing_checks": len(failing),
                "anomalies": sum(1 for a in anomalies if a.status in ANOMALY_OPEN),
                "active_anomalies": sum(1 for a in anomalies if a.status == "Active"),
                "quality_score": score,
            },
        }
        if c.container_type == "table":
            out["table_type"] = c.table_type
        out.update(self._computed_fields(c))
        return out

    def _computed_fields(self, c: ContainerRecord) -> dict[str, Any]:
        """What a computed container's GET adds (qualytics-lineage.md §2.1). The join's shape is the knob
        ``computed_join_shape``: ``ids`` (the create body + ``right_datastore_id``, the Oct-2025 schema),
        ``objects`` (``left_container``/``right_container`` ``{id, name}``, the CLI tests) or ``sources``
        (the 2026 SQL mode: ``query`` + ``sources[]``)."""
        d = c.definition
        if c.container_type == "computed_table":
            return {"query": d.get("query"), "incremental_identifier_type": None}
        if c.container_type == "computed_file":
            source = self.containers.get(d.get("source_container_id") or 0)
            store = self.datastores[source.datastore_id].store_type if source else None
            return {"source_container": {"id": source.id, "name": source.name, "store_type": store} if source else None,
                    "select_clause": d.get("select_clause"), "where_clause": d.get("where_clause")}
        if c.container_type != "computed_join":
            return {}
        left, right = self.containers.get(d["left_container_id"]), self.containers.get(d["right_container_id"])
        right_ds = right.datastore_id if right else None
        if self.computed_join_shape == "sources":
            query = (f"SELECT {d.get('select_clause') or '*'} FROM {left.name if left else '?'} l "
                     f"JOIN {right.name if right else '?'} r ON l.{d.get('left_join_field_name')} = "
                     f"r.{d.get('right_join_field_name')}")
            return {"query": query, "sources": [
                {"container_id": x.id, "datastore_id": x.datastore_id, "alias": alias, "ordinal": i}
                for i, (x, alias) in enumerate(((left, "l"), (right, "r"))) if x is not None]}
        out: dict[str, Any] = {
            "right_datastore_id": right_ds, "left_join_field_name": d.get("left_join_field_name"),
            "right_join_field_name": d.get("right_join_field_name"), "left_prefix": d.get("left_prefix", "left"),
            "right_prefix": d.get("right_prefix", "right"), "join_type": d.get("join_type", "inner"),
            "select_clause": d.get("select_clause"), "where_clause": d.get("where_clause")}
        if self.computed_join_shape == "objects":
            out["left_container"] = {"id": left.id, "name": left.name} if left else None
            out["right_container"] = {"id": right.id, "name": right.name} if right else None
        else:
            out["left_container_id"], out["right_container_id"] = d["left_container_id"], d["right_container_id"]
        return out

    def _field_payload(self, f: FieldRecord) -> dict[str, Any]:
        score = None if f.quality_score is None else {"total": f.quality_score, **dimension_scores(f.quality_score)}
        return {"id": f.id, "created": f.created, "name": f.name, "display_name": f.name, "description": None,
                "type": f.type, "status": f.status, "completeness": None, "weight": 0, "nullable": True,
                "native_type": None, "global_tags": self._global_tags("field", f), "latest_profile_id": None,
                "quality_score": score, "computed_field": None, "container_id": f.container_id}

    def _check_payload(self, k: CheckRecord) -> dict[str, Any]:
        c = self.containers[k.container_id]
        return {"id": k.id, "created": k.created, "rule_type": k.rule_type, "description": k.description,
                "status": k.status, "archived": k.status in CHECK_ARCHIVED, "deleted_at": None,
                "container": {**self._container_stub(c), "datastore": self._ds_stub(self.datastores[k.datastore_id])},
                "fields": self._field_stubs(k.container_id, k.fields), "coverage": 1.0, "properties": {},
                "anomaly_count": sum(1 for a in self._container_anomalies(k.container_id)
                                     if a.check_id == k.id and a.status == "Active"),
                "global_tags": self._global_tags("check", k)}

    def _anomaly_payload(self, a: AnomalyRecord) -> dict[str, Any]:
        c = self.containers[a.container_id]
        check = self.checks.get(a.check_id) if a.check_id is not None else None
        stub = {"id": check.id if check else a.stub_check_id, "rule_type": check.rule_type if check else "notNull",
                "description": check.description if check else "", "coverage": 1.0,
                "deleted_at": None if check else a.created, "fields": self._field_stubs(a.container_id, a.fields)}
        return {"id": a.id, "uuid": a.uuid, "created": a.created, "type": a.type, "status": a.status,
                "archived": a.status in ANOMALY_ARCHIVED, "is_new": a.status == "Active", "source_enriched": False,
                "message": f"{len(a.fields)} field(s) failed {stub['rule_type']}", "importance_score": 1.0,
                "datastore": self._ds_stub(self.datastores[a.datastore_id]), "container": self._container_stub(c),
                "partition": {"name": c.name},
                "failed_checks": [{"quality_check": stub, "message": f"{stub['rule_type']} failed"}],
                "global_tags": self._global_tags("anomaly", a)}

"""How the Qualytics simulator renders its records as API payloads (datastore, container, field, check,
anomaly and the stubs they embed). Every payload validates against its ``$def`` in
``shared/specs/qualytics/schemas.json`` (``tests/dev/qualytics/test_schemas.py``) and carries only
properties the schemas or the [C] references declare — no container reference on a field, no ``host`` on
an embedded connection, no ``inherited`` marker on a tag, no status on a 2023 check item.

* Datastore (2023 ``GetJdbcDatastore`` / ``GetDfsDatastore``): ``metrics`` is the 2023 ``DatastoreMetrics``
  (no quality score; ``active_*`` only with the knob ``datastore_metrics="2026"``); the host is on
  ``GET /connections/{id}`` (``connection: {id, name, type}``) or, with ``datastore_host="inline"``, on the
  datastore. The current score is the newest entry of ``GET /datastores/{id}/quality-scores``: at most 10
  daily snapshots, **newest first**, each ``{date, total, <8 dimensions>}``.
* Container (Oct-2025 ``GetOperationTableContainer`` / ``GetOperationFileContainer``):
  ``metrics.quality_score`` is ``{created, total, <8 dims>}`` or ``null``; views are ``container_type:
  "table"`` + ``table_type: "view"``; an archived container has ``deleted_at`` set.
* Field (``ModelField``): ``quality_score`` ``{total, <8 dims>}`` or ``null``; it does **not** name its
  container. Dimension values deliberately differ from ``total`` so that reading the wrong key shows up; a
  seeded override replaces one (``None``: a dimension Qualytics did not assess, which the schema allows).
* Anomaly item (``GetAnomalyListing``): its datastore and container stubs, its partition, and
  ``failed_checks: [{quality_check: QualityCheckListing, message}]`` — the fields it touches are the
  ``fields[].name`` of its failed checks (left out with ``finding_fields=False``). An anomaly seeded without
  ``check_id`` gets a failed-check stub for a check that no longer exists (``deleted_at`` set).
* Quality-check item (2023 ``GetQualityCheckListing``): ``container: {id, name, store_type}``, ``fields``
  2023 ``Field`` objects (left out with ``finding_fields=False``), ``anomaly_count`` = its Active anomalies.
  ``datastore`` is a required query parameter.
* Metrics are computed from stored anomalies/checks at read time: ``active_anomalies`` = status
  ``Active``; container ``anomalies`` = open (Active + Acknowledged); ``active_checks`` = status ``Active``.
"""

from __future__ import annotations

from typing import Any

from purview_sync.dev.qualytics.records import (
    ANOMALY_ARCHIVED,
    ANOMALY_OPEN,
    AnomalyRecord,
    CheckRecord,
    ContainerRecord,
    DatastoreRecord,
    FieldRecord,
    dimension_scores,
)
from purview_sync.dev.qualytics.state import QualyticsState

_2023_STORE_TYPE = {"table": "table", "file": "file"}  # 2023 container stubs: computed ones are "computed"


class Payloads(QualyticsState):
    """Record → JSON for every entity the routes answer with."""

    def _ds_stub(self, ds: DatastoreRecord) -> dict[str, Any]:
        return {"id": ds.id, "name": ds.name, "store_type": ds.store_type, "type": ds.type}

    def _container_stub(self, c: ContainerRecord) -> dict[str, Any]:
        """2023 ``TableContainerStub`` / ``FileContainerStub`` (inside anomalies)."""
        out: dict[str, Any] = {"id": c.id, "name": c.name,
                               "store_type": _2023_STORE_TYPE.get(c.container_type, "computed")}
        if c.container_type == "table":
            out["table_type"] = c.table_type
        return out

    def _field_stubs(self, container_id: int, names: list[str]) -> list[dict[str, Any]]:
        """2023 ``Field`` objects ``{id, created, name, type}`` (inside check items)."""
        by_name = {self.fields[f].name: self.fields[f] for f in self._fields_by_container.get(container_id, ())}
        out = []
        for n in names:
            f = by_name.get(n)
            out.append({"id": f.id if f else 0, "created": f.created if f else self.containers[container_id].created,
                        "name": n, "type": f.type if f else "Unknown"})
        return out

    def _datastore_payload(self, ds: DatastoreRecord) -> dict[str, Any]:
        conn = self.connections[ds.connection_id]
        cids = self._containers_by_ds.get(ds.id, [])
        live = [self.containers[c] for c in cids if not self.containers[c].archived]
        active_anomalies = active_checks = fields_profiled = anomalies = checks = open_anomalies = archived = 0
        for c in live:
            for a in self._container_anomalies(c.id):
                anomalies += 1
                active_anomalies += a.status == "Active"
                open_anomalies += a.status in ANOMALY_OPEN
                archived += a.status in ANOMALY_ARCHIVED
            for k in self._container_checks(c.id):
                checks += 1
                active_checks += k.status == "Active"
            fields_profiled += sum(1 for f in self._fields_by_container[c.id] if self.fields[f].status != "excluded")
        metrics: dict[str, Any] = {
            "containers": len(live), "partitions": len(live), "records": sum(c.records for c in live),
            "quality_checks": checks, "anomalies": anomalies, "new_anomalies": active_anomalies,
            "open_anomalies": open_anomalies, "archived_anomalies": archived, "confidence_score": None}
        if self.knobs.datastore_metrics == "2026":
            metrics.update(fields_profiled=fields_profiled, active_checks=active_checks,
                           active_anomalies=active_anomalies)
        out: dict[str, Any] = {
            "id": ds.id, "created": ds.created, "name": ds.name, "store_type": ds.store_type, "type": ds.type,
            "connected": True, "favorite": False, "enrich_only": ds.enrichment_only,
            "enrich_container_prefix": f"_{ds.name}", "enrich_datastore": None, "metrics": metrics,
            "global_tags": self._global_tags("datastore", ds),
        }
        if ds.store_type == "dfs":
            out["uri"] = f"{ds.type}://{conn.host or 'storage'}{ds.root_path or '/'}"
        else:
            out.update(database=ds.database, schema=ds.schema,
                       jdbc_url=f"jdbc:{ds.type}://{conn.host or 'localhost'}/{ds.database or ''}")
        if self.knobs.datastore_host == "inline":
            out["host"] = conn.host
        else:
            out["connection"] = {"id": conn.id, "name": conn.name, "type": conn.type}
        return out

    def _container_payload(self, c: ContainerRecord, *, listed: bool = False) -> dict[str, Any]:
        ds = self.datastores[c.datastore_id]
        anomalies = self._container_anomalies(c.id)
        checks = self._container_checks(c.id)
        active_checks = {k.id for k in checks if k.status == "Active"}
        failing = {a.check_id for a in anomalies if a.status == "Active" and a.check_id in active_checks}
        score = None
        if c.quality_score is not None:
            score = {"created": c.score_created, "total": c.quality_score, **dimension_scores(c.quality_score),
                     **c.dimensions}
        metrics: dict[str, Any] = {
            "last_profiled": c.created, "last_scanned": c.created,
            "fields": sum(1 for f in self._fields_by_container[c.id] if self.fields[f].status != "excluded"),
            "records": c.records, "completeness": None,
            "active_checks": len(active_checks), "important_checks": 0,
            "passing_checks": len(active_checks) - len(failing), "failing_checks": len(failing),
            "anomalies": sum(1 for a in anomalies if a.status in ANOMALY_OPEN),
            "active_anomalies": sum(1 for a in anomalies if a.status == "Active"),
            "quality_score": score,
        }
        if listed and self.knobs.list_item_metrics == "empty":
            metrics = {}
        out: dict[str, Any] = {
            "id": c.id, "created": c.created, "name": c.name, "container_type": c.container_type,
            "datastore": self._ds_stub(ds), "global_tags": self._global_tags("container", c),
            "exclude_fields": [], "favorite": False, "deleted_at": c.created if c.archived else None,
            "volumetric_tracking_enabled": False, "freshness_tracking_enabled": False,
            "additional_metadata": None, "metrics": metrics,
        }
        if c.container_type == "table":
            out.update(table_type=c.table_type, partition_field=None, incremental_field_name=None)
        elif c.container_type == "file":
            out.update(relative_path=f"/{c.name}", file_name=c.name, extension=c.name.rsplit(".", 1)[-1],
                       last_modified=c.created)
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
        score = None
        if f.quality_score is not None:
            score = {"created": f.created, "total": f.quality_score, **dimension_scores(f.quality_score),
                     **f.dimensions}
        return {"id": f.id, "created": f.created, "name": f.name, "type": f.type, "completeness": None,
                "weight": 0, "nullable": True, "native_type": None, "global_tags": self._global_tags("field", f),
                "latest_profile_id": None, "quality_score": score, "computed_field": None}

    def _check_payload(self, k: CheckRecord) -> dict[str, Any]:
        c = self.containers[k.container_id]
        out: dict[str, Any] = {
            "id": k.id, "created": k.created, "rule_type": k.rule_type, "description": k.description,
            "coverage": 1.0, "inferred": False, "is_new": False, "properties": None, "deleted_at": None,
            "container": {"id": c.id, "name": c.name, "store_type": _2023_STORE_TYPE.get(c.container_type, "computed")},
            "anomaly_count": sum(1 for a in self._container_anomalies(k.container_id)
                                 if a.check_id == k.id and a.status == "Active"),
            "importance_score": 1.0, "global_tags": self._global_tags("check", k)}
        if self.knobs.finding_fields:
            out["fields"] = self._field_stubs(k.container_id, k.fields)
        return out

    def _anomaly_payload(self, a: AnomalyRecord) -> dict[str, Any]:
        c = self.containers[a.container_id]
        check = self.checks.get(a.check_id) if a.check_id is not None else None
        stub: dict[str, Any] = {
            "created": check.created if check else a.created, "id": check.id if check else a.stub_check_id,
            "rule_type": check.rule_type if check else "notNull", "inferred": False,
            "description": check.description if check else "", "coverage": 1.0, "weight": 1.0,
            "deleted_at": None if check else a.created}
        if self.knobs.finding_fields:
            stub["fields"] = [{"name": n} for n in a.fields]
        return {"created": a.created, "id": a.id, "uuid": a.uuid, "type": a.type,
                "message": f"{len(a.fields)} field(s) failed {stub['rule_type']}", "is_new": a.status == "Active",
                "archived": a.status in ANOMALY_ARCHIVED, "status": a.status, "source_enriched": False,
                "datastore": self._ds_stub(self.datastores[a.datastore_id]), "container": self._container_stub(c),
                "partition": {"name": c.name, "location": c.name},
                "failed_checks": [{"quality_check": stub, "message": f"{stub['rule_type']} failed"}],
                "weight": 1.0, "global_tags": self._global_tags("anomaly", a), "anomalous_records_count": None}

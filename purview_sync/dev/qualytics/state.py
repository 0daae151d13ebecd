"""The Qualytics simulator's state: the entity tables and their indexes, seeding and inspection for tests,
the knobs (``knobs``), and tag inheritance — which tags an entity shows (own first, then its container's
and datastore's, knob ``tag_cascade="shown"``) or, with ``"materialised"``, the parent's tags copied into
the children's own lists when the parent gains them and removed when it loses them."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from purview_sync.dev.qualytics.knobs import QualyticsKnobs
from purview_sync.dev.qualytics.records import (
    ANOMALY_STATUSES,
    CHECK_STATUSES,
    CONTAINER_TYPES,
    DIMENSIONS,
    FIELD_STATUSES,
    FIELD_TYPES,
    PALETTE,
    RULE_TYPES,
    STORE_TYPES,
    STUB_CHECK_IDS_START,
    TABLE_TYPES,
    TAG_TYPES,
    AnomalyRecord,
    CallRecord,
    CheckRecord,
    ConnectionRecord,
    ContainerRecord,
    DatastoreRecord,
    FieldRecord,
    ScoreSnapshot,
    TagRecord,
    checked_dimensions,
    dedupe,
    dimension_scores,
    utc_now,
)
from purview_sync.dev.qualytics.wire import not_found
from purview_sync.dev.simserver import Simulator


class QualyticsState(Simulator):
    """The tables (``datastores``, ``containers``, ``fields``, ``checks``, ``anomalies``, ``tags`` by name)
    and the methods tests seed and inspect them with; every change holds ``_lock``."""

    _lock: threading.RLock

    def reset(self) -> None:
        """Forget every datastore, tag and counter (a started server can be reused across tests this way:
        stopping one costs SimServer's 0.5 s shutdown poll)."""
        with self._lock:
            self._ids = {k: itertools.count(1) for k in
                         ("tag", "datastore", "connection", "container", "field", "check", "anomaly")}
            self._stub_ids = itertools.count(STUB_CHECK_IDS_START)
            self.tags: dict[str, TagRecord] = {}  # name → tag
            self.connections: dict[int, ConnectionRecord] = {}
            self.datastores: dict[int, DatastoreRecord] = {}
            self.containers: dict[int, ContainerRecord] = {}
            self.fields: dict[int, FieldRecord] = {}
            self.checks: dict[int, CheckRecord] = {}
            self.anomalies: dict[int, AnomalyRecord] = {}
            self.user = {"id": 1, "user_id": "auth0|sim-user", "email": "dev@example.com", "name": "Sim Developer",
                         "role": "Admin", "created": utc_now(), "teams": [{"id": 1, "created": utc_now(),
                                                                           "name": "Public"}]}
            # indexes (ids in insertion order = id order) so the 25,000-field benchmark stays fast
            self._containers_by_ds: dict[int, list[int]] = {}
            self._fields_by_container: dict[int, list[int]] = {}
            self._checks_by_container: dict[int, list[int]] = {}
            self._anomalies_by_container: dict[int, list[int]] = {}
            # lineage writes (dev/qualytics/lineage.py; the add-on and the edges themselves: access.py)
            self._ids["edge"] = itertools.count(1)
            self.lineage_accepts_purview = True  # whether POST /lineage/edges takes source_type "purview" [?]
            self.lineage_description_writable = True  # whether it takes a "description" [?]
            self.computed_join_shape = "ids"  # ids | objects | sources (payloads._computed_fields)
            self.computed_listing_brief = False  # True: the container listing leaves definitions out [I]
            self.knobs = QualyticsKnobs()
            self.server.stats.clear()
            self.calls: deque[CallRecord] = deque(maxlen=100_000)  # every answered request, oldest first

    def configure(self, **knobs: Any) -> None:
        """Set knobs (``knobs.QualyticsKnobs``: the behaviours the references leave open); ``reset`` undoes."""
        with self._lock:
            self.knobs.set(**knobs)

    def _children(self, kind: str, entity: Any) -> list[Any]:
        """The containers and fields (datastore) or fields (container) a materialised cascade reaches."""
        if kind == "datastore":
            cids = self._containers_by_ds.get(entity.id, [])
            return [self.containers[c] for c in cids] + [self.fields[f] for c in cids
                                                         for f in self._fields_by_container.get(c, ())]
        if kind == "container":
            return [self.fields[f] for f in self._fields_by_container.get(entity.id, ())]
        return []

    def _assign_tags(self, kind: str, entity: Any, names: Iterable[str]) -> None:
        """A ``tags`` write: the entity's own list becomes ``names``; materialised, the change cascades."""
        before = list(entity.tags)
        entity.tags = self._ensure_tags(names)
        if self.knobs.tag_cascade != "materialised":
            return
        added = [n for n in entity.tags if n not in before and self.tags[n].type != "external"]
        removed = {n for n in before if n not in entity.tags}
        for child in self._children(kind, entity):
            child.tags = dedupe([n for n in child.tags if n not in removed] + added)

    def _inherited_at_creation(self, parents: list[Any]) -> list[str]:
        if self.knobs.tag_cascade != "materialised":
            return []
        return [n for p in parents for n in p.tags if self.tags[n].type != "external"]


    def create_tag(self, name: str, **attrs: Any) -> TagRecord:
        """Create a tag of any type (``type="external"`` included, as an integration's pull would)."""
        with self._lock:
            if name in self.tags:
                raise ValueError(f"tag {name!r} already exists")
            kind = attrs.pop("type", "global")
            if kind not in TAG_TYPES:
                raise ValueError(f"unknown tag type {kind!r}")
            tag_id = next(self._ids["tag"])
            tag = TagRecord(id=tag_id, name=name, type=kind, color=PALETTE[(tag_id - 1) % len(PALETTE)])
            for key, value in attrs.items():
                if not hasattr(tag, key) or key in ("id", "name"):
                    raise ValueError(f"unknown tag attribute {key!r}")
                setattr(tag, key, value)
            if kind == "external" and tag.integration is None:
                tag.integration = {"id": 1, "type": "purview", "category": "data_catalog", "connected": True}
            self.tags[name] = tag
            return tag

    def _ensure_tags(self, names: Iterable[str]) -> list[str]:
        names = dedupe(names)
        for name in names:
            if name not in self.tags:
                self.create_tag(name)
        return names

    def add_datastore(self, name: str, *, type: str = "sqlserver", store_type: str = "jdbc",
                      database: str | None = None, schema: str | None = None, host: str | None = None,
                      root_path: str | None = None, enrichment_only: bool = False,
                      tags: Iterable[str] = ()) -> int:
        if store_type not in STORE_TYPES:
            raise ValueError(f"store_type must be one of {STORE_TYPES}")
        with self._lock:
            conn = next((c for c in self.connections.values() if c.type == type and c.host == host), None)
            if conn is None:
                conn_id = next(self._ids["connection"])
                conn = ConnectionRecord(id=conn_id, name=f"{type}-{host or 'connection'}-{conn_id}", type=type,
                                        host=host)
                self.connections[conn_id] = conn
            ds_id = next(self._ids["datastore"])
            self.datastores[ds_id] = DatastoreRecord(
                id=ds_id, name=name, type=type, store_type=store_type, database=database, schema=schema,
                root_path=root_path, connection_id=conn.id, enrichment_only=enrichment_only,
                tags=self._ensure_tags(tags))
            self._containers_by_ds[ds_id] = []
            return ds_id

    def add_container(self, datastore_id: int, name: str, *, table_type: str = "table",
                      container_type: str = "table", quality_score: float | None = None, records: int = 0,
                      archived: bool = False, tags: Iterable[str] = (),
                      dimensions: dict[str, float | None] | None = None) -> int:
        """``dimensions`` overrides some of the eight derived dimension scores (None = not assessed)."""
        if container_type not in CONTAINER_TYPES:
            raise ValueError(f"container_type must be one of {CONTAINER_TYPES}")
        if table_type not in TABLE_TYPES:
            raise ValueError(f"table_type must be one of {TABLE_TYPES}")
        with self._lock:
            if datastore_id not in self.datastores:
                raise KeyError(f"datastore {datastore_id} does not exist")
            cid = next(self._ids["container"])
            self.containers[cid] = ContainerRecord(
                id=cid, datastore_id=datastore_id, name=name, container_type=container_type,
                table_type=table_type if container_type == "table" else None, quality_score=quality_score,
                score_created=utc_now() if quality_score is not None else None, records=records, archived=archived,
                tags=dedupe(self._inherited_at_creation([self.datastores[datastore_id]]) + self._ensure_tags(tags)),
                dimensions=checked_dimensions(dimensions))
            self._containers_by_ds[datastore_id].append(cid)
            self._fields_by_container[cid] = []
            self._checks_by_container[cid] = []
            self._anomalies_by_container[cid] = []
            return cid

    def add_field(self, container_id: int, name: str, *, quality_score: float | None = None,
                  type: str = "String", status: str = "active", tags: Iterable[str] = (),
                  dimensions: dict[str, float | None] | None = None) -> int:
        if type not in FIELD_TYPES:
            raise ValueError(f"type must be one of {FIELD_TYPES}")
        if status not in FIELD_STATUSES:
            raise ValueError(f"status must be one of {FIELD_STATUSES}")
        with self._lock:
            if container_id not in self.containers:
                raise KeyError(f"container {container_id} does not exist")
            fid = next(self._ids["field"])
            container = self.containers[container_id]
            inherited = self._inherited_at_creation([container, self.datastores[container.datastore_id]])
            self.fields[fid] = FieldRecord(id=fid, container_id=container_id, name=name, type=type, status=status,
                                           quality_score=quality_score,
                                           tags=dedupe(inherited + self._ensure_tags(tags)),
                                           dimensions=checked_dimensions(dimensions))
            self._fields_by_container[container_id].append(fid)
            return fid

    def add_quality_score(self, datastore_id: int, total: float, date: str | dt.date | None = None,
                          **dimensions: float) -> str:
        """Record the daily snapshot for ``date`` (default today, UTC); the same date is overwritten."""
        day = (date if isinstance(date, str) else (date or dt.datetime.now(dt.UTC).date()).isoformat())
        dt.date.fromisoformat(day)  # validates
        with self._lock:
            ds = self._datastore(datastore_id)
            dims = dimension_scores(total)
            unknown = set(dimensions) - set(DIMENSIONS)
            if unknown:
                raise ValueError(f"unknown dimensions {sorted(unknown)}")
            dims.update(dimensions)
            ds.scores[day] = ScoreSnapshot(date=day, total=total, dimensions=dims)
            return day

    def _check_parent(self, datastore_id: int, container_id: int) -> None:
        container = self.containers.get(container_id)
        if container is None or container.datastore_id != datastore_id:
            raise KeyError(f"container {container_id} is not in datastore {datastore_id}")

    def add_check(self, datastore_id: int, container_id: int, fields: Iterable[str] = (), status: str = "Active",
                  *, rule_type: str = "notNull", description: str = "", tags: Iterable[str] = ()) -> int:
        if status not in CHECK_STATUSES:
            raise ValueError(f"status must be one of {CHECK_STATUSES}")
        if rule_type not in RULE_TYPES:
            raise ValueError(f"rule_type must be one of schemas.json's RuleType, not {rule_type!r}")
        with self._lock:
            self._check_parent(datastore_id, container_id)
            check_id = next(self._ids["check"])
            self.checks[check_id] = CheckRecord(
                id=check_id, datastore_id=datastore_id, container_id=container_id, fields=dedupe(fields),
                status=status, rule_type=rule_type, description=description, tags=self._ensure_tags(tags))
            self._checks_by_container[container_id].append(check_id)
            return check_id

    def add_anomaly(self, datastore_id: int, container_id: int, fields: Iterable[str] = (),
                    status: str = "Active", *, check_id: int | None = None, type: str = "record",
                    tags: Iterable[str] = ()) -> int:
        """``fields`` default to the check's fields when ``check_id`` is given."""
        if status not in ANOMALY_STATUSES:
            raise ValueError(f"status must be one of {ANOMALY_STATUSES}")
        with self._lock:
            self._check_parent(datastore_id, container_id)
            names = dedupe(fields)
            if check_id is not None:
                check = self.checks.get(check_id)
                if check is None or check.container_id != container_id:
                    raise KeyError(f"check {check_id} is not on container {container_id}")
                names = names or list(check.fields)
            anomaly_id = next(self._ids["anomaly"])
            self.anomalies[anomaly_id] = AnomalyRecord(
                id=anomaly_id, datastore_id=datastore_id, container_id=container_id, fields=names, status=status,
                type=type, check_id=check_id, stub_check_id=0 if check_id else next(self._stub_ids),
                tags=self._ensure_tags(tags))
            self._anomalies_by_container[container_id].append(anomaly_id)
            return anomaly_id

    _KINDS = ("datastore", "container", "field", "check", "anomaly")

    def _entity(self, kind: str, ident: int) -> Any:
        table = {"datastore": self.datastores, "container": self.containers, "field": self.fields,
                 "check": self.checks, "anomaly": self.anomalies}.get(kind)
        if table is None:
            raise ValueError(f"kind must be one of {self._KINDS}")
        if ident not in table:
            raise KeyError(f"{kind} {ident} does not exist")
        return table[ident]

    def tags_of(self, kind: str, ident: int) -> list[str]:
        """Own tag names of an entity (what a PUT ``tags`` replaces), without inherited ones."""
        with self._lock:
            return list(self._entity(kind, ident).tags)

    def effective_tags_of(self, kind: str, ident: int) -> list[str]:
        """Own + inherited tag names, as ``global_tags`` shows them."""
        with self._lock:
            return [t["name"] for t in self._global_tags(kind, self._entity(kind, ident))]

    def set_tags(self, kind: str, ident: int, names: Iterable[str]) -> None:
        """Seed an entity's own tags (full replacement, unknown names auto-created)."""
        with self._lock:
            self._assign_tags(kind, self._entity(kind, ident), names)

    def set_score(self, kind: str, ident: int, total: float | None) -> None:
        """Change a score for event tests; a datastore gets today's snapshot (``None`` not allowed there)."""
        with self._lock:
            if kind == "datastore":
                if total is None:
                    raise ValueError("a datastore score snapshot needs a value")
                self.add_quality_score(ident, total)
            elif kind == "container":
                container = self._entity("container", ident)
                container.quality_score, container.score_created = total, utc_now()
            elif kind == "field":
                self._entity("field", ident).quality_score = total
            else:
                raise ValueError("kind must be datastore, container or field")

    def set_status(self, kind: str, ident: int, status: str) -> None:
        """Move an anomaly/check/field to another status (archiving included)."""
        allowed = {"anomaly": ANOMALY_STATUSES, "check": CHECK_STATUSES, "field": FIELD_STATUSES}.get(kind)
        if allowed is None:
            raise ValueError("kind must be anomaly, check or field")
        if status not in allowed:
            raise ValueError(f"status must be one of {allowed}")
        with self._lock:
            self._entity(kind, ident).status = status

    def archive_container(self, container_id: int, archived: bool = True) -> None:
        with self._lock:
            self._entity("container", container_id).archived = archived

    def delete_anomaly(self, anomaly_id: int) -> None:
        with self._lock:
            anomaly = self.anomalies.pop(anomaly_id)
            self._anomalies_by_container[anomaly.container_id].remove(anomaly_id)

    def delete_check(self, check_id: int) -> None:
        """Hard-delete a check; anomalies that failed it keep a stub with ``deleted_at`` set."""
        with self._lock:
            check = self.checks.pop(check_id)
            self._checks_by_container[check.container_id].remove(check_id)
            for anomaly in self.anomalies.values():
                if anomaly.check_id == check_id:
                    anomaly.check_id, anomaly.stub_check_id = None, check_id

    def _datastore(self, ident: int) -> DatastoreRecord:
        ds = self.datastores.get(ident)
        if ds is None:
            raise not_found("Datastore", ident)
        return ds

    def _container_anomalies(self, cid: int) -> list[AnomalyRecord]:
        return [self.anomalies[a] for a in self._anomalies_by_container.get(cid, ())]

    def _container_checks(self, cid: int) -> list[CheckRecord]:
        return [self.checks[c] for c in self._checks_by_container.get(cid, ())]

    def _tag_object(self, tag: TagRecord) -> dict[str, Any]:
        out: dict[str, Any] = {"id": tag.id, "created": tag.created, "type": tag.type, "name": tag.name,
                               "color": tag.color, "description": tag.description, "category": tag.category,
                               "weight_modifier": tag.weight_modifier}
        if tag.type == "external":
            out["integration"] = tag.integration
        return out

    def _parents(self, kind: str, entity: Any) -> list[tuple[str, Any]]:
        """Nearest parent first: the entities whose tags cascade onto ``entity``."""
        if kind == "datastore":
            return []
        container = entity if kind == "container" else self.containers[entity.container_id]
        ds = self.datastores[container.datastore_id]
        return [("datastore", ds)] if kind == "container" else [("container", container), ("datastore", ds)]

    def _global_tags(self, kind: str, entity: Any) -> list[dict[str, Any]]:
        """What ``global_tags`` shows: own tags, then (knob ``tag_cascade="shown"``) the parents' non-external
        ones not already shown — with no marker telling which is which (the schemas have none)."""
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for name in entity.tags:
            tag = self.tags.get(name)
            if tag is not None and name not in seen:
                seen.add(name)
                out.append(self._tag_object(tag))
        if self.knobs.tag_cascade == "materialised":
            return out
        for _, parent in self._parents(kind, entity):
            for name in parent.tags:
                tag = self.tags.get(name)
                if tag is None or tag.type == "external" or name in seen:
                    continue
                seen.add(name)
                out.append(self._tag_object(tag))
        return out

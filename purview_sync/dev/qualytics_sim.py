"""A stateful fake of the Qualytics REST API (``/api``), served over a real socket by ``SimServer``.

Why a simulator and not mocks: the product's Qualytics client (requests, paging loops, retries, tag
diffing) must be exercised against real status codes, real paging and real tag semantics. What is
simulated follows ``shared/reference/qualytics-api.md``; where the reference leaves a gap, the choice
made here is written down below so that the client is not built on a guess silently.

Wire behaviour
--------------
* Bearer auth on every route except ``GET /api/health`` (204) and ``GET /api/status``. Missing or wrong
  token → 401 ``{"detail": ...}``. ``sim.token`` may be changed at run time (token rotation tests).
* Errors are FastAPI-shaped: ``{"detail": "<text>"}`` (401/403/404/409) and 422
  ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`` (pydantic-v1 wording, as in the Qualytics
  docs' example). Unknown query parameters are ignored, as FastAPI does — so a filter the real API does
  not have (e.g. ``store_type`` on datastores) silently filters nothing here either.
* Paging: ``page`` ≥ 1 (default 1), ``size`` 1..100 (default 50); body ``{items, total, page, size, pages}``
  with ``pages = ceil(total / size)``; a page past the end answers 200 with ``items: []``.
  List query parameters are repeated keys (``?id=1&id=2``); status lists also accept ``a,b``.
  Items are ordered by id unless a ``sort_*`` parameter says otherwise.
* ``archived`` (containers, anomalies, checks): ``exclude`` (default) | ``include`` | ``only``; ``true`` /
  ``false`` are read as ``only`` / ``exclude``. Archived anomaly statuses: Resolved, Invalid, Duplicate,
  Discarded; archived check statuses: Invalid, Discarded; containers carry an ``archived`` flag.

Payloads (choices where the reference is silent)
------------------------------------------------
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

Tags
----
* Tag object ``{id, created, type, name, color, description, category, weight_modifier}`` (+ ``integration``
  for seeded ``type: "external"`` tags). Names are unique and case-sensitive.
* Every entity (datastore, container, field, check, anomaly) keeps its **own** tag names. ``PUT {"tags":
  [...]}`` / bulk ``PATCH [{"id", "tags"}]`` replace that own list (all tag types, external included: a
  client that omits an attached tag detaches it); ``[]`` clears; omitted/``null`` leaves it; unknown
  names are auto-created as ``global`` tags. Bulk PATCH is atomic: an unknown id → 404, nothing changed.
* Inheritance: datastore tags show on its containers, fields, checks and anomalies; container tags on its
  fields, checks and anomalies — except ``external`` tags, which do not cascade (Qualytics docs). Entity
  ``global_tags`` lists own tags first, then inherited ones not already own. **Sim marker:** each entry has
  ``"inherited": bool`` and inherited ones ``"inherited_from": {"type", "id", "name"}``. The real API may
  not mark them — a client should still treat the parent's tags as the source of truth; the marker lets
  tests see what the client did.
* ``POST /global-tags``: ``type`` ∈ global|entity|lineage (``external`` → 422: no create schema), 409 on a
  duplicate name, answers 200 with the tag. ``PUT /global-tags/{name}`` updates name/color/description/
  category/weight_modifier (external: only category/weight_modifier, else 422). ``DELETE`` → 204 and
  detaches the tag everywhere (external → 403, they are read-only). ``GET /global-tags/listing`` is a plain
  list whose ``count`` is the number of entities carrying the tag as their own.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import ssl
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from purview_sync.dev.simserver import SimRequest, SimResponse, SimServer, Simulator, json_response

DEFAULT_TOKEN = "dev-qualytics-token"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100

TAG_TYPES = ("global", "external", "entity", "lineage")
CREATABLE_TAG_TYPES = ("global", "entity", "lineage")
STORE_TYPES = ("jdbc", "dfs", "native")
CONTAINER_TYPES = ("table", "file", "computed_table", "computed_file", "computed_join")
TABLE_TYPES = ("table", "view")
FIELD_TYPES = ("Unknown", "Integral", "Fractional", "Boolean", "String", "Date", "Timestamp")
FIELD_STATUSES = ("active", "masked", "missing", "excluded")
DEFAULT_FIELD_STATUSES = ("active", "missing")
ANOMALY_OPEN = ("Active", "Acknowledged")
ANOMALY_ARCHIVED = ("Resolved", "Invalid", "Duplicate", "Discarded")
ANOMALY_STATUSES = ANOMALY_OPEN + ANOMALY_ARCHIVED
CHECK_OPEN = ("Active", "Draft")
CHECK_ARCHIVED = ("Invalid", "Discarded")
CHECK_STATUSES = CHECK_OPEN + CHECK_ARCHIVED
DIMENSIONS = ("completeness", "coverage", "conformity", "consistency", "precision", "timeliness",
              "volumetrics", "accuracy")
_DIMENSION_OFFSETS = (2.5, -7.0, 1.0, -3.0, 4.0, -1.5, 0.5, -4.0)
_PALETTE = ("#2196F3", "#4CAF50", "#F44336", "#FF9800", "#9C27B0", "#009688", "#795548", "#607D8B")
_STUB_CHECK_IDS_START = 900_000  # ids of deleted checks referenced by seeded anomalies


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dims(total: float) -> dict[str, float]:
    """Eight dimension scores near ``total`` but (unless clamped at 0/100) not equal to it, so that a client
    reading the wrong key fails a test instead of passing by luck."""
    pairs = zip(DIMENSIONS, _DIMENSION_OFFSETS, strict=True)
    return {d: round(min(100.0, max(0.0, total + off)), 1) for d, off in pairs}


def _dedupe(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


# --- state ---------------------------------------------------------------------------------------------


@dataclass
class TagRecord:
    id: int
    name: str
    type: str = "global"
    color: str = "#2196F3"
    description: str | None = None
    category: str | None = None
    weight_modifier: int | None = 0
    created: str = field(default_factory=_now)
    integration: dict[str, Any] | None = None  # only for seeded type "external"


@dataclass
class ScoreSnapshot:
    date: str  # YYYY-MM-DD
    total: float
    dimensions: dict[str, float]


@dataclass
class DatastoreRecord:
    id: int
    name: str
    type: str
    store_type: str
    database: str | None
    schema: str | None
    root_path: str | None
    connection_id: int
    enrichment_only: bool = False
    description: str | None = None
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)
    tags: list[str] = field(default_factory=list)  # own tag names
    scores: dict[str, ScoreSnapshot] = field(default_factory=dict)  # date → snapshot


@dataclass
class ConnectionRecord:
    id: int
    name: str
    type: str
    host: str | None
    created: str = field(default_factory=_now)


@dataclass
class ContainerRecord:
    id: int
    datastore_id: int
    name: str
    container_type: str = "table"
    table_type: str | None = "table"
    quality_score: float | None = None
    score_created: str | None = None
    records: int = 0
    archived: bool = False
    created: str = field(default_factory=_now)
    tags: list[str] = field(default_factory=list)


@dataclass
class FieldRecord:
    id: int
    container_id: int
    name: str
    type: str = "String"
    status: str = "active"
    quality_score: float | None = None
    created: str = field(default_factory=_now)
    tags: list[str] = field(default_factory=list)


@dataclass
class CheckRecord:
    id: int
    datastore_id: int
    container_id: int
    fields: list[str]
    status: str = "Active"
    rule_type: str = "notNull"
    description: str = ""
    created: str = field(default_factory=_now)
    tags: list[str] = field(default_factory=list)


@dataclass
class AnomalyRecord:
    id: int
    datastore_id: int
    container_id: int
    fields: list[str]
    status: str = "Active"
    type: str = "record"
    check_id: int | None = None  # a listed check, or None → a deleted-check stub
    stub_check_id: int = 0
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: str = field(default_factory=_now)
    tags: list[str] = field(default_factory=list)


# --- request helpers -------------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(self, status: int, detail: Any, **headers: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def _invalid(errors: list[dict[str, Any]]) -> _ApiError:
    return _ApiError(422, errors)


def _error(loc: Sequence[str | int], msg: str, type_: str, **ctx: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"loc": list(loc), "msg": msg, "type": type_}
    if ctx:
        item["ctx"] = ctx
    return item


def _not_found(kind: str, ident: object) -> _ApiError:
    return _ApiError(404, f"{kind} with id {ident} not found")


_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}


class _Query:
    """Query-string parsing that collects every problem, as FastAPI does, then answers one 422."""

    def __init__(self, req: SimRequest) -> None:
        self._q = req.query
        self.errors: list[dict[str, Any]] = []

    def _int(self, raw: str, loc: list[str | int]) -> int | None:
        try:
            return int(raw.strip())
        except ValueError:
            self.errors.append(_error(loc, "value is not a valid integer", "type_error.integer"))
            return None

    def integer(self, name: str, *, default: int | None = None, ge: int | None = None,
                le: int | None = None, required: bool = False) -> int | None:
        values = self._q.get(name)
        if not values:
            if required:
                self.errors.append(_error(["query", name], "field required", "value_error.missing"))
            return default
        value = self._int(values[-1], ["query", name])
        if value is None:
            return default
        if ge is not None and value < ge:
            self.errors.append(_error(["query", name], f"ensure this value is greater than or equal to {ge}",
                                      "value_error.number.not_ge", limit_value=ge))
        if le is not None and value > le:
            self.errors.append(_error(["query", name], f"ensure this value is less than or equal to {le}",
                                      "value_error.number.not_le", limit_value=le))
        return value

    def integers(self, name: str) -> list[int] | None:
        values = self._q.get(name)
        if not values:
            return None
        out = [self._int(v, ["query", name, i]) for i, v in enumerate(values)]
        return [v for v in out if v is not None]

    def text(self, name: str) -> str | None:
        values = self._q.get(name)
        return values[-1] if values else None

    def texts(self, name: str, *, allowed: Sequence[str] | None = None, commas: bool = False) -> list[str] | None:
        values = self._q.get(name)
        if not values:
            return None
        if commas:
            values = [part.strip() for v in values for part in v.split(",") if part.strip()]
        if allowed is not None:
            for i, v in enumerate(values):
                if v not in allowed:
                    permitted = ", ".join(repr(a) for a in allowed)
                    self.errors.append(_error(["query", name, i],
                                              f"value is not a valid enumeration member; permitted: {permitted}",
                                              "type_error.enum", enum_values=list(allowed)))
        return values

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        raw = self.text(name)
        if raw is None:
            return default
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        self.errors.append(_error(["query", name], "value could not be parsed to a boolean", "type_error.bool"))
        return default

    def archived(self) -> str:
        raw = self.text("archived")
        if raw is None:
            return "exclude"
        low = raw.strip().lower()
        if low in ("exclude", "include", "only"):
            return low
        if low in _TRUE:
            return "only"
        if low in _FALSE:
            return "exclude"
        self.errors.append(_error(["query", "archived"],
                                  "value is not a valid enumeration member; permitted: 'exclude', 'include', 'only'",
                                  "type_error.enum"))
        return "exclude"

    def sort(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        low = raw.strip().lower()
        if low not in ("asc", "desc"):
            self.errors.append(_error(["query", name],
                                      "value is not a valid enumeration member; permitted: 'asc', 'desc'",
                                      "type_error.enum"))
            return None
        return low

    def page(self) -> tuple[int, int]:
        page = self.integer("page", default=1, ge=1)
        size = self.integer("size", default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
        return page or 1, size or DEFAULT_PAGE_SIZE

    def done(self) -> None:
        if self.errors:
            raise _invalid(self.errors)


def _body(req: SimRequest) -> Any:
    try:
        return req.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid([_error(["body"], f"Invalid JSON: {exc}", "value_error.jsondecode")]) from exc


def _body_object(req: SimRequest) -> dict[str, Any]:
    body = _body(req)
    if not isinstance(body, dict):
        raise _invalid([_error(["body"], "value is not a valid dict", "type_error.dict")])
    return body


def _tag_names(value: Any, loc: list[str | int]) -> list[str] | None:
    """``tags`` in an entity update: ``None`` = leave unchanged; else a list of non-empty names."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise _invalid([_error(loc, "value is not a valid list", "type_error.list")])
    errors = [_error([*loc, i], "str type expected", "type_error.str")
              for i, v in enumerate(value) if not isinstance(v, str) or not v.strip()]
    if errors:
        raise _invalid(errors)
    return _dedupe(value)


def _page(items: list[Any], page: int, size: int, render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    total = len(items)
    chunk = items[(page - 1) * size: page * size]
    return {"items": [render(x) for x in chunk], "total": total, "page": page, "size": size,
            "pages": math.ceil(total / size) if total else 0}


def _archived_ok(mode: str, archived: bool) -> bool:
    return mode == "include" or (mode == "only") == archived


def _path_id(req: SimRequest, name: str = "id") -> int:
    raw = req.params[name]
    try:
        return int(raw)
    except ValueError:
        raise _invalid([_error(["path", name], "value is not a valid integer", "type_error.integer")]) from None


# --- the simulator ---------------------------------------------------------------------------------------


class QualyticsSim(Simulator):
    """Qualytics API fake: seed it with the seeding methods, point a client at ``api_url``, inspect state."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, ui_url: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.token = token
        self._ui_url = ui_url
        self.server = SimServer("qualytics", ssl_context=ssl_context, port=port)
        self.server.not_found = lambda req: json_response({"detail": "Not Found"}, 404)  # type: ignore[method-assign]
        self._lock = threading.RLock()
        self.reset()
        self._register_routes()

    def reset(self) -> None:
        """Forget every datastore, tag and counter (a started server can be reused across tests this way:
        stopping one costs SimServer's 0.5 s shutdown poll)."""
        with self._lock:
            self._ids = {k: itertools.count(1) for k in
                         ("tag", "datastore", "connection", "container", "field", "check", "anomaly")}
            self._stub_ids = itertools.count(_STUB_CHECK_IDS_START)
            self.tags: dict[str, TagRecord] = {}  # name → tag
            self.connections: dict[int, ConnectionRecord] = {}
            self.datastores: dict[int, DatastoreRecord] = {}
            self.containers: dict[int, ContainerRecord] = {}
            self.fields: dict[int, FieldRecord] = {}
            self.checks: dict[int, CheckRecord] = {}
            self.anomalies: dict[int, AnomalyRecord] = {}
            self.user = {"id": 1, "user_id": "auth0|sim-user", "email": "dev@example.com", "name": "Sim Developer",
                         "role": "Admin", "created": _now()}
            # indexes (ids in insertion order = id order) so the 25,000-field benchmark stays fast
            self._containers_by_ds: dict[int, list[int]] = {}
            self._fields_by_container: dict[int, list[int]] = {}
            self._checks_by_container: dict[int, list[int]] = {}
            self._anomalies_by_container: dict[int, list[int]] = {}
            self.server.stats.clear()

    # --- lifecycle ------------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """What ``QUALYTICS_API_URL`` should hold."""
        return self.server.url + "/api"

    @property
    def ui_url(self) -> str:
        return self._ui_url or self.server.url

    @property
    def stats(self) -> Any:
        return self.server.stats

    def set_faults(self, **knobs: Any) -> None:
        self.server.set_faults(**knobs)

    # --- seeding ----------------------------------------------------------------------------------------
    def create_tag(self, name: str, **attrs: Any) -> TagRecord:
        """Create a tag of any type (``type="external"`` included, as an integration's pull would)."""
        with self._lock:
            if name in self.tags:
                raise ValueError(f"tag {name!r} already exists")
            kind = attrs.pop("type", "global")
            if kind not in TAG_TYPES:
                raise ValueError(f"unknown tag type {kind!r}")
            tag_id = next(self._ids["tag"])
            tag = TagRecord(id=tag_id, name=name, type=kind, color=_PALETTE[(tag_id - 1) % len(_PALETTE)])
            for key, value in attrs.items():
                if not hasattr(tag, key) or key in ("id", "name"):
                    raise ValueError(f"unknown tag attribute {key!r}")
                setattr(tag, key, value)
            if kind == "external" and tag.integration is None:
                tag.integration = {"id": 1, "type": "purview", "category": "data_catalog", "connected": True}
            self.tags[name] = tag
            return tag

    def _ensure_tags(self, names: Iterable[str]) -> list[str]:
        names = _dedupe(names)
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
                      archived: bool = False, tags: Iterable[str] = ()) -> int:
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
                score_created=_now() if quality_score is not None else None, records=records, archived=archived,
                tags=self._ensure_tags(tags))
            self._containers_by_ds[datastore_id].append(cid)
            self._fields_by_container[cid] = []
            self._checks_by_container[cid] = []
            self._anomalies_by_container[cid] = []
            return cid

    def add_field(self, container_id: int, name: str, *, quality_score: float | None = None,
                  type: str = "String", status: str = "active", tags: Iterable[str] = ()) -> int:
        if type not in FIELD_TYPES:
            raise ValueError(f"type must be one of {FIELD_TYPES}")
        if status not in FIELD_STATUSES:
            raise ValueError(f"status must be one of {FIELD_STATUSES}")
        with self._lock:
            if container_id not in self.containers:
                raise KeyError(f"container {container_id} does not exist")
            fid = next(self._ids["field"])
            self.fields[fid] = FieldRecord(id=fid, container_id=container_id, name=name, type=type, status=status,
                                           quality_score=quality_score, tags=self._ensure_tags(tags))
            self._fields_by_container[container_id].append(fid)
            return fid

    def add_quality_score(self, datastore_id: int, total: float, date: str | dt.date | None = None,
                          **dimensions: float) -> str:
        """Record the daily snapshot for ``date`` (default today, UTC); the same date is overwritten."""
        day = (date if isinstance(date, str) else (date or dt.datetime.now(dt.UTC).date()).isoformat())
        dt.date.fromisoformat(day)  # validates
        with self._lock:
            ds = self._datastore(datastore_id)
            dims = _dims(total)
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
        with self._lock:
            self._check_parent(datastore_id, container_id)
            check_id = next(self._ids["check"])
            self.checks[check_id] = CheckRecord(
                id=check_id, datastore_id=datastore_id, container_id=container_id, fields=_dedupe(fields),
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
            names = _dedupe(fields)
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
            self._entity(kind, ident).tags = self._ensure_tags(names)

    def set_score(self, kind: str, ident: int, total: float | None) -> None:
        """Change a score for event tests; a datastore gets today's snapshot (``None`` not allowed there)."""
        with self._lock:
            if kind == "datastore":
                if total is None:
                    raise ValueError("a datastore score snapshot needs a value")
                self.add_quality_score(ident, total)
            elif kind == "container":
                container = self._entity("container", ident)
                container.quality_score, container.score_created = total, _now()
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

    # --- derived values ------------------------------------------------------------------------------
    def _datastore(self, ident: int) -> DatastoreRecord:
        ds = self.datastores.get(ident)
        if ds is None:
            raise _not_found("Datastore", ident)
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
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for name in entity.tags:
            tag = self.tags.get(name)
            if tag is not None and name not in seen:
                seen.add(name)
                out.append({**self._tag_object(tag), "inherited": False})
        for parent_kind, parent in self._parents(kind, entity):
            for name in parent.tags:
                tag = self.tags.get(name)
                if tag is None or tag.type == "external" or name in seen:
                    continue
                seen.add(name)
                out.append({**self._tag_object(tag), "inherited": True,
                            "inherited_from": {"type": parent_kind, "id": parent.id, "name": parent.name}})
        return out

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
            score = {"created": c.score_created, "total": c.quality_score, **_dims(c.quality_score)}
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
        return out

    def _field_payload(self, f: FieldRecord) -> dict[str, Any]:
        score = None if f.quality_score is None else {"total": f.quality_score, **_dims(f.quality_score)}
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

    def _tag_usage(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(self.tags, 0)
        for table in (self.datastores, self.containers, self.fields, self.checks, self.anomalies):
            for entity in table.values():
                for name in entity.tags:
                    if name in counts:
                        counts[name] += 1
        return counts

    # --- routes ----------------------------------------------------------------------------------------------
    def _add(self, method: str, pattern: str, kind: str, fn: Callable[[SimRequest], SimResponse],
             *, auth: bool = True) -> None:
        def handler(req: SimRequest) -> SimResponse:
            if auth:
                bearer = req.bearer()
                if not bearer:
                    return json_response({"detail": "Not authenticated"}, 401, **{"WWW-Authenticate": "Bearer"})
                if bearer != self.token:
                    return json_response({"detail": "Could not validate credentials"}, 401,
                                         **{"WWW-Authenticate": "Bearer"})
            try:
                with self._lock:
                    return fn(req)
            except _ApiError as exc:
                return json_response({"detail": exc.detail}, exc.status, **exc.headers)

        self.server.route(method, "/api" + pattern, kind)(handler)

    def _register_routes(self) -> None:
        add = self._add
        add("GET", "/health", "health", lambda req: json_response(None, 204), auth=False)
        add("GET", "/status", "status",
            lambda req: json_response({"database_connection": "OK", "rabbitmq_connection": "OK"}), auth=False)
        add("GET", "/users/me", "users.me", lambda req: json_response(dict(self.user)))
        add("GET", "/connections/{id}", "connections.get", self._get_connection)
        # listing routes first: "/containers/listing" must not be read as "/containers/{id}"
        add("GET", "/datastores/listing", "datastores.listing", self._datastores_listing)
        add("GET", "/datastores", "datastores.list", self._list_datastores)
        add("GET", "/datastores/{id}", "datastores.get", self._get_datastore)
        add("PUT", "/datastores/{id}", "datastores.put", self._put_datastore)
        add("GET", "/datastores/{id}/quality-scores", "datastores.quality_scores", self._quality_scores)
        add("GET", "/containers/listing", "containers.listing", self._containers_listing)
        add("GET", "/containers", "containers.list", self._list_containers)
        add("PATCH", "/containers", "containers.patch", self._patch_containers)
        add("GET", "/containers/{id}", "containers.get", self._get_container)
        add("PUT", "/containers/{id}", "containers.put", self._put_container)
        add("GET", "/fields/listing", "fields.listing", self._fields_listing)
        add("GET", "/fields", "fields.list", self._list_fields)
        add("PATCH", "/fields", "fields.patch", self._patch_fields)
        add("GET", "/fields/{id}", "fields.get", self._get_field)
        add("PUT", "/fields/{id}", "fields.put", self._put_field)
        add("GET", "/anomalies", "anomalies.list", self._list_anomalies)
        add("GET", "/anomalies/{id}", "anomalies.get", self._get_anomaly)
        add("GET", "/quality-checks", "checks.list", self._list_checks)
        add("GET", "/quality-checks/{id}", "checks.get", self._get_check)
        add("GET", "/global-tags/listing", "tags.listing", self._tags_listing)
        add("GET", "/global-tags", "tags.list", self._list_tags)
        add("POST", "/global-tags", "tags.create", self._create_tag)
        add("GET", "/global-tags/{name}", "tags.get", self._get_tag)
        add("PUT", "/global-tags/{name}", "tags.put", self._put_tag)
        add("DELETE", "/global-tags/{name}", "tags.delete", self._delete_tag)

    # connections
    def _get_connection(self, req: SimRequest) -> SimResponse:
        conn = self.connections.get(_path_id(req))
        if conn is None:
            raise _not_found("Connection", req.params["id"])
        return json_response({"id": conn.id, "name": conn.name, "type": conn.type, "connection_type": conn.type,
                              "host": conn.host, "port": 1433 if conn.type == "sqlserver" else None,
                              "parameters": {}, "created": conn.created})

    # datastores
    def _filtered_datastores(self, q: _Query) -> list[DatastoreRecord]:
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
        q = _Query(req)
        page, size = q.page()
        items = self._filtered_datastores(q)
        return json_response(_page(items, page, size, self._datastore_payload))

    def _datastores_listing(self, req: SimRequest) -> SimResponse:
        items = self._filtered_datastores(_Query(req))
        return json_response([{"id": d.id, "name": d.name, "type": d.type, "store_type": d.store_type}
                              for d in items])

    def _get_datastore(self, req: SimRequest) -> SimResponse:
        return json_response(self._datastore_payload(self._datastore(_path_id(req))))

    def _put_datastore(self, req: SimRequest) -> SimResponse:
        ds = self._datastore(_path_id(req))
        body = _body_object(req)
        errors = [_error(["body", key], "str type expected", "type_error.str")
                  for key in ("name", "description", "database", "schema")
                  if body.get(key) is not None and not isinstance(body[key], str)]
        if errors:
            raise _invalid(errors)
        tags = _tag_names(body.get("tags"), ["body", "tags"])
        for key in ("name", "description", "database", "schema"):
            if body.get(key) is not None:
                setattr(ds, key, body[key])
        if isinstance(body.get("enrichment_only"), bool):
            ds.enrichment_only = body["enrichment_only"]
        if tags is not None:
            ds.tags = self._ensure_tags(tags)
        ds.updated = _now()
        return json_response(self._datastore_payload(ds))

    def _quality_scores(self, req: SimRequest) -> SimResponse:
        ds = self._datastore(_path_id(req))
        snaps = sorted(ds.scores.values(), key=lambda s: s.date, reverse=True)[:10]
        return json_response([{"date": s.date, "total": s.total, **s.dimensions} for s in snaps])

    # containers
    def _filtered_containers(self, q: _Query) -> list[ContainerRecord]:
        datastores = q.integers("datastore")
        types = q.texts("container_type", allowed=CONTAINER_TYPES)
        name = q.text("name")
        search = q.text("search")
        tags = q.texts("tag")
        archived = q.archived()
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
            if not _archived_ok(archived, c.archived):
                continue
            if tags is not None and not set(tags) & {t["name"] for t in self._global_tags("container", c)}:
                continue
            out.append(c)
        if sort_name:
            out.sort(key=lambda c: c.name.lower(), reverse=sort_name == "desc")
        return out

    def _list_containers(self, req: SimRequest) -> SimResponse:
        q = _Query(req)
        page, size = q.page()
        return json_response(_page(self._filtered_containers(q), page, size, self._container_payload))

    def _containers_listing(self, req: SimRequest) -> SimResponse:
        items = self._filtered_containers(_Query(req))
        return json_response([{**self._container_stub(c), "datastore_id": c.datastore_id} for c in items])

    def _container(self, ident: int) -> ContainerRecord:
        c = self.containers.get(ident)
        if c is None:
            raise _not_found("Container", ident)
        return c

    def _get_container(self, req: SimRequest) -> SimResponse:
        return json_response(self._container_payload(self._container(_path_id(req))))

    def _put_container(self, req: SimRequest) -> SimResponse:
        """A full PUT in Qualytics: ``container_type`` is the required discriminator (S1 always re-sends it)."""
        c = self._container(_path_id(req))
        body = _body_object(req)
        if "container_type" not in body:
            raise _invalid([_error(["body", "container_type"], "field required", "value_error.missing")])
        if body["container_type"] != c.container_type:
            raise _invalid([_error(["body", "container_type"],
                                   f"container_type cannot change from {c.container_type!r}", "value_error")])
        tags = _tag_names(body.get("tags"), ["body", "tags"])
        if isinstance(body.get("name"), str) and body["name"]:
            c.name = body["name"]
        if tags is not None:
            c.tags = self._ensure_tags(tags)
        return json_response(self._container_payload(c))

    def _bulk_update(self, req: SimRequest, table: dict[int, Any], kind: str,
                     validate_status: Callable[[Any, list[str | int]], None] | None = None) -> list[Any]:
        """Bulk PATCH ``[{"id", "tags"?, "status"?}]``: validate everything first, then apply (atomic)."""
        body = _body(req)
        if not isinstance(body, list):
            raise _invalid([_error(["body"], "value is not a valid list", "type_error.list")])
        parsed: list[tuple[Any, list[str] | None, dict[str, Any]]] = []
        errors: list[dict[str, Any]] = []
        for i, item in enumerate(body):
            if not isinstance(item, dict):
                errors.append(_error(["body", i], "value is not a valid dict", "type_error.dict"))
                continue
            if not isinstance(item.get("id"), int) or isinstance(item.get("id"), bool):
                errors.append(_error(["body", i, "id"], "field required" if "id" not in item
                                     else "value is not a valid integer",
                                     "value_error.missing" if "id" not in item else "type_error.integer"))
                continue
            try:
                parsed.append((item["id"], _tag_names(item.get("tags"), ["body", i, "tags"]), item))
            except _ApiError as exc:
                errors.extend(exc.detail)
        if errors:
            raise _invalid(errors)
        missing = [ident for ident, _, _ in parsed if ident not in table]
        if missing:
            raise _ApiError(404, f"{kind} with id {missing[0]} not found")
        if validate_status is not None:
            for i, (_, _, item) in enumerate(parsed):
                validate_status(item.get("status"), ["body", i, "status"])
        updated = []
        for ident, tags, item in parsed:
            entity = table[ident]
            if tags is not None:
                entity.tags = self._ensure_tags(tags)
            if validate_status is not None and item.get("status") is not None:
                entity.status = item["status"]
            updated.append(entity)
        return updated

    def _patch_containers(self, req: SimRequest) -> SimResponse:
        updated = self._bulk_update(req, self.containers, "Container")
        return json_response([self._container_payload(c) for c in updated])

    # fields
    def _filtered_fields(self, q: _Query) -> list[FieldRecord]:
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
        q = _Query(req)
        page, size = q.page()
        return json_response(_page(self._filtered_fields(q), page, size, self._field_payload))

    def _fields_listing(self, req: SimRequest) -> SimResponse:
        items = self._filtered_fields(_Query(req))
        return json_response([{"id": f.id, "name": f.name, "type": f.type, "container_id": f.container_id}
                              for f in items])

    def _field(self, ident: int) -> FieldRecord:
        f = self.fields.get(ident)
        if f is None:
            raise _not_found("Field", ident)
        return f

    def _get_field(self, req: SimRequest) -> SimResponse:
        return json_response(self._field_payload(self._field(_path_id(req))))

    @staticmethod
    def _validate_field_status(value: Any, loc: list[str | int]) -> None:
        if value is not None and value not in FIELD_STATUSES:
            permitted = ", ".join(repr(s) for s in FIELD_STATUSES)
            raise _invalid([_error(loc, f"value is not a valid enumeration member; permitted: {permitted}",
                                   "type_error.enum")])

    def _put_field(self, req: SimRequest) -> SimResponse:
        f = self._field(_path_id(req))
        body = _body_object(req)
        tags = _tag_names(body.get("tags"), ["body", "tags"])
        self._validate_field_status(body.get("status"), ["body", "status"])
        if isinstance(body.get("name"), str) and body["name"]:
            f.name = body["name"]
        if body.get("status") is not None:
            f.status = body["status"]
        if tags is not None:
            f.tags = self._ensure_tags(tags)
        return json_response(self._field_payload(f))

    def _patch_fields(self, req: SimRequest) -> SimResponse:
        updated = self._bulk_update(req, self.fields, "Field", self._validate_field_status)
        return json_response([self._field_payload(f) for f in updated])

    # anomalies and checks
    def _scoped(self, containers: list[int] | None, datastores: list[int] | None,
                by_container: dict[int, list[int]]) -> list[int]:
        """Ids of anomalies/checks under the given containers or datastores, via the indexes."""
        if containers is not None:
            cids = containers
        elif datastores is not None:
            cids = [c for d in datastores for c in self._containers_by_ds.get(d, ())]
        else:
            cids = list(by_container)
        return sorted(i for c in set(cids) for i in by_container.get(c, ()))

    def _list_anomalies(self, req: SimRequest) -> SimResponse:
        q = _Query(req)
        page, size = q.page()
        datastores = q.integers("datastore")
        containers = q.integers("container")
        fields = q.texts("field")
        statuses = q.texts("status", allowed=ANOMALY_STATUSES, commas=True)
        checks = q.integers("quality_check")
        tags = q.texts("tag")
        anomaly_type = q.text("anomaly_type")
        archived = q.archived()
        sort_created = q.sort("sort_created")
        q.done()
        out = []
        for aid in self._scoped(containers, datastores, self._anomalies_by_container):
            a = self.anomalies[aid]
            if datastores is not None and a.datastore_id not in datastores:
                continue
            if containers is not None and a.container_id not in containers:
                continue
            if fields is not None and not set(fields) & set(a.fields):
                continue
            if statuses is not None and a.status not in statuses:
                continue
            if not _archived_ok(archived, a.status in ANOMALY_ARCHIVED):
                continue
            if checks is not None and (a.check_id or a.stub_check_id) not in checks:
                continue
            if anomaly_type is not None and a.type != anomaly_type:
                continue
            if tags is not None and not set(tags) & {t["name"] for t in self._global_tags("anomaly", a)}:
                continue
            out.append(a)
        if sort_created:
            out.sort(key=lambda a: (a.created, a.id), reverse=sort_created == "desc")
        return json_response(_page(out, page, size, self._anomaly_payload))

    def _get_anomaly(self, req: SimRequest) -> SimResponse:
        a = self.anomalies.get(_path_id(req))
        if a is None:
            raise _not_found("Anomaly", req.params["id"])
        return json_response(self._anomaly_payload(a))

    def _list_checks(self, req: SimRequest) -> SimResponse:
        q = _Query(req)
        page, size = q.page()
        datastore = q.integer("datastore", required=True)
        containers = q.integers("container")
        fields = q.texts("field")
        statuses = q.texts("status", allowed=CHECK_STATUSES, commas=True)
        tags = q.texts("tag")
        rule_types = q.texts("rule_type")
        archived = q.archived()
        q.done()
        out = []
        for kid in self._scoped(containers, [datastore] if datastore is not None else None,
                                self._checks_by_container):
            k = self.checks[kid]
            if k.datastore_id != datastore:
                continue
            if containers is not None and k.container_id not in containers:
                continue
            if fields is not None and not set(fields) & set(k.fields):
                continue
            if statuses is not None and k.status not in statuses:
                continue
            if not _archived_ok(archived, k.status in CHECK_ARCHIVED):
                continue
            if rule_types is not None and k.rule_type not in rule_types:
                continue
            if tags is not None and not set(tags) & {t["name"] for t in self._global_tags("check", k)}:
                continue
            out.append(k)
        return json_response(_page(out, page, size, self._check_payload))

    def _get_check(self, req: SimRequest) -> SimResponse:
        k = self.checks.get(_path_id(req))
        if k is None:
            raise _not_found("Quality check", req.params["id"])
        return json_response(self._check_payload(k))

    # tags
    def _tag(self, req: SimRequest) -> TagRecord:
        name = unquote(req.params["name"])
        tag = self.tags.get(name)
        if tag is None:
            raise _ApiError(404, f"Tag with name {name} not found")
        return tag

    def _list_tags(self, req: SimRequest) -> SimResponse:
        q = _Query(req)
        page, size = q.page()
        search = q.text("search")
        q.done()
        items = sorted((t for t in self.tags.values() if not search or search.lower() in t.name.lower()),
                       key=lambda t: t.name.lower())
        return json_response(_page(items, page, size, self._tag_object))

    def _tags_listing(self, req: SimRequest) -> SimResponse:
        usage = self._tag_usage()
        items = sorted(self.tags.values(), key=lambda t: t.name.lower())
        return json_response([{**self._tag_object(t), "count": usage[t.name]} for t in items])

    def _get_tag(self, req: SimRequest) -> SimResponse:
        return json_response(self._tag_object(self._tag(req)))

    @staticmethod
    def _tag_attr_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
        errors = []
        for key in ("color", "description", "category"):
            if body.get(key) is not None and not isinstance(body[key], str):
                errors.append(_error(["body", key], "str type expected", "type_error.str"))
        wm = body.get("weight_modifier")
        if wm is not None:
            if not isinstance(wm, int) or isinstance(wm, bool):
                errors.append(_error(["body", "weight_modifier"], "value is not a valid integer", "type_error.integer"))
            elif not -10 <= wm <= 10:
                errors.append(_error(["body", "weight_modifier"], "ensure this value is within -10..10",
                                     "value_error.number.not_in_range", limit_value=[-10, 10]))
        return errors

    def _create_tag(self, req: SimRequest) -> SimResponse:
        body = _body_object(req)
        kind = body.get("type")
        if kind is None:
            raise _invalid([_error(["body"], "Unable to extract tag using discriminator 'type'",
                                   "value_error.discriminated_union.missing_discriminator")])
        if kind not in CREATABLE_TAG_TYPES:
            allowed = ", ".join(repr(t) for t in CREATABLE_TAG_TYPES)
            raise _invalid([_error(["body", "type"],
                                   f"No match for discriminator 'type' and value {kind!r} (allowed values: {allowed})",
                                   "value_error.discriminated_union.invalid_discriminator")])
        name = body.get("name")
        errors = self._tag_attr_errors(body)
        if not isinstance(name, str) or not name.strip():
            errors.insert(0, _error(["body", kind, "name"], "field required", "value_error.missing"))
        if errors:
            raise _invalid(errors)
        if name in self.tags:
            raise _ApiError(409, f"A tag with the name {name!r} already exists")
        attrs = {k: body[k] for k in ("color", "description", "category", "weight_modifier") if body.get(k) is not None}
        return json_response(self._tag_object(self.create_tag(name, type=kind, **attrs)))

    def _put_tag(self, req: SimRequest) -> SimResponse:
        tag = self._tag(req)
        body = _body_object(req)
        if body.get("type") is not None and body["type"] != tag.type:
            raise _invalid([_error(["body", "type"], f"tag {tag.name!r} is of type {tag.type!r}", "value_error")])
        errors = self._tag_attr_errors(body)
        new_name = body.get("name")
        if new_name is not None and (not isinstance(new_name, str) or not new_name.strip()):
            errors.append(_error(["body", "name"], "str type expected", "type_error.str"))
        if tag.type == "external":
            locked = [k for k in ("name", "color", "description") if body.get(k) is not None]
            errors += [_error(["body", k], "external tags only allow category and weight_modifier updates",
                              "value_error") for k in locked]
        if errors:
            raise _invalid(errors)
        if new_name is not None and new_name != tag.name:
            if new_name in self.tags:
                raise _ApiError(409, f"A tag with the name {new_name!r} already exists")
            old = tag.name
            del self.tags[old]
            tag.name = new_name
            self.tags[new_name] = tag
            for table in (self.datastores, self.containers, self.fields, self.checks, self.anomalies):
                for entity in table.values():
                    if old in entity.tags:
                        entity.tags = [new_name if n == old else n for n in entity.tags]
        for key in ("color", "description", "category", "weight_modifier"):
            if key in body:
                setattr(tag, key, body[key])
        return json_response(self._tag_object(tag))

    def _delete_tag(self, req: SimRequest) -> SimResponse:
        tag = self._tag(req)
        if tag.type == "external":
            raise _ApiError(403, "External tags are managed by their integration and cannot be deleted")
        del self.tags[tag.name]
        for table in (self.datastores, self.containers, self.fields, self.checks, self.anomalies):
            for entity in table.values():
                if tag.name in entity.tags:
                    entity.tags = [n for n in entity.tags if n != tag.name]
        return json_response(None, 204)


__all__ = [
    "DEFAULT_TOKEN",
    "AnomalyRecord",
    "CheckRecord",
    "ContainerRecord",
    "DatastoreRecord",
    "FieldRecord",
    "QualyticsSim",
    "ScoreSnapshot",
    "TagRecord",
]

"""A stateful fake of the Qualytics REST API (``/api``): ``QualyticsSim``, the facade that wires the state,
the payloads and the routes of this package onto one ``SimServer`` behind bearer auth.

Why a simulator and not mocks: the product's Qualytics client (requests, paging loops, retries, tag
diffing) must be exercised against real status codes, real paging and real tag semantics. What is
simulated follows ``shared/reference/qualytics-api.md``; where the reference leaves a gap, the choice
made here is written down in the docstring of the module that makes it, so that the client is not built
on a guess silently.

Where things live: ``knobs`` (the behaviours the references leave open, ``configure(**knobs)``),
``records`` (entity records, enumerations), ``wire`` (errors, query/body parsing,
paging — and the wire behaviour), ``state`` (tables, seeding, inspection, tag inheritance), ``payloads``
(record → JSON — and the payload choices), ``catalog`` (connections, datastores, containers, fields),
``findings`` (anomalies, checks), ``tags`` (global tags — and the tag semantics), ``access`` (role, team
permissions, the lineage add-on — and their knobs), ``lineage`` (computed containers, lineage edge writes),
``operations`` (finished and running operations — and their knobs).
"""

from __future__ import annotations

import ssl
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from purview_sync.dev.qualytics.access import AccessRoutes
from purview_sync.dev.qualytics.catalog import CatalogRoutes
from purview_sync.dev.qualytics.findings import FindingRoutes
from purview_sync.dev.qualytics.knobs import QualyticsKnobs
from purview_sync.dev.qualytics.lineage import LineageRoutes
from purview_sync.dev.qualytics.operations import OperationRecord, OperationRoutes
from purview_sync.dev.qualytics.records import (
    DEFAULT_TOKEN,
    AnomalyRecord,
    CallRecord,
    CheckRecord,
    ContainerRecord,
    DatastoreRecord,
    FieldRecord,
    ScoreSnapshot,
    TagRecord,
)
from purview_sync.dev.qualytics.tags import TagRoutes
from purview_sync.dev.qualytics.wire import ApiError
from purview_sync.dev.simserver import SimRequest, SimResponse, SimServer, json_response


@dataclass(frozen=True)
class Recorded:
    """One exchange the simulator served: what ``tests/dev/qualytics/test_schemas.py`` validates."""

    kind: str
    method: str
    path: str
    request_body: bytes
    status: int
    body: Any


class QualyticsSim(CatalogRoutes, FindingRoutes, TagRoutes, AccessRoutes, LineageRoutes, OperationRoutes):
    """Qualytics API fake: seed it with the seeding methods, point a client at ``api_url``, inspect state."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, ui_url: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.token = token
        self._ui_url = ui_url
        self.server = SimServer("qualytics", ssl_context=ssl_context, port=port)
        self.server.not_found = lambda req: json_response({"detail": "Not Found"}, 404)  # type: ignore[method-assign]
        self._lock = threading.RLock()
        self.calls: deque[CallRecord] = deque(maxlen=100_000)  # every request, oldest first (reset clears it)
        self.recording: list[Recorded] | None = None  # set to [] to record every exchange (schema tests)
        self.intercepts: dict[str, Callable[[SimRequest], None]] = {}  # kind → run before the handler
        self.reset()
        self._register_routes()

    def reset(self) -> None:
        with self._lock:
            super().reset()
            self._reset_access()

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

    def writes(self) -> list[CallRecord]:
        """The requests that could change state (everything but GET), oldest first."""
        return [c for c in list(self.calls) if c.method != "GET"]

    def set_faults(self, **knobs: Any) -> None:
        self.server.set_faults(**knobs)

    def _add(self, method: str, pattern: str, kind: str, fn: Callable[[SimRequest], SimResponse],
             *, auth: bool = True, needs: str | None = None) -> None:
        def handler(req: SimRequest) -> SimResponse:
            resp = answer(req)
            self.calls.append(CallRecord(req.method, req.path, {k: list(v) for k, v in req.query.items()},
                                         resp.status))
            return resp

        def answer(req: SimRequest) -> SimResponse:
            if auth:
                bearer = req.bearer()
                if not bearer:
                    return json_response({"detail": "Not authenticated"}, 401, **{"WWW-Authenticate": "Bearer"})
                if bearer != self.token:
                    return json_response({"detail": "Could not validate credentials"}, 401,
                                         **{"WWW-Authenticate": "Bearer"})
            try:
                with self._lock:
                    self._authorize(needs)
                    hook = self.intercepts.get(kind)
                    if hook is not None:
                        hook(req)
                    response = fn(req)
            except ApiError as exc:
                response = json_response({"detail": exc.detail}, exc.status, **exc.headers)
            if self.recording is not None:
                self.recording.append(Recorded(kind, req.method, req.path, req.body, response.status, response.body))
            return response

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
        add("GET", "/datastores/{id}/quality-scores", "datastores.quality_scores", self._quality_scores,
            needs="Reporter")
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
        add("GET", "/operations", "operations.list", self._list_operations)
        add("GET", "/operations/{id}", "operations.get", self._get_operation)
        add("GET", "/global-tags/listing", "tags.listing", self._tags_listing)
        add("GET", "/global-tags", "tags.list", self._list_tags)
        add("POST", "/global-tags", "tags.create", self._create_tag, needs="Editor")
        add("GET", "/global-tags/{name}", "tags.get", self._get_tag)
        add("PUT", "/global-tags/{name}", "tags.put", self._put_tag, needs="Editor")
        add("DELETE", "/global-tags/{name}", "tags.delete", self._delete_tag, needs="Editor")
        add("GET", "/lineage/edges", "lineage.edges.list", self._list_lineage_edges)
        self._register_lineage_routes()


__all__ = [
    "DEFAULT_TOKEN",
    "AnomalyRecord",
    "CallRecord",
    "CheckRecord",
    "ContainerRecord",
    "DatastoreRecord",
    "FieldRecord",
    "OperationRecord",
    "QualyticsKnobs",
    "QualyticsSim",
    "Recorded",
    "ScoreSnapshot",
    "TagRecord",
]

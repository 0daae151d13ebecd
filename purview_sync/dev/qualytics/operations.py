"""Operations (reference/qualytics-api.md §9): ``GET /api/operations`` (paged, filtered) and
``GET /api/operations/{id}``, and the seeding a test uses to record a finished (or running) operation.

Documented [C] and served as written: the filters ``datastore`` (list), ``operation_type``, ``result``
(list), ``finished``, ``start_date``, ``end_date``, ``sort_created``, ``page``, ``size``; the item fields
``id, created, type, start_time, end_time, result (success|failure|aborted|running), message,
triggered_by, datastore, status{total_containers, containers_analyzed, records_processed}`` (the 2023
``Operation`` schema in specs/qualytics/schemas.json has the first seven and leaves the rest open).

Not documented [?], so each plausible behaviour is a knob (``sim.operation_knobs``), default first:
* ``date_field``: which time ``start_date`` / ``end_date`` compare — ``created`` | ``start_time`` | ``end_time``;
* ``date_format``: ``datetime`` (an ISO date-time or a date is accepted) | ``date`` (only ``YYYY-MM-DD``;
  a date-time → 422, as a FastAPI ``date`` parameter answers);
* ``datastore_shape``: ``object`` (a ``DatastoreStub``: ``{id, name, store_type, type}``) | ``id`` (an int);
* ``ignored_filters``: filter names the server does not know and so ignores (FastAPI ignores unknown query
  parameters), e.g. ``{"result", "finished"}``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from purview_sync.dev.qualytics.state import QualyticsState
from purview_sync.dev.qualytics.wire import Query, error_item, not_found, page_of, path_id
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response

OPERATION_TYPES = ("sync", "catalog", "profile", "scan", "materialize", "export")
OPERATION_RESULTS = ("success", "failure", "aborted", "running")
DATE_FIELDS = ("created", "start_time", "end_time")


def _render(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class OperationRecord:
    id: int
    datastore_id: int
    type: str
    result: str
    created: dt.datetime
    start_time: dt.datetime
    end_time: dt.datetime | None
    message: str | None = None
    triggered_by: str = "sim"
    containers: int = 0


@dataclass
class OperationKnobs:
    date_field: str = "created"
    date_format: str = "datetime"
    datastore_shape: str = "object"
    ignored_filters: set[str] = field(default_factory=set)


class OperationRoutes(QualyticsState):
    """Part of ``QualyticsSim``: the operations table (emptied by ``reset``), its seeding and its routes."""

    def reset(self) -> None:
        with self._lock:
            self.operations: dict[int, OperationRecord] = {}
            self._operation_ids = itertools.count(1)
            self.operation_knobs = OperationKnobs()
            super().reset()

    # --- seeding -------------------------------------------------------------------------------------------
    def record_operation(self, datastore_id: int, type: str = "scan", result: str = "success", *,
                         start_time: dt.datetime | None = None, end_time: dt.datetime | None = None,
                         created: dt.datetime | None = None, message: str | None = None,
                         triggered_by: str = "sim") -> int:  # fmt: skip
        """Record an operation of ``datastore_id``; a finished one ends now unless told otherwise (``result``
        ``running`` = not finished). Returns its id."""
        if type not in OPERATION_TYPES or result not in OPERATION_RESULTS:
            raise ValueError(f"operation type {type!r} / result {result!r} not known")
        with self._lock:
            if datastore_id not in self.datastores:
                raise ValueError(f"no datastore {datastore_id}")
            now = dt.datetime.now(dt.UTC)
            finished = result != "running"
            end = (end_time or now) if finished else None
            start = start_time or ((end or now) - dt.timedelta(seconds=2))
            record = OperationRecord(
                id=next(self._operation_ids), datastore_id=datastore_id, type=type, result=result,
                created=created or start, start_time=start, end_time=end, message=message,
                triggered_by=triggered_by,
                containers=sum(1 for c in self.containers.values() if c.datastore_id == datastore_id),
            )  # fmt: skip
            self.operations[record.id] = record
            return record.id

    def finish_operation(
        self, operation_id: int, result: str = "success", *, end_time: dt.datetime | None = None
    ) -> None:
        """A running operation ends (``end_time`` now unless told)."""
        with self._lock:
            record = self.operations[operation_id]
            record.result = result
            record.end_time = end_time or dt.datetime.now(dt.UTC)

    # --- payload -------------------------------------------------------------------------------------------
    def _operation_payload(self, op: OperationRecord) -> dict[str, Any]:
        ds = self.datastores.get(op.datastore_id)
        datastore: Any = op.datastore_id
        if self.operation_knobs.datastore_shape == "object":
            datastore = {"id": op.datastore_id, "name": ds.name if ds else None,
                         "store_type": ds.store_type if ds else None, "type": ds.type if ds else None}  # fmt: skip
        done = op.end_time is not None
        return {
            "id": op.id,
            "created": _render(op.created),
            "type": op.type,
            "start_time": _render(op.start_time),
            "end_time": _render(op.end_time),
            "result": op.result,
            "message": op.message,
            "triggered_by": op.triggered_by,
            "datastore": datastore,
            "status": {
                "total_containers": op.containers,
                "containers_analyzed": op.containers if done else 0,
                "records_processed": 1000 * op.containers if done else 0,
            },
        }

    # --- routes --------------------------------------------------------------------------------------------
    def _date(self, q: Query, name: str) -> dt.datetime | None:
        raw = q.text(name)
        if raw is None or name in self.operation_knobs.ignored_filters:
            return None
        text = raw.strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            if self.operation_knobs.date_format == "date":
                raise ValueError(text)
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            msg = (
                "invalid date format"
                if self.operation_knobs.date_format == "date"
                else "invalid datetime format"
            )
            q.errors.append(error_item(["query", name], msg, "value_error.date"))
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    def _list_operations(self, req: SimRequest) -> SimResponse:
        q = Query(req)
        page, size = q.page()
        knobs = self.operation_knobs
        ignored = knobs.ignored_filters

        def wanted(name: str, value: Any) -> Any:
            return None if name in ignored else value

        datastores = wanted("datastore", q.integers("datastore"))
        types = wanted("operation_type", q.texts("operation_type", allowed=OPERATION_TYPES))
        results = wanted("result", q.texts("result", allowed=OPERATION_RESULTS, commas=True))
        finished = wanted("finished", q.boolean("finished"))
        start, end = self._date(q, "start_date"), self._date(q, "end_date")
        sort_created = wanted("sort_created", q.sort("sort_created"))
        q.done()
        items = []
        for op in self.operations.values():
            moment = getattr(op, knobs.date_field)
            if datastores is not None and op.datastore_id not in datastores:
                continue
            if types is not None and op.type not in types:
                continue
            if results is not None and op.result not in results:
                continue
            if finished is not None and (op.end_time is not None) != finished:
                continue
            if start is not None and (moment is None or moment < start):
                continue
            if end is not None and (moment is None or moment > end):
                continue
            items.append(op)
        items.sort(key=lambda o: o.id)
        if sort_created:
            items.sort(key=lambda o: (o.created, o.id), reverse=sort_created == "desc")
        return json_response(page_of(items, page, size, self._operation_payload))

    def _get_operation(self, req: SimRequest) -> SimResponse:
        ident = path_id(req)
        op = self.operations.get(ident)
        if op is None:
            raise not_found("Operation", ident)
        return json_response(self._operation_payload(op))


__all__ = ["DATE_FIELDS", "OperationKnobs", "OperationRecord", "OperationRoutes"]

"""The Qualytics simulator's request side: FastAPI-shaped errors, query-string and body parsing, paging;
no state. The wire behaviour every route shares:

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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from purview_sync.dev.qualytics.records import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, dedupe
from purview_sync.dev.simserver import SimRequest


class ApiError(Exception):
    def __init__(self, status: int, detail: Any, **headers: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def invalid(errors: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, errors)


def error_item(loc: Sequence[str | int], msg: str, type_: str, **ctx: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"loc": list(loc), "msg": msg, "type": type_}
    if ctx:
        item["ctx"] = ctx
    return item


def not_found(kind: str, ident: object) -> ApiError:
    return ApiError(404, f"{kind} with id {ident} not found")


_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}


class Query:
    """Query-string parsing that collects every problem, as FastAPI does, then answers one 422."""

    def __init__(self, req: SimRequest) -> None:
        self._q = req.query
        self.errors: list[dict[str, Any]] = []

    def _int(self, raw: str, loc: list[str | int]) -> int | None:
        try:
            return int(raw.strip())
        except ValueError:
            self.errors.append(error_item(loc, "value is not a valid integer", "type_error.integer"))
            return None

    def integer(self, name: str, *, default: int | None = None, ge: int | None = None,
                le: int | None = None, required: bool = False) -> int | None:
        values = self._q.get(name)
        if not values:
            if required:
                self.errors.append(error_item(["query", name], "field required", "value_error.missing"))
            return default
        value = self._int(values[-1], ["query", name])
        if value is None:
            return default
        if ge is not None and value < ge:
            self.errors.append(error_item(["query", name], f"ensure this value is greater than or equal to {ge}",
                                      "value_error.number.not_ge", limit_value=ge))
        if le is not None and value > le:
            self.errors.append(error_item(["query", name], f"ensure this value is less than or equal to {le}",
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
                    self.errors.append(error_item(["query", name, i],
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
        self.errors.append(error_item(["query", name], "value could not be parsed to a boolean", "type_error.bool"))
        return default

    def archived(self, default: str = "exclude") -> str:
        raw = self.text("archived")
        if raw is None:
            return default
        low = raw.strip().lower()
        if low in ("exclude", "include", "only"):
            return low
        if low in _TRUE:
            return "only"
        if low in _FALSE:
            return "exclude"
        self.errors.append(error_item(["query", "archived"],
                                  "value is not a valid enumeration member; permitted: 'exclude', 'include', 'only'",
                                  "type_error.enum"))
        return "exclude"

    def sort(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        low = raw.strip().lower()
        if low not in ("asc", "desc"):
            self.errors.append(error_item(["query", name],
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
            raise invalid(self.errors)


def parse_body(req: SimRequest) -> Any:
    try:
        return req.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid([error_item(["body"], f"Invalid JSON: {exc}", "value_error.jsondecode")]) from exc


def body_object(req: SimRequest) -> dict[str, Any]:
    body = parse_body(req)
    if not isinstance(body, dict):
        raise invalid([error_item(["body"], "value is not a valid dict", "type_error.dict")])
    return body


def tag_names(value: Any, loc: list[str | int]) -> list[str] | None:
    """``tags`` in an entity update: ``None`` = leave unchanged; else a list of non-empty names."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid([error_item(loc, "value is not a valid list", "type_error.list")])
    errors = [error_item([*loc, i], "str type expected", "type_error.str")
              for i, v in enumerate(value) if not isinstance(v, str) or not v.strip()]
    if errors:
        raise invalid(errors)
    return dedupe(value)


def page_of(items: list[Any], page: int, size: int, render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    total = len(items)
    chunk = items[(page - 1) * size: page * size]
    return {"items": [render(x) for x in chunk], "total": total, "page": page, "size": size,
            "pages": math.ceil(total / size) if total else 0}


def archived_ok(mode: str, archived: bool) -> bool:
    return mode == "include" or (mode == "only") == archived


def path_id(req: SimRequest, name: str = "id") -> int:
    raw = req.params[name]
    try:
        return int(raw)
    except ValueError:
        raise invalid([error_item(["path", name], "value is not a valid integer", "type_error.integer")]) from None

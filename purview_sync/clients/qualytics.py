"""Qualytics REST client (reference/qualytics-api.md): paged reads as generators, tag writes.

Every listing is ``page``/``size`` ≤ 100 with ``{items, total, page, size, pages}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from purview_sync.clients.http import ApiClient, HttpError, RetryPolicy

PAGE_SIZE = 100
DATABASE_STORE_TYPES = frozenset({"jdbc", "native"})
# datastore ``type``s whose databases Purview scans as SQL Server family assets (mssql:// qualifiedNames)
SQL_SERVER_TYPES = frozenset({"sqlserver", "synapse"})
FINDINGS = {"anomalies": ("/anomalies", "anomalies"), "checks": ("/quality-checks", "quality_checks")}
COMPUTED_TYPES = ("computed_table", "computed_join", "computed_file")
DEFINITION_KEYS = {  # a computed container's fields that say what it reads (qualytics-lineage.md §2.1)
    "computed_table": ("query",),
    "computed_file": ("source_container", "source_container_id"),
    "computed_join": ("sources", "left_container_id", "left_container"),
}


def reference_id(value: Any) -> int | None:
    """The id of a Qualytics reference: an int, a numeric string or an object with ``id`` (None otherwise)."""
    if isinstance(value, dict):
        value = value.get("id")
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class QualyticsClient(ApiClient):
    service = "qualytics"

    def __init__(
        self, api_url: str, token: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(api_url, timeout=timeout, retry=retry)
        self._token = token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def pages(
        self, path: str, *, kind: str, params: dict[str, Any] | None = None, size: int = PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Every page body of a listing, stopping on ``pages``, on ``total`` or on a short page — so a
        listing of up to ``size`` items costs one request."""
        page = 1
        while True:
            body = self.get_json(path, kind=kind, params={**(params or {}), "page": page, "size": size})
            yield body
            items = body.get("items") or []
            pages, total = body.get("pages"), body.get("total")
            if not items or len(items) < size:
                return
            if isinstance(pages, int) and page >= pages:
                return
            if isinstance(total, int) and page * size >= total:
                return
            page += 1

    def paged(
        self, path: str, *, kind: str, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        for body in self.pages(path, kind=kind, params=params):
            yield from body.get("items") or []

    def total(self, path: str, *, kind: str, params: dict[str, Any]) -> int | None:
        """How many items a listing holds: ``size=1`` and read ``total`` (None when the answer has none)."""
        body = self.get_json(path, kind=kind, params={**params, "page": 1, "size": 1})
        total = body.get("total") if isinstance(body, dict) else None
        return total if isinstance(total, int) and not isinstance(total, bool) else None

    # --- reads ---------------------------------------------------------------------------------
    def list_datastores(self) -> Iterator[dict[str, Any]]:
        return self.paged("/datastores", kind="datastores")

    def find_datastores(self, name: str) -> Iterator[dict[str, Any]]:
        """Datastores whose name is exactly ``name`` (the list's ``name`` filter)."""
        return self.paged("/datastores", kind="datastores", params={"name": name})

    def get_datastore(self, datastore_id: int) -> dict[str, Any] | None:
        try:
            return self.get_json(f"/datastores/{int(datastore_id)}", kind="datastore")
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def get_connection(self, connection_id: int) -> dict[str, Any] | None:
        """``GET /connections/{id}``: where the host of a datastore lives (its ``connection`` is a stub)."""
        try:
            return self.get_json(f"/connections/{int(connection_id)}", kind="connection")
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def list_operations(self, **params: Any) -> Iterator[dict[str, Any]]:
        """``GET /operations`` with its filters (``operation_type``, ``result``, ``finished``, ``start_date``,
        ``sort_created`` …), paged."""
        return self.paged("/operations", kind="operations", params=params)

    def latest_quality_score(self, datastore_id: int) -> float | None:
        """The newest snapshot's total of the datastore's score history (there is no 'current' field)."""
        snapshot = self.latest_score_snapshot(datastore_id)
        return snapshot["total"] if snapshot else None

    def latest_score_snapshot(self, datastore_id: int) -> dict[str, Any] | None:
        """The newest item with a total of ``/quality-scores``: ``{date, total, <8 dimensions>}``."""
        body = self.get_json(f"/datastores/{int(datastore_id)}/quality-scores", kind="quality_scores")
        snapshots = body if isinstance(body, list) else body.get("items") or []
        dated = [s for s in snapshots if isinstance(s, dict) and s.get("total") is not None]
        if not dated:
            return None
        return max(dated, key=lambda s: str(s.get("date") or ""))

    def list_tables(self, datastore_id: int) -> Iterator[dict[str, Any]]:
        return self.paged(
            "/containers",
            kind="containers",
            params={"datastore": int(datastore_id), "container_type": "table"},
        )

    def list_computed_containers(self, datastore_id: int) -> Iterator[dict[str, Any]]:
        """The datastore's computed tables, joins and files, each with its definition (a listing item that
        lacks it is read again with ``GET /containers/{id}``)."""
        for item in self.paged(
            "/containers",
            kind="containers",
            params={"datastore": int(datastore_id), "container_type": list(COMPUTED_TYPES)},
        ):
            if not any(key in item for key in DEFINITION_KEYS.get(str(item.get("container_type")), ())):
                item = self.get_container(int(item["id"])) or item
            yield item

    def get_container(self, container_id: int) -> dict[str, Any] | None:
        try:
            return self.get_json(f"/containers/{int(container_id)}", kind="container")
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def list_fields(self, container_id: int) -> list[dict[str, Any]]:
        """The fields of one container (``container_id=``): a field object does not name its container,
        so the request does. One request for a table of up to 100 columns."""
        return list(self.paged("/fields", kind="fields", params={"container_id": int(container_id)}))

    def active_pages(
        self,
        what: str,
        datastore_id: int,
        container_id: int | None = None,
        containers: list[int] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The pages of a datastore's (or one container's, or some containers') ``Active`` anomalies or
        checks (``container`` is a list parameter of both listings)."""
        path, kind = FINDINGS[what]
        params: dict[str, Any] = {"datastore": int(datastore_id), "status": "Active"}
        if container_id is not None:
            params["container"] = int(container_id)
        elif containers is not None:
            params["container"] = [int(c) for c in containers]
        return self.pages(path, kind=kind, params=params)

    def active_total(self, what: str, datastore_id: int) -> int | None:
        """How many ``Active`` anomalies or checks the datastore has (``size=1``, ``total``)."""
        path, kind = FINDINGS[what]
        return self.total(path, kind=kind, params={"datastore": int(datastore_id), "status": "Active"})

    def count_active(self, what: str, datastore_id: int, container_id: int, field: str) -> int | None:
        """Active anomalies or checks of one column (``container``, ``field``, ``status=Active``, ``size=1``)."""
        path, kind = FINDINGS[what]
        params = {"datastore": int(datastore_id), "container": int(container_id), "field": field,
                  "status": "Active"}  # fmt: skip
        return self.total(path, kind=f"{kind}_count", params=params)

    # --- lineage (an add-on: every route answers 403 while it is off) ---------------------------------
    def create_lineage_edge(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/lineage/edges", kind="lineage_write", json=body).json()

    def delete_lineage_edge(self, edge_id: int) -> bool:
        """False when the edge was already gone (404)."""
        try:
            self.request("DELETE", f"/lineage/edges/{int(edge_id)}", kind="lineage_write")
        except HttpError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- tags ----------------------------------------------------------------------------------
    def list_tags(self) -> Iterator[dict[str, Any]]:
        return self.paged("/global-tags", kind="tags")

    def get_tag(self, name: str) -> dict[str, Any] | None:
        try:
            return self.get_json(f"/global-tags/{quote(name, safe='')}", kind="tag")
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def tagged_total(self, what: str, name: str) -> int | None:
        """How many datastores / containers / fields carry the tag (``tag=<name>``, read ``total``)."""
        return self.total(f"/{what}", kind=f"{what}_tagged", params={"tag": name})

    def create_tag(
        self, name: str, *, description: str, category: str, color: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "global",
            "name": name,
            "description": description,
            "category": category,
        }
        if color:
            body["color"] = color
        return self.request("POST", "/global-tags", kind="tag_write", json=body).json()

    def update_tag(self, name: str, **fields: Any) -> None:
        self.request("PUT", f"/global-tags/{quote(name, safe='')}", kind="tag_write", json=fields)

    def delete_tag(self, name: str) -> None:
        try:
            self.request("DELETE", f"/global-tags/{quote(name, safe='')}", kind="tag_write")
        except HttpError as exc:
            if exc.status != 404:
                raise

    def set_datastore_tags(self, datastore_id: int, tags: list[str]) -> None:
        self.request("PUT", f"/datastores/{int(datastore_id)}", kind="tag_assign", json={"tags": tags})

    def set_container_tags(self, updates: list[dict[str, Any]]) -> None:
        """Bulk PATCH ``[{"id", "tags"}]`` — each list replaces that container's own tags."""
        for start in range(0, len(updates), PAGE_SIZE):
            self.request("PATCH", "/containers", kind="tag_assign", json=updates[start : start + PAGE_SIZE])

    def set_field_tags(self, updates: list[dict[str, Any]]) -> None:
        for start in range(0, len(updates), PAGE_SIZE):
            self.request("PATCH", "/fields", kind="tag_assign", json=updates[start : start + PAGE_SIZE])

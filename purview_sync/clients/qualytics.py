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


class QualyticsClient(ApiClient):
    service = "qualytics"

    def __init__(
        self, api_url: str, token: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(api_url, timeout=timeout, retry=retry)
        self._token = token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def paged(
        self, path: str, *, kind: str, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self.get_json(path, kind=kind, params={**(params or {}), "page": page, "size": PAGE_SIZE})
            items = body.get("items") or []
            yield from items
            pages = body.get("pages")
            if not items or (pages is not None and page >= pages):
                return
            page += 1

    # --- reads ---------------------------------------------------------------------------------
    def list_datastores(self) -> Iterator[dict[str, Any]]:
        return self.paged("/datastores", kind="datastores")

    def get_datastore(self, datastore_id: int) -> dict[str, Any] | None:
        try:
            return self.get_json(f"/datastores/{int(datastore_id)}", kind="datastore")
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def latest_quality_score(self, datastore_id: int) -> float | None:
        """The newest snapshot of the datastore's score history (there is no 'current' field)."""
        body = self.get_json(f"/datastores/{int(datastore_id)}/quality-scores", kind="quality_scores")
        snapshots = body if isinstance(body, list) else body.get("items") or []
        dated = [s for s in snapshots if s.get("total") is not None]
        if not dated:
            return None
        return max(dated, key=lambda s: str(s.get("date") or ""))["total"]

    def list_tables(self, datastore_id: int) -> Iterator[dict[str, Any]]:
        return self.paged(
            "/containers",
            kind="containers",
            params={"datastore": int(datastore_id), "container_type": "table"},
        )

    def list_fields(self, datastore_id: int) -> Iterator[dict[str, Any]]:
        """Every field of the datastore in one paged listing (not one request per table)."""
        return self.paged("/fields", kind="fields", params={"datastore": int(datastore_id)})

    def list_active_anomalies(self, datastore_id: int) -> Iterator[dict[str, Any]]:
        return self.paged(
            "/anomalies", kind="anomalies", params={"datastore": int(datastore_id), "status": "Active"}
        )

    def list_active_checks(self, datastore_id: int) -> Iterator[dict[str, Any]]:
        return self.paged(
            "/quality-checks",
            kind="quality_checks",
            params={"datastore": int(datastore_id), "status": "Active"},
        )

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

    def tag_usage(self) -> dict[str, int | None]:
        """Tag name → how many entities carry it as their own (``GET /global-tags/listing``'s ``count``;
        ``None`` when the answer has no count). A plain list or a paged body, whichever the API answers."""
        usage: dict[str, int | None] = {}
        page = 1
        while True:
            body = self.get_json(
                "/global-tags/listing", kind="tags_listing", params={"page": page, "size": PAGE_SIZE}
            )
            items = body if isinstance(body, list) else body.get("items") or []
            for item in items:
                count = item.get("count")
                usage[str(item.get("name"))] = int(count) if isinstance(count, int) else None
            pages = None if isinstance(body, list) else body.get("pages")
            if not items or pages is None or page >= pages:
                return usage
            page += 1

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

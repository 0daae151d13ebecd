"""What the Qualytics simulator tests share: the bearer token they use and a thin authenticated client."""

from __future__ import annotations

from typing import Any

import requests

from purview_sync.dev.qualytics import QualyticsSim

TOKEN = "test-token"


class Api:
    """A thin authenticated client so the tests read like the calls they make."""

    def __init__(self, sim: QualyticsSim, token: str | None = TOKEN) -> None:
        self.base = sim.api_url
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=10)

    def put(self, path: str, body: Any) -> requests.Response:
        return self.session.put(self.base + path, json=body, timeout=10)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.session.patch(self.base + path, json=body, timeout=10)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=10)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.base + path, timeout=10)

    def all_items(self, path: str, size: int = 100, **params: Any) -> list[dict[str, Any]]:
        """Page to the end the way a client must (size ≤ 100)."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.get(path, page=page, size=size, **params)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            items += body["items"]
            if page >= body["pages"]:
                return items
            page += 1

"""Purview data-plane client (Data Map 2023-09-01 + account collections), per reference/purview-api.md.

Tokens are attached only after the URL's host passed ``PURVIEW_ALLOWED_HOSTS`` and redirects are never
followed, so a token cannot leak to a foreign host.
"""

from __future__ import annotations

import fnmatch
import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlsplit

from purview_sync.clients.auth import PURVIEW_SCOPE
from purview_sync.clients.budget import FleetShare
from purview_sync.clients.http import ApiClient, HttpError, RetryPolicy, shared_limiter

SEARCH_API_VERSION = "2023-09-01"
ACCOUNT_API_VERSION = "2019-11-01-preview"
# tenant-level hosts ({tenant}-api.purview-service.microsoft.com) have only been seen with this one (§6 [O])
ACCOUNT_API_VERSION_FALLBACK = "2023-10-01-preview"
SEARCH_PAGE_LIMIT = 1000
BULK_GET_MAX = 100
BULK_GET_CONCURRENCY = 4  # bulk GETs in flight while matching (docs/performance.md)
BULK_WRITE_MAX = 50  # entities per POST /entity/bulk (DESIGN.md §5b)
BULK_BY_QN_MAX = 40  # qualifiedNames per bulk GET by unique attribute (~100 characters each in the URL)


class HostNotAllowedError(Exception):
    pass


def host_allowed(url: str, patterns: Iterable[str]) -> bool:
    """Globs match the host, or ``host:port`` when the pattern names a port (DESIGN.md §3b)."""
    split = urlsplit(url)
    host = (split.hostname or "").lower()
    host_port = f"{host}:{split.port or 443}"
    for pattern in patterns:
        target = host_port if ":" in pattern else host
        if fnmatch.fnmatchcase(target, pattern.lower()):
            return True
    return False


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class PurviewClient(ApiClient):
    service = "purview"
    READ_KINDS = frozenset({"search"})  # POST /search/query reads

    def __init__(
        self,
        endpoint: str,
        credential: Any,
        allowed_hosts: Iterable[str],
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        pool_size: int = 16,
        fleet: FleetShare | None = None,
    ) -> None:
        super().__init__(endpoint, timeout=timeout, retry=retry, pool_size=pool_size)
        self.credential = credential
        self.allowed_hosts = tuple(allowed_hosts)
        self.check_url(self.base_url)
        # one pacing per Purview account in this process: its capacity units are shared by every datastore
        self.limiter = shared_limiter(f"purview:{self.base_url.lower()}")
        if fleet is not None and self.limiter.fleet is not fleet:  # … and by every instance (clients/budget.py)
            self.limiter.fleet = fleet
            fleet.on_remote_throttle = self.limiter.on_remote_throttle

    def check_url(self, url: str) -> None:
        if urlsplit(url).scheme != "https" or not host_allowed(url, self.allowed_hosts):
            raise HostNotAllowedError(
                f"{urlsplit(url).netloc} is not an allowed Purview host (PURVIEW_ALLOWED_HOSTS)"
            )

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential.get_token(PURVIEW_SCOPE).token}"}

    # --- discovery -----------------------------------------------------------------------------
    def search(
        self, filter: dict[str, Any] | None, *, keywords: str | None = None, limit: int = SEARCH_PAGE_LIMIT
    ) -> Iterator[dict[str, Any]]:
        """All search hits for ``filter``, page by page (``continuationToken``)."""
        body: dict[str, Any] = {"keywords": keywords, "limit": min(limit, SEARCH_PAGE_LIMIT)}
        if filter:
            body["filter"] = filter
        while True:
            page = self.request(
                "POST",
                f"/datamap/api/search/query?api-version={SEARCH_API_VERSION}",
                kind="search",
                json=body,
            ).json()
            yield from page.get("value") or []
            token = page.get("continuationToken")
            if not token or not page.get("value"):
                return
            body = {**body, "continuationToken": token}

    def probe(self) -> None:
        """The cheapest data-plane call that needs a Data Map role: a one-row search."""
        self.request(
            "POST",
            f"/datamap/api/search/query?api-version={SEARCH_API_VERSION}",
            kind="search",
            json={"keywords": None, "limit": 1},
        )

    # --- entities --------------------------------------------------------------------------------
    def get_entities(self, guids: Iterable[str]) -> Iterator[dict[str, Any]]:
        """Full entities (with relationshipAttributes), ≤ 100 guids per bulk GET (URL length), in order;
        a guid that no longer exists is left out (the bulk GET answers 404 for its whole batch).

        Up to ``BULK_GET_CONCURRENCY`` GETs are in flight (a window: at most that many pages are held), so
        matching 25,000 columns does not wait out 250 round trips one after the other."""

        def fetch(batch: list[str]) -> list[dict[str, Any]]:
            params = [("guid", g) for g in batch] + [("minExtInfo", "true")]
            try:
                page = self.get_json(
                    "/datamap/api/atlas/v2/entity/bulk", kind="entity_bulk_get", params=params
                )
            except HttpError as exc:
                # one guid of the batch no longer exists (search lags the Data Map): halve the batch until
                # the missing ones are alone, and leave them out
                if exc.status != 404:
                    raise
                if len(batch) == 1:
                    return []
                middle = len(batch) // 2
                return fetch(batch[:middle]) + fetch(batch[middle:])
            return page.get("entities") or []

        batches = chunks(list(dict.fromkeys(guids)), BULK_GET_MAX)
        head = list(itertools.islice(batches, BULK_GET_CONCURRENCY))
        if len(head) < 2:  # one page (or no concurrency): no thread
            for batch in itertools.chain(head, batches):
                yield from fetch(batch)
            return
        with ThreadPoolExecutor(max_workers=len(head), thread_name_prefix="purview-read") as pool:
            window = deque(pool.submit(fetch, batch) for batch in head)
            while window:
                entities = window.popleft().result()
                following = next(batches, None)
                if following is not None:
                    window.append(pool.submit(fetch, following))
                yield from entities

    def get_entity(self, guid: str) -> dict[str, Any]:
        return self.get_json(f"/datamap/api/atlas/v2/entity/guid/{quote(guid)}", kind="entity_get")["entity"]

    def write_business_metadata(self, guid: str, group: str, attributes: dict[str, Any]) -> None:
        """Add/update the attributes of one group only; the entity's other groups are untouched."""
        self.request(
            "POST",
            f"/datamap/api/atlas/v2/entity/guid/{quote(guid)}/businessmetadata/{quote(group)}",
            kind="businessmetadata_write",
            json=attributes,
        )

    def get_entities_by_qualified_name(
        self, type_name: str, qualified_names: list[str]
    ) -> list[dict[str, Any]]:
        """The existing entities of ``type_name`` with these qualifiedNames (absent ones are left out)."""
        found: list[dict[str, Any]] = []
        for batch in chunks(list(dict.fromkeys(qualified_names)), BULK_BY_QN_MAX):
            params = [(f"attr_{i}:qualifiedName", qn) for i, qn in enumerate(batch)] + [
                ("minExtInfo", "true")
            ]
            page = self.get_json(
                f"/datamap/api/atlas/v2/entity/bulk/uniqueAttribute/type/{quote(type_name)}",
                kind="entity_bulk_get",
                params=params,
            )
            found += page.get("entities") or []
        return found

    def upsert_entities(self, entities: list[dict[str, Any]], *, collection_id: str | None) -> dict[str, Any]:
        """One ``POST /entity/bulk`` (≤ ``BULK_WRITE_MAX`` entities; the caller batches); the mutation result."""
        params = {"api-version": SEARCH_API_VERSION}
        if collection_id:
            params["collectionId"] = collection_id
        return self.request(
            "POST",
            "/datamap/api/atlas/v2/entity/bulk",
            kind="entity_bulk_write",
            params=params,
            json={"referredEntities": {}, "entities": entities},
        ).json()

    def delete_entities(self, guids: list[str]) -> None:
        """``DELETE /entity/bulk?guid=…`` in batches of ``BULK_GET_MAX`` (URL length)."""
        for batch in chunks(list(dict.fromkeys(guids)), BULK_GET_MAX):
            self.request(
                "DELETE",
                "/datamap/api/atlas/v2/entity/bulk",
                kind="entity_delete",
                params=[("guid", g) for g in batch],
            )

    # --- typedefs --------------------------------------------------------------------------------
    def get_business_metadata_def(self, name: str) -> dict[str, Any] | None:
        try:
            return self.get_json(
                f"/datamap/api/atlas/v2/types/businessmetadatadef/name/{quote(name)}", kind="typedef_get"
            )
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def list_typedef_headers(self, category: str) -> list[dict[str, Any]]:
        """``GET /types/typedefs/headers?type=`` → ``[{category, guid, name}]`` (``Type_ListHeaders`` [S])."""
        headers = self.get_json(
            "/datamap/api/atlas/v2/types/typedefs/headers", kind="typedef_headers", params={"type": category}
        )
        if not isinstance(headers, list):
            raise ValueError("the typedef headers are not a list")
        return [h for h in headers if isinstance(h, dict) and h.get("category", category) == category]

    def get_entity_def(self, name: str) -> dict[str, Any] | None:
        try:
            return self.get_json(
                f"/datamap/api/atlas/v2/types/entitydef/name/{quote(name)}", kind="typedef_get"
            )
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def create_typedefs(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request(
            "POST", "/datamap/api/atlas/v2/types/typedefs", kind="typedef_write", json=body
        ).json()

    def update_typedefs(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request(
            "PUT", "/datamap/api/atlas/v2/types/typedefs", kind="typedef_write", json=body
        ).json()

    # --- account plane -----------------------------------------------------------------------------
    def list_collections(self) -> Iterator[dict[str, Any]]:
        """Every collection, following ``nextLink``. A host that refuses the older account api-version
        (400/404 on the first page) is asked again with ``2023-10-01-preview``, and that one is kept for it."""
        version = _account_versions.get(self.base_url.lower(), ACCOUNT_API_VERSION)
        try:
            page = self.get_json(f"/account/collections?api-version={version}", kind="collections")
        except HttpError as exc:
            if exc.status not in (400, 404) or version == ACCOUNT_API_VERSION_FALLBACK:
                raise
            version = ACCOUNT_API_VERSION_FALLBACK
            page = self.get_json(f"/account/collections?api-version={version}", kind="collections")
            _account_versions[self.base_url.lower()] = version
        while True:
            yield from page.get("value") or []
            url = page.get("nextLink")
            if not url:
                return
            page = self.get_json(url, kind="collections")  # nextLink is host-checked like any URL


_account_versions: dict[str, str] = {}  # account endpoint → the account api-version it answers

"""The simulator's gateway and knobs: unknown/catalog paths as 404s, the rate-limit fault as 429 with
Retry-After, a 26k-entity estate staying fast, and the recorded calls.
"""

from __future__ import annotations

import re
import time

from purview_sync.dev.purview import PurviewSim
from tests.dev.purview.helpers import APP, Client


def test_catalog_and_unknown_paths_are_gateway_404(client: Client) -> None:
    for path in (
        "/catalog/api/atlas/v2/types/typedefs/headers",
        "/catalog/datamap/api/atlas/v2/types/typedefs/headers",
        "/nothing/here",
    ):
        resp = client.call("GET", path)
        assert resp.status_code == 404
        assert resp.json() == {"error": {"code": "ResourceNotFound", "message": "Resource not found"}}


def test_rate_limit_gives_429_with_retry_after(sim: PurviewSim, client: Client) -> None:
    sim.server.set_faults(rate_limit_per_s=1, rate_burst=2)
    statuses = [client.search({"limit": 1}).status_code for _ in range(4)]
    assert statuses[:2] == [200, 200] and 429 in statuses
    throttled = client.call("GET", "/account/collections", params={"api-version": "2019-11-01-preview"})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    sim.server.set_faults(rate_limit_per_s=None)
    assert client.search({"limit": 1}).status_code == 200


# ---- scale ----
def test_scale_26k_entities_stays_fast(sim: PurviewSim, client: Client) -> None:
    started = time.perf_counter()
    for d in range(20):
        coll = f"col{d:03d}"
        sim.add_collection(coll, f"Domain {d}")
        sim.add_sql_database(
            f"srv{d % 5}",
            f"db{d}",
            collection=coll,
            schemas={f"s{s}": {f"t{t}": [f"c{c}" for c in range(10)] for t in range(12)} for s in range(10)},
        )
    assert sim.entity_count() >= 26_000
    seeded = time.perf_counter() - started
    query = {
        "limit": 1000,
        "filter": {
            "and": [
                {"entityType": "azure_sql_table"},
                {"collectionId": "col007"},
                {
                    "attributeName": "qualifiedName",
                    "operator": "prefix",
                    "attributeValue": "mssql://srv2.database.windows.net/db7/",
                },
            ]
        },
    }
    started = time.perf_counter()
    result = client.search(query).json()
    search_s = time.perf_counter() - started
    assert result["@search.count"] == 120
    guids = [v["id"] for v in result["value"][:100]]
    started = time.perf_counter()
    assert client.call("GET", "/datamap/api/atlas/v2/entity/bulk", params={"guid": guids}).status_code == 200
    bulk_s = time.perf_counter() - started
    started = time.perf_counter()
    assert client.search({"keywords": "t11", "limit": 10}).status_code == 200  # unindexed: full scan
    scan_s = time.perf_counter() - started
    assert seeded < 15 and search_s < 0.5 and bulk_s < 1.0 and scan_s < 1.0, (
        seeded,
        search_s,
        bulk_s,
        scan_s,
    )


def test_calls_are_recorded(sim: PurviewSim, client: Client) -> None:
    client.search({"limit": 1})
    last = sim.calls[-1]
    assert (last.method, last.path, last.status, last.principal) == (
        "POST",
        "/datamap/api/search/query",
        200,
        APP,
    )
    assert last.json() == {"limit": 1}
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+", sim.url)

"""Shared pieces of the Purview simulator tests: tenant/app ids, HS256 tokens and their verifier, a
requests client trusting the dev CA, and the spec-example field comparison.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import requests

from purview_sync.dev.purview import PurviewSim
from purview_sync.dev.tls import DevTLS
from tests.shared_specs import specs_dir

SPECS = specs_dir("purview")
TENANT = "8a1f6c2e-5b7d-4e39-9c0a-3d2e1f4b6a70"
OTHER_TENANT = "0b9e8d7c-6a5f-4e3d-2c1b-a09f8e7d6c5b"
APP = "5c2f0a9e-1d3b-4e6f-8a7c-9b0d1e2f3a4b"  # the sync's client id, granted everything
KEY = "purview-sim-tests-hs256-key-0123456789abcdefghijklmnop"
SQL_DB = "mssql://srv1.database.windows.net/finance_db"


def make_token(
    appid: str = APP,
    *,
    aud: str = "https://purview.azure.net",
    tid: str = TENANT,
    expires_in: int = 3600,
    oid: str | None = None,
) -> str:
    now = int(time.time())
    claims = {
        "aud": aud,
        "tid": tid,
        "appid": appid,
        "oid": oid or appid,
        "iat": now,
        "exp": now + expires_in,
    }
    return jwt.encode(claims, KEY, algorithm="HS256")


def verify(token: str) -> dict[str, Any] | None:
    """A stand-in for EntraSim.verify: signature + expiry only; audience/tenant are the simulator's job."""
    try:
        return jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_aud": False})
    except jwt.PyJWTError:
        return None


class Client:
    """requests against the simulator, trusting the dev CA like the product does (REQUESTS_CA_BUNDLE)."""

    def __init__(self, sim: PurviewSim, tls: DevTLS, token: str | None) -> None:
        self.base = sim.url
        self.verify = str(tls.bundle)  # per request: REQUESTS_CA_BUNDLE would override Session.verify
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.get_url(self.base + path, method, **kw)

    def get_url(self, url: str, method: str = "GET", **kw: Any) -> requests.Response:
        return self.session.request(method, url, timeout=30, verify=self.verify, **kw)

    def search(self, body: dict[str, Any]) -> requests.Response:
        return self.call("POST", "/datamap/api/search/query", params={"api-version": "2023-09-01"}, json=body)


def as_client(sim: PurviewSim, tls: DevTLS, token: str | None) -> Client:
    return Client(sim, tls, token)


def missing_fields(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Fields of ``expected`` absent from ``actual``: keys recursively; for arrays the example's first item
    must be matched by some item of the actual array."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path} (not an object)"]
        out: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}")
            else:
                out += missing_fields(value, actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list) and expected:
        if not isinstance(actual, list) or not actual:
            return [f"{path}[] (empty or not an array)"]
        return min((missing_fields(expected[0], item, f"{path}[0]") for item in actual), key=len)
    return []


QUALYTICS_DEF = {
    "category": "BUSINESS_METADATA",
    "name": "Qualytics",
    "description": "Data quality results synced from Qualytics",
    "attributeDefs": [
        {
            "name": "QualityScore",
            "typeName": "float",
            "isOptional": True,
            "cardinality": "SINGLE",
            "options": {
                "applicableEntityTypes": json.dumps(
                    ["azure_sql_schema", "azure_sql_table", "azure_sql_column"]
                )
            },
        },
        {
            "name": "AnomalyCount",
            "typeName": "int",
            "isOptional": True,
            "options": {"applicableEntityTypes": json.dumps(["azure_sql_table", "azure_sql_column"])},
        },
        {
            "name": "QualyticsURL",
            "typeName": "string",
            "isOptional": True,
            "options": {"maxStrLength": "30", "applicableEntityTypes": json.dumps(["azure_sql_table"])},
        },
    ],
}


def create_qualytics_def(client: Client) -> requests.Response:
    return client.call(
        "POST",
        "/datamap/api/atlas/v2/types/typedefs",
        params={"api-version": "2023-09-01"},
        json={"businessMetadataDefs": [QUALYTICS_DEF]},
    )

"""Bad input: every route of /api/openapi.json fuzzed with schemathesis (positive and negative data,
bounded and deterministic), oversized bodies, odd path ids and missing keys — never a 5xx, never a stack
trace or Python exception text in a body, never an open door."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from purview_sync.api.openapi_document import openapi_document
from purview_sync.app.services import Services
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.models import new_id
from tests.conftest import Api

LEAK = re.compile(
    r"Traceback \(most recent call last\)"
    r"|File \"[^\"]*\", line \d+"
    r"|\b[A-Z]\w*(?:Error|Exception)\b"  # ValueError, KeyError, ValidationError, JSONDecodeError …
    r"|\bpydantic\b|site-packages|\.py\b"
)
NO_SUCH = "0" * 32


def assert_clean(resp: requests.Response | Any, what: str = "") -> None:
    """No 5xx, and a body with no stack trace or exception text."""
    text = resp.text if hasattr(resp, "text") else str(resp)
    assert resp.status_code < 500, f"{what} → {resp.status_code}: {text[:500]}"
    leak = LEAK.search(text)
    assert leak is None, f"{what} → internals in the body ({leak.group(0)!r}): {text[:500]}"


# --- a dedicated integration, locked by a run that does not exist, so that fuzzed sync / cancel /
#     delete calls exercise their body and state checks without starting work in the shared devhost -------


@pytest.fixture(scope="module")
def fuzz_integration(api: Api, local: LocalEnvironment) -> Iterator[str]:
    from purview_sync.app.services import get_services

    resp = api.post("/integrations", json=local.connect_body(domains=["mkt02"], event_driven=False))
    assert resp.status_code == 201, resp.text
    iid = resp.json()["id"]
    services: Services = get_services()
    fake_run = new_id()
    taken, _ = services.syncs.try_lock(iid, fake_run, 3600)
    assert taken
    yield iid
    services.syncs.release_lock(iid, fake_run)
    assert api.delete(f"/integrations/{iid}").status_code == 204


OPERATIONS = [
    (path, method.upper())
    for path, item in openapi_document()["paths"].items()
    for method in item
    if method in {"get", "post", "patch", "put", "delete"}
]


@pytest.fixture(scope="module")
def fuzz_schema(api: Api) -> Any:
    return schemathesis.openapi.from_url(
        f"{api.base}/api/openapi.json", headers={"x-functions-key": api.key}, timeout=10
    )


@pytest.fixture(scope="module")
def fuzz_clock() -> Iterator[list[float]]:
    spent: list[float] = []
    yield spent
    assert sum(spent) < 90, f"the fuzz took {sum(spent):.0f}s (budget 90s)"


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_fuzz_every_route(
    path: str, method: str, fuzz_schema: Any, api: Api, fuzz_integration: str, fuzz_clock: list[float]
) -> None:
    """25 schemathesis cases per operation (positive and negative data, fixed seed); every path with an
    ``{id}`` is sent twice: with the generated id and with an integration that exists."""
    operation = fuzz_schema[path][method]
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )
    base_url, headers = f"{api.base}/api", {"x-functions-key": api.key}
    seen: dict[int, int] = {}

    def send(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        if path != "/openapi.json":  # the document itself names the schemas (…Error models)
            assert_clean(response, f"{case.method} {case.formatted_path}")

    @settings(max_examples=25, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])  # fmt: skip
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        if path == "/events" and isinstance(case.body, dict) and not case.body.get("integration_id"):
            # a null integration_id means "every event-driven integration": keep fuzzed events away from
            # the other tests' integrations (the validation surface is the same for any string id)
            case.body["integration_id"] = NO_SUCH
        send(case)
        if isinstance(case.path_parameters, dict) and "id" in case.path_parameters:
            case.path_parameters["id"] = fuzz_integration
            send(case)

    started = time.monotonic()
    try:
        fuzz()
    finally:
        fuzz_clock.append(time.monotonic() - started)
        print(f"{method} {path}: statuses {dict(sorted(seen.items()))}")


# --- bodies the schema does not describe ----------------------------------------------------------------

LIMIT = 64 * 1024
ODD_BODIES: list[bytes] = [
    b"\xff\xfe\x00garbage",  # not UTF-8
    b"\xef\xbb\xbf{}",  # a BOM
    b"[" * 20000 + b"]" * 20000,  # deep nesting, under the size limit
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b"null",
    b"[]",
    b'"text"',
    b"NaN",
    b'{"datastore_ids": [1e400]}',
    b'{"datastore_ids": [123456789012345678901234567890]}',
    b'{"pull": true, "pull": "maybe"}',  # duplicate keys: the last one counts
    b'{"domains": ["\\ud800"]}',  # a lone surrogate
    b'{"purview_url": "https://\\u0000.purview.azure.com", "tenant_id": "x"}',
    b"\x00" * 100,
]


def body_routes(iid: str) -> list[tuple[str, str]]:
    return [
        ("POST", "/integrations"),
        ("PATCH", f"/integrations/{iid}"),
        ("POST", f"/integrations/{iid}/sync"),
        ("POST", "/events"),
    ]


def test_bodies_over_the_limit_are_413(api: Api, fuzz_integration: str) -> None:
    for size in (LIMIT + 1, 1024 * 1024):
        padding = "a" * (size - len('{"domains": [""]}'))
        raw = ('{"domains": ["' + padding + '"]}').encode()
        assert len(raw) == size
        for method, path in body_routes(fuzz_integration):
            resp = api.call(method, path, data=raw, headers={"content-type": "application/json"})
            assert resp.status_code == 413, (method, path, size, resp.text[:300])
            assert resp.json()["error"]["code"] == "payload_too_large"
            assert_clean(resp, f"{method} {path}")
    exactly = b'{"pull": true' + b" " * (LIMIT - len(b'{"pull": true}')) + b"}"
    assert len(exactly) == LIMIT  # at the limit: parsed, not refused
    resp = api.post(f"/integrations/{fuzz_integration}/sync", data=exactly)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "sync_in_progress", resp.text


@pytest.mark.parametrize("raw", ODD_BODIES, ids=range(len(ODD_BODIES)))
def test_odd_bodies_are_400(api: Api, fuzz_integration: str, raw: bytes) -> None:
    for method, path in body_routes(fuzz_integration):
        resp = api.call(method, path, data=raw, headers={"content-type": "application/json"})
        assert resp.status_code == 400, (method, path, resp.status_code, resp.text[:300])
        assert resp.json()["error"]["code"] == "validation_error"
        assert_clean(resp, f"{method} {path}")


# --- odd ids in the path ---------------------------------------------------------------------------------

ODD_IDS = [
    "'",
    "''",
    "x' or 1 eq 1",
    "' or PartitionKey ne '",
    "%27%20or%201%20eq%201",
    "RowKey eq 'lock'",
    "lock",
    "run-" + NO_SUCH,
    "ünïcødé",
    "😀" * 8,
    "\u202e" + "a" * 31,
    "a" * 4000,
    "0" * 32 + "' or '1'='1",
    NO_SUCH.upper(),
    "0" * 31 + "g",
    "00000000-0000-0000-0000-000000000000",
    "null",
    "-1",
    "%00",
    "%2e%2e",  # (a bare ".." is resolved by the client before it is sent)
    "a b",
    "{id}",
    "*",
]


def id_routes(odd: str, iid: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"/integrations/{odd}"),
        ("PATCH", f"/integrations/{odd}"),
        ("DELETE", f"/integrations/{odd}"),
        ("GET", f"/integrations/{odd}/collections"),
        ("POST", f"/integrations/{odd}/sync"),
        ("POST", f"/integrations/{odd}/cancel"),
        ("GET", f"/integrations/{odd}/syncs"),
        ("GET", f"/integrations/{odd}/syncs/{NO_SUCH}"),
        ("GET", f"/integrations/{iid}/syncs/{odd}"),
        ("GET", f"/integrations/{odd}/syncs/{odd}"),
    ]


@pytest.mark.parametrize("odd", ODD_IDS, ids=range(len(ODD_IDS)))
def test_odd_path_ids_are_404_or_400(api: Api, fuzz_integration: str, odd: str) -> None:
    for method, path in id_routes(odd, fuzz_integration):
        resp = api.call(method, path, json={})
        assert resp.status_code in (400, 404, 405), (method, path[:120], resp.status_code, resp.text[:300])
        if resp.content:
            assert resp.json()["error"]["code"] in ("not_found", "validation_error"), resp.text[:300]
        assert_clean(resp, f"{method} {path[:80]}")


def test_a_path_too_long_for_the_host_is_refused_cleanly(api: Api) -> None:
    resp = api.get("/integrations/" + "a" * 70_000)
    assert 400 <= resp.status_code < 500, resp.status_code


# --- the key --------------------------------------------------------------------------------------------


def test_every_route_but_health_needs_the_key(api: Api, fuzz_integration: str) -> None:
    def concrete(path: str) -> str:
        return path.replace("{id}", fuzz_integration).replace("{run_id}", NO_SUCH)

    protected = [(p, m) for p, m in OPERATIONS if p != "/health"]
    assert len(protected) == len(OPERATIONS) - 1 >= 11
    for path, method in protected:
        url = f"{api.base}/api{concrete(path)}"
        for headers, params in [
            ({}, {}),
            ({"x-functions-key": "wrong"}, {}),
            ({"x-functions-key": ""}, {}),
            ({"x-functions-key": api.key + "x"}, {}),
            ({}, {"code": "wrong"}),
            ({"x-functions-key": api.key.upper() if api.key != api.key.upper() else api.key.lower()}, {}),
        ]:
            resp = requests.request(method, url, headers=headers, params=params, json={}, timeout=10)
            assert resp.status_code == 401, (method, path, headers, params, resp.status_code)
            assert_clean(resp, f"{method} {path}")
        # the key as ?code= is accepted like the header (anything but 401)
        resp = requests.request(method, url, params={"code": api.key}, json={}, timeout=10)
        assert resp.status_code != 401, (method, path)
    health = requests.get(f"{api.base}/api/health", timeout=10)
    assert health.status_code == 200 and set(health.json()) == {"status", "storage"}

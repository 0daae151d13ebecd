"""Strict JSON types in every request body (issue 13, point 5): a boolean is ``true``/``false`` only, an
integer is a JSON integer only — ``"yes"``, ``1``, ``"5"`` or ``5.0`` are refused with 400 naming the field,
never coerced into a setting nobody asked for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from purview_sync.dev.local_env import LocalEnvironment
from tests.conftest import Api


@pytest.fixture(scope="module")
def integration(api: Api, local: LocalEnvironment) -> Iterator[str]:
    resp = api.post("/integrations", json=local.connect_body(domains=["mkt02"], event_driven=False))
    assert resp.status_code == 201, resp.text
    iid = resp.json()["id"]
    yield iid
    assert api.delete(f"/integrations/{iid}").status_code == 204


def assert_refused(resp, field: str) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error"]["code"] == "validation_error", body
    assert field in body["error"]["message"], body


@pytest.mark.parametrize(
    ("key", "value"),
    [("event_driven", "yes"), ("overwrite_tags", 1), ("event_driven", "true"), ("overwrite_tags", 0)],
)
def test_connect_refuses_a_boolean_that_is_not_json_boolean(
    api: Api, local: LocalEnvironment, key: str, value: object
) -> None:
    before = len(api.get("/integrations").json()["items"])
    assert_refused(api.post("/integrations", json=local.connect_body(domains=["mkt02"], **{key: value})), key)
    assert len(api.get("/integrations").json()["items"]) == before  # nothing was created


@pytest.mark.parametrize(("key", "value"), [("event_driven", "no"), ("overwrite_tags", 1)])
def test_patch_refuses_a_boolean_that_is_not_json_boolean(
    api: Api, integration: str, key: str, value: object
) -> None:
    assert_refused(api.patch(f"/integrations/{integration}", json={key: value}), key)
    assert api.get(f"/integrations/{integration}").json()[key] is False  # unchanged


@pytest.mark.parametrize(
    ("body", "field"),
    [({"push": "true"}, "push"), ({"pull": 1}, "pull"), ({"datastore_ids": ["5"]}, "datastore_ids"),
     ({"datastore_ids": [5.0]}, "datastore_ids")],
)  # fmt: skip
def test_sync_refuses_loose_types(api: Api, integration: str, body: dict, field: str) -> None:
    assert_refused(api.post(f"/integrations/{integration}/sync", json=body), field)


def test_an_event_refuses_a_string_datastore_id(api: Api) -> None:
    assert_refused(api.post("/events", json={"type": "scan_completed", "datastore_id": "5"}), "datastore_id")


def test_strict_bodies_still_take_json_booleans_and_integers(api: Api, integration: str) -> None:
    resp = api.patch(f"/integrations/{integration}", json={"overwrite_tags": True, "event_driven": False})
    assert resp.status_code == 200, resp.text
    assert resp.json()["overwrite_tags"] is True
    assert api.patch(f"/integrations/{integration}", json={"overwrite_tags": False}).status_code == 200

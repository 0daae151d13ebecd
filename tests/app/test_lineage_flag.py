"""The integration flag ``lineage``: default false, a strict JSON boolean, in the integration object."""

from __future__ import annotations

from purview_sync.dev.local_env import LocalEnvironment
from tests.conftest import Api


def test_lineage_defaults_to_false_is_a_strict_boolean_and_can_be_turned_on(
    api: Api, local: LocalEnvironment
) -> None:
    created = api.post("/integrations", json=local.connect_body())
    assert created.status_code == 201 and created.json()["lineage"] is False
    for bad in ("true", 1, None):
        resp = api.post("/integrations", json=local.connect_body(lineage=bad))
        assert resp.status_code == 400 and resp.json()["error"]["field"] == "lineage", resp.text
    iid = created.json()["id"]
    assert api.patch(f"/integrations/{iid}", json={"lineage": "yes"}).status_code == 400
    patched = api.patch(f"/integrations/{iid}", json={"lineage": True})
    assert patched.status_code == 200 and patched.json()["lineage"] is True
    assert api.get(f"/integrations/{iid}").json()["lineage"] is True
    on = api.post("/integrations", json=local.connect_body(lineage=True))
    assert on.status_code == 201 and on.json()["lineage"] is True

"""GET /api/integrations/{id}/diagnostics through the devhost, against the Entra, Purview and Qualytics
simulators: each check names what is missing and what to do, nothing is written, nothing secret is shown."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest

from purview_sync.dev.identities import QUALYTICS_TOKEN
from purview_sync.dev.local_env import LocalEnvironment
from tests.app.test_integrations import connect, new_app
from tests.conftest import Api

QUALYTICS_WRITES = {"datastores.put", "containers.put", "containers.patch", "fields.put", "fields.patch",
                    "tags.create", "tags.put", "tags.delete"}  # fmt: skip


@pytest.fixture
def qualytics_access(local: LocalEnvironment) -> Iterator[None]:
    """Restore the Qualytics simulator's user and access knobs after a test turned them."""
    assert local.qualytics
    user = dict(local.qualytics.user)
    yield
    local.qualytics.user = user
    local.qualytics._reset_access()


def purview_writes(local: LocalEnvironment, since: int) -> list[str]:
    assert local.purview
    calls = list(local.purview.calls)[since:]
    return [
        f"{c.method} {c.path}" for c in calls if c.method != "GET" and not c.path.endswith("/search/query")
    ]


def diagnose(api: Api, local: LocalEnvironment, integration_id: str) -> tuple[dict[str, dict], list[str]]:
    """The checks by name, and every write either simulator saw while they ran."""
    assert local.purview and local.qualytics
    purview_before = len(local.purview.calls)
    qualytics_before = Counter(local.qualytics.stats)
    started = time.monotonic()
    resp = api.get(f"/integrations/{integration_id}/diagnostics")
    elapsed = time.monotonic() - started
    assert resp.status_code == 200, resp.text
    assert elapsed < 30, elapsed
    for secret in (QUALYTICS_TOKEN, "secret-", "dev-client-secret-value"):
        assert secret not in resp.text
    checks = resp.json()["checks"]
    for check in checks:
        assert set(check) == {"name", "status", "detail", "action"}, check
        assert check["status"] in ("ok", "warning", "failed"), check
        assert (check["action"] is None) == (check["status"] == "ok"), check
    qualytics_calls = Counter(local.qualytics.stats) - qualytics_before
    writes = purview_writes(local, purview_before) + [k for k in qualytics_calls if k in QUALYTICS_WRITES]
    return {c["name"]: c for c in checks}, writes


def test_diagnostics_name_a_missing_curator_role_reporter_permission_and_lineage_addon(
    api: Api, local: LocalEnvironment, qualytics_access: None
) -> None:
    assert local.purview and local.qualytics
    client_id, secret = new_app(local, "data_reader", "collection_admin")  # root: read, list collections
    local.purview.grant(client_id, "data_curator", collection="fin01")  # … but curator only in fin01
    integration = connect(api, local, client_id=client_id, client_secret=secret, domains=["fin01", "mkt02"],
                          lineage=True)  # fmt: skip
    local.qualytics.user = {**local.qualytics.user, "role": "Member"}
    local.qualytics.team_permissions = {"Editor"}  # no Reporter
    local.qualytics.lineage_addon = False

    checks, writes = diagnose(api, local, integration["id"])

    assert writes == []
    assert checks["purview_token"]["status"] == "ok"
    assert checks["purview_data_map_read"]["status"] == "ok"
    assert checks["purview_collections"]["status"] == "ok"
    assert checks["purview_curator:fin01"]["status"] == "ok"
    mkt = checks["purview_curator:mkt02"]
    assert mkt["status"] == "failed" and "mkt02" in mkt["detail"]
    assert "Data Curator" in mkt["action"] and "mkt02" in mkt["action"] and client_id in mkt["action"]
    scores = checks["qualytics_quality_scores"]
    assert scores["status"] == "failed" and "Reporter" in scores["detail"] and "Reporter" in scores["action"]
    addon = checks["qualytics_lineage_addon"]
    assert addon["status"] == "failed" and "add-on" in addon["detail"] and "enable" in addon["action"]
    assert checks["qualytics_lineage_role"]["status"] == "failed"
    assert "Manager" in checks["qualytics_lineage_role"]["action"]
    assert checks["qualytics_tag_rights"]["status"] == "warning"
    assert "Editor" in checks["qualytics_tag_rights"]["action"]
    assert checks["qualytics_token"]["status"] == "ok"
    assert "name_matching" in checks

    # the same gaps for an integration without lineage: worth knowing, not a failure
    without = connect(api, local, client_id=client_id, client_secret=secret, domains=["fin01"])
    checks, writes = diagnose(api, local, without["id"])
    assert writes == []
    for name in ("qualytics_lineage_addon", "qualytics_lineage_role"):
        assert checks[name]["status"] == "warning" and "lineage is off" in checks[name]["detail"], checks[name]
    assert checks["qualytics_quality_scores"]["status"] == "failed"


def test_diagnostics_all_clear_for_the_sample_estate(api: Api, local: LocalEnvironment) -> None:
    integration = connect(api, local, domains=["fin01"])
    checks, writes = diagnose(api, local, integration["id"])
    assert writes == []
    for name in ("purview_token", "purview_data_map_read", "purview_collections", "purview_curator:fin01",
                 "qualytics_token", "qualytics_tag_rights", "qualytics_quality_scores", "qualytics_lineage_role",
                 "qualytics_lineage_addon"):  # fmt: skip
        assert checks[name]["status"] == "ok", checks[name]
    assert "on fin01 (inherited from contoso)" in checks["purview_curator:fin01"]["detail"]
    assert checks["purview_qualytics_group"]["status"] in ("ok", "warning")
    # finance_db.dbo is in fin01; sales_dw.sales (mkt02) and hr_db.dbo (root) are outside it (other tests
    # may have added datastores to the shared estate)
    matching = checks["name_matching"]
    assert matching["status"] == "warning" and " database datastores match a schema in scope" in matching["detail"]
    assert "sales_dw.sales: outside collections" in matching["detail"]
    assert "hr_db.dbo: outside collections" in matching["detail"] and "finance_db" not in matching["detail"]


def test_diagnostics_of_unknown_integration_is_404(api: Api) -> None:
    assert api.get(f"/integrations/{'0' * 32}/diagnostics").status_code == 404


def test_diagnostics_when_role_assignments_cannot_be_read(api: Api, local: LocalEnvironment) -> None:
    """Without Collection Admin the policies cannot be read: a warning that says how to tell, not a guess."""
    assert local.purview
    client_id, secret = new_app(local, "data_reader", "data_curator", "collection_admin")
    integration = connect(api, local, client_id=client_id, client_secret=secret, domains=["mkt02"])
    local.purview.revoke(client_id, "collection_admin")
    checks, writes = diagnose(api, local, integration["id"])
    assert writes == []
    assert checks["purview_collections"]["status"] == "failed"
    assert "Collection Admin" in checks["purview_collections"]["action"]
    assert checks["purview_curator"]["status"] == "warning"

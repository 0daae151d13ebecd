"""The Qualytics simulator's anomalies and checks over real HTTP: filters, per-field aggregation and the
metrics computed from them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from purview_sync.dev.qualytics import QualyticsSim
from tests.dev.qualytics.support import Api


def test_anomalies_and_checks_filters_and_per_field_aggregation(sim: QualyticsSim, api: Api,
                                                                 estate: dict[str, int]) -> None:
    ds, tx, view = estate["ds"], estate["tx"], estate["view"]
    not_null = sim.add_check(ds, tx, ["amount"])
    sim.add_check(ds, tx, ["amount", "currency"], rule_type="unique")
    sim.add_check(ds, view, ["total"])
    sim.add_check(ds, tx, ["currency"], status="Discarded")
    sim.add_anomaly(ds, tx, check_id=not_null)  # fields come from the check
    sim.add_anomaly(ds, tx, ["amount", "currency"])
    sim.add_anomaly(ds, tx, ["currency"], status="Acknowledged")
    sim.add_anomaly(ds, view, ["total"])
    sim.add_anomaly(ds, tx, ["amount"], status="Resolved")

    # one paged listing of the datastore is enough to count per container and per field
    active = api.all_items("/anomalies", size=2, datastore=ds, status="Active")
    per_container = Counter(a["container"]["id"] for a in active)
    per_field = Counter((a["container"]["id"], f["name"])
                        for a in active
                        for f in {f["name"]: f for fc in a["failed_checks"] for f in fc["quality_check"]["fields"]}.values())
    assert per_container == {tx: 2, view: 1}
    assert per_field == {(tx, "amount"): 2, (tx, "currency"): 1, (view, "total"): 1}
    assert {a["datastore"]["id"] for a in active} == {ds}

    assert len(api.all_items("/anomalies", datastore=ds)) == 4  # archived (Resolved) excluded by default
    assert [a["status"] for a in api.all_items("/anomalies", datastore=ds, archived="only")] == ["Resolved"]
    assert len(api.all_items("/anomalies", datastore=ds, status="Active,Acknowledged")) == 4
    assert len(api.all_items("/anomalies", datastore=ds, container=[view])) == 1
    assert len(api.all_items("/anomalies", datastore=ds, field=["currency"], status=["Active"])) == 1
    assert api.get("/anomalies", status="Open").status_code == 422

    checks = api.all_items("/quality-checks", datastore=ds, status="Active")
    assert len(checks) == 3 and {c["container"]["id"] for c in checks} == {tx, view}
    assert all("status" not in c and "datastore" not in c["container"] for c in checks)  # 2023 item: not declared
    assert Counter(f["name"] for c in checks for f in c["fields"]) == {"amount": 2, "currency": 1, "total": 1}
    assert len(api.all_items("/quality-checks", datastore=ds, field=["currency"])) == 1  # Discarded is archived
    assert len(api.all_items("/quality-checks", datastore=ds, archived="include", field=["currency"])) == 2
    assert api.get(f"/quality-checks/{not_null}").json()["anomaly_count"] == 1
    missing = api.get("/quality-checks")
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["query", "datastore"]

    sim.configure(finding_fields=False)  # items that do not name their fields (both keys are optional)
    assert all("fields" not in c for c in api.all_items("/quality-checks", datastore=ds, status="Active"))
    assert all("fields" not in fc["quality_check"]
               for a in api.all_items("/anomalies", datastore=ds) for fc in a["failed_checks"])
    # the filters still work: counting per column with size=1 and total
    assert api.get("/anomalies", datastore=ds, container=tx, field="amount", status="Active", size=1).json()[
        "total"] == 2


def test_metrics_follow_stored_anomalies_and_checks(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    ds, tx, view = estate["ds"], estate["tx"], estate["view"]
    check = sim.add_check(ds, tx, ["amount"])
    sim.add_check(ds, view, ["total"], status="Draft")
    first = sim.add_anomaly(ds, tx, check_id=check)
    sim.add_anomaly(ds, view, ["total"])
    sim.add_anomaly(ds, tx, ["currency"], status="Acknowledged")

    def metrics(kind: str, ident: int) -> dict[str, Any]:
        return api.get(f"/{kind}/{ident}").json()["metrics"]

    tx_m = metrics("containers", tx)
    assert (tx_m["active_anomalies"], tx_m["anomalies"], tx_m["active_checks"], tx_m["failing_checks"]) == (1, 2, 1, 1)
    assert metrics("containers", view)["active_checks"] == 0  # a Draft check is not active
    ds_m = metrics("datastores", ds)
    assert (ds_m["open_anomalies"], ds_m["quality_checks"], ds_m["containers"], ds_m["records"]) == (3, 2, 2, 1000)
    sim.configure(datastore_metrics="2026")
    ds_m = metrics("datastores", ds)
    assert (ds_m["active_anomalies"], ds_m["active_checks"]) == (2, 1)
    listed = api.all_items("/anomalies", datastore=ds, status="Active")
    assert ds_m["active_anomalies"] == len(listed)

    sim.set_status("anomaly", first, "Resolved")  # archiving drops it from every count
    sim.set_status("check", check, "Discarded")
    assert metrics("containers", tx)["active_anomalies"] == 0
    assert metrics("datastores", ds)["active_checks"] == 0
    sim.delete_check(check)
    stub = api.get(f"/anomalies/{first}").json()["failed_checks"][0]["quality_check"]
    assert stub["id"] == check and stub["deleted_at"] is not None

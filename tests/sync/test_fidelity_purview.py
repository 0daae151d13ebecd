"""Fidelity (issue 13, the Purview side): a push then a pull of the sample estate, through the real functions on
the devhost, against a Purview account set to the least kind documented behaviours (``knobs.STRICT``) and
then to each unknown's other setting (``knobs.FLIPS``, plus a search hit the Data Map no longer has), ends in
the same right state: every SQL datastore matched, every value written, every tag pulled, and a second sync
writes nothing.

Each case gets a Purview account and a Qualytics of its own, loaded with the sample estate and one database
whose names differ in case between the two (``Payroll_DB.DBO.Employees`` ↔ ``payroll_db.dbo.employees``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from purview_sync.app.services import reset_services
from purview_sync.dev.estate import SampleEstate, load_sample_estate
from purview_sync.dev.identities import PURVIEW_ACCOUNT, QUALYTICS_TOKEN
from purview_sync.dev.local_env import TENANT_ID, LocalEnvironment
from purview_sync.dev.purview import PurviewSim
from purview_sync.dev.purview.knobs import FLIPS, STRICT
from purview_sync.dev.qualytics import QualyticsSim
from purview_sync.sync import typedef
from purview_sync.sync.matcher import ALL_APPLICABLE_TYPES
from purview_sync.sync.tagnames import classification_tag_name, label_tag_name
from tests.conftest import Api
from tests.helpers import run_sync

GROUP = "Qualytics"
CASES = ["strict", *FLIPS, "stale_search_hit"]
FIN = "mssql://sql-finance.database.windows.net/finance_db/dbo"

SQL_DATASTORES = {  # name → (tables matched, tables unmatched, columns matched)
    "finance_db.dbo": (3, 1, 9),
    "sales_dw.sales": (2, 0, 5),
    "hr_db.dbo": (1, 0, 3),
    "payroll_db.dbo": (1, 0, 2),
}


@dataclass
class Account:
    purview: PurviewSim
    qualytics: QualyticsSim
    estate: SampleEstate


def load(local: LocalEnvironment, case: str) -> Account:
    assert local.tls and local.entra
    # the sample estate puts hr_db in the root collection, named like the local account
    purview = PurviewSim(local.tls, account=PURVIEW_ACCOUNT, tenant_id=TENANT_ID, token_verifier=local.entra.verify)
    purview.set_knobs(**{**STRICT, **FLIPS.get(case, {})})
    purview.start()
    qualytics = QualyticsSim(token=QUALYTICS_TOKEN).start()
    estate = load_sample_estate(purview, qualytics)
    # the case-variant database
    guids = purview.add_sql_database("sql-payroll", "Payroll_DB", collection="fin01",
                                     schemas={"DBO": {"Employees": ["ID", "Salary"]}})  # fmt: skip
    purview.add_classification(
        guids["mssql://sql-payroll.database.windows.net/Payroll_DB/DBO/Employees#Salary"], "Sensitive"
    )
    ds = qualytics.add_datastore("payroll_db.dbo", type="sqlserver", store_type="jdbc", database="payroll_db",
                                 schema="dbo", host="sql-payroll.database.windows.net")  # fmt: skip
    qualytics.add_quality_score(ds, 60.0)
    cid = qualytics.add_container(ds, "employees", quality_score=61.0)
    estate.datastores["payroll_db.dbo"] = ds
    estate.containers["payroll_db.dbo.employees"] = cid
    for column in ("id", "salary"):
        estate.fields[f"payroll_db.dbo.employees.{column}"] = qualytics.add_field(cid, column, quality_score=62.0)
    if case == "typedef_read_lag":  # another writer created the group a moment ago: 409, yet GETs say 404
        purview.add_typedefs({"businessMetadataDefs": [typedef.group_def(tuple(ALL_APPLICABLE_TYPES))]})
    if case == "stale_search_hit":  # the finance schema was re-scanned; search still has the old guid
        purview.rescan(purview.guid_of(FIN))
    return Account(purview, qualytics, estate)


class Isolated:
    """Points the app at one case's own simulators (settings are read from the environment)."""

    def __init__(self, local: LocalEnvironment, api: Api) -> None:
        self.local, self.api, self.patch = local, api, pytest.MonkeyPatch()
        self.accounts: list[Account] = []
        self.integrations: list[str] = []

    def use(self, account: Account) -> None:
        assert self.local.purview
        self.accounts.append(account)
        shared, own = self.local.purview.server.port, account.purview.server.port
        self.patch.setenv("QUALYTICS_API_URL", account.qualytics.api_url)
        self.patch.setenv("QUALYTICS_UI_URL", account.qualytics.ui_url)
        self.patch.setenv("PURVIEW_ALLOWED_HOSTS", f"127.0.0.1:{shared},127.0.0.1:{own}")
        reset_services()

    def close(self) -> None:
        for integration in self.integrations:  # nothing left behind that points at a stopped simulator
            self.api.delete(f"/integrations/{integration}")
        self.patch.undo()
        reset_services()
        for account in self.accounts:
            account.purview.stop()
            account.qualytics.stop()


@pytest.fixture
def isolated(local: LocalEnvironment, api: Api) -> Iterator[Isolated]:
    isolation = Isolated(local, api)
    yield isolation
    isolation.close()


def sync_case(api: Api, local: LocalEnvironment, isolated: Isolated, case: str) -> dict[str, Any]:
    account = load(local, case)
    isolated.use(account)
    resp = api.post("/integrations", json=local.connect_body(purview_url=account.purview.url))
    assert resp.status_code == 201, resp.text
    integration = resp.json()["id"]
    isolated.integrations.append(integration)
    first = run_sync(api, integration, timeout=120)
    second = run_sync(api, integration, timeout=120)  # nothing changed: nothing is written
    return {"first": first, "second": second, "state": state_of(account)}


def canonical_qn(qn: str) -> str:
    return qn.replace("/MSSQLSERVER/", "/")  # SQL Server names with or without the instance segment


def state_of(account: Account) -> dict[str, Any]:
    """Everything the sync wrote, keyed so that two accounts compare: Purview values by qualifiedName (the
    Qualytics links relative to its UI), Qualytics tags by the dotted name of the resource."""
    p, q, ui = account.purview, account.qualytics, account.qualytics.ui_url
    values: dict[str, Any] = {}
    with p._lock:
        entities = [(e.qualified_name, e.guid) for e in p._entities.values() if e.qualified_name.startswith("mssql://")]
    for qn, guid in entities:
        group = p.business_metadata(guid).get(GROUP)
        if group:
            values[canonical_qn(qn)] = {k: (v.replace(ui, "<ui>") if k == "QualyticsURL" else v) for k, v in group.items()}
    tags = {}
    for kind, ids in (("datastore", account.estate.datastores), ("container", account.estate.containers),
                      ("field", account.estate.fields)):  # fmt: skip
        for name, ident in ids.items():
            if own := sorted(q.tags_of(kind, ident)):
                tags[name] = own
    return {"values": values, "tags": tags}


def check_right(result: dict[str, Any]) -> None:
    """The right state, spelled out (the flips are compared with it)."""
    first, second, state = result["first"], result["second"], result["state"]
    by_name = {d["name"]: d for d in first["datastores"]}
    for name, (tables, unmatched, columns) in SQL_DATASTORES.items():
        entry = by_name[name]
        assert entry["status"] == "completed" and entry["errors"] == [], entry
        assert (entry["tables_matched"], entry["tables_unmatched"], entry["columns_matched"]) == (
            tables, unmatched, columns
        ), entry
        assert entry["attributes_written"] > 0
    assert by_name["landing_zone"]["status"] == "skipped"
    for entry in second["datastores"]:
        if entry["name"] in SQL_DATASTORES:
            assert entry["status"] == "completed" and entry["errors"] == [], entry
            assert entry["attributes_written"] == 0 and entry["tags_added"] == 0 and entry["tags_removed"] == 0

    values = state["values"]
    assert len(values) == sum(1 + t + c for t, _, c in SQL_DATASTORES.values())  # every matched asset
    assert values[FIN]["QualityScore"] == 87.5 and values[f"{FIN}/transactions"]["QualityScore"] == 87.5
    assert values[f"{FIN}/customers#email"]["QualityScore"] == 83.5
    payroll = "mssql://sql-payroll.database.windows.net/Payroll_DB/DBO/Employees"
    assert values[payroll]["QualityScore"] == 61.0 and values[f"{payroll}#Salary"]["QualityScore"] == 62.0
    assert values["mssql://onprem-sql01/hr_db/dbo/employees#salary"]["QualityScore"] == 94.0
    for qn, group in values.items():
        assert group["QualyticsURL"].startswith("<ui>/") and set(group) >= {"QualityScore", "QualyticsURL"}, qn
    assert state["tags"] == {
        "finance_db.dbo.transactions": sorted([classification_tag_name("Confidential"), label_tag_name("gold")]),
        "finance_db.dbo.transactions.amount": [classification_tag_name("MICROSOFT.FINANCIAL.CREDIT_CARD_NUMBER")],
        "finance_db.dbo.customers.email": [classification_tag_name("MICROSOFT.PERSONAL.EMAIL")],
        "payroll_db.dbo.employees.salary": [classification_tag_name("Sensitive")],
    }


_reference: dict[str, Any] = {}


@pytest.mark.parametrize("case", CASES)
def test_push_then_pull_of_the_sample_estate_ends_in_the_same_right_state(
    api: Api, local: LocalEnvironment, isolated: Isolated, case: str
) -> None:
    assert local.purview and local.purview.knobs.bm_group_post == "merge"  # the shared account is untouched
    if "strict" not in _reference:
        _reference["strict"] = sync_case(api, local, isolated, "strict")
        check_right(_reference["strict"])
    if case == "strict":
        return
    result = sync_case(api, local, isolated, case)
    check_right(result)
    assert result["state"] == _reference["strict"]["state"]
    if case == "bulk_get_without_business_attributes":
        warnings = [w for d in result["second"]["datastores"] for w in d["warnings"]]
        assert any("businessAttributes" in w for w in warnings) and len(warnings) == 1

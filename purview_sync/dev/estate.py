"""The sample estate the local run starts with: the same databases in Purview and in Qualytics.

It follows the Qualytics docs' example (``finance_db.dbo.transactions.amount``) and covers the cases a
newcomer should see: three SQL flavours in different collections, a view, classifications (system and
custom, table and column level, one propagated), a label, an unmatched table, a file datastore, and
lineage both ways: a computed table and a computed join across two datastores in Qualytics (pushed to
Purview as ``qualytics_computed_table`` + process), and an existing Purview (ADF) process between two tables
(pulled as a Qualytics lineage edge) — with an integration that has ``lineage`` on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from purview_sync.dev.identities import APP_CLIENT_ID, MI_SYSTEM_CLIENT_ID, MI_USER_CLIENT_ID, PURVIEW_ACCOUNT
from purview_sync.dev.purview import PurviewSim
from purview_sync.dev.qualytics import QualyticsSim

ROLES = ("data_reader", "data_curator", "data_source_admin", "collection_admin", "policy_author")


@dataclass
class SampleEstate:
    purview_guids: dict[str, str] = field(default_factory=dict)  # qualifiedName → guid
    datastores: dict[str, int] = field(default_factory=dict)  # Qualytics datastore name → id
    containers: dict[str, int] = field(default_factory=dict)  # "datastore.table" → id
    fields: dict[str, int] = field(default_factory=dict)  # "datastore.table.column" → id


FINANCE = {"transactions": ["id", "amount", "currency", "created_at"], "customers": ["id", "name", "email"]}
FINANCE_VIEWS = {"v_daily_totals": ["day", "total"]}
SALES = {"orders": ["order_id", "customer_id", "amount"], "returns": ["order_id", "reason"]}
HR = {"employees": ["id", "name", "salary"]}


def load_sample_estate(purview: PurviewSim, qualytics: QualyticsSim) -> SampleEstate:
    estate = SampleEstate()

    # Purview: collections, roles, scanned assets, classifications, labels
    purview.add_collection("fin01", "Finance")
    purview.add_collection("mkt02", "Marketing")
    for principal in (APP_CLIENT_ID, MI_SYSTEM_CLIENT_ID, MI_USER_CLIENT_ID):
        purview.grant(principal, *ROLES)
    guids = estate.purview_guids
    guids.update(
        purview.add_sql_database(
            "sql-finance.database.windows.net",
            "finance_db",
            flavor="azure_sql",
            collection="fin01",
            schemas={"dbo": FINANCE},
            views={"dbo": FINANCE_VIEWS},
        )
    )
    guids.update(
        purview.add_sql_database(
            "analytics-ws.sql.azuresynapse.net",
            "sales_dw",
            flavor="synapse_dedicated",
            collection="mkt02",
            schemas={"sales": SALES},
        )
    )
    guids.update(
        purview.add_sql_database(
            "onprem-sql01", "hr_db", flavor="mssql", collection=PURVIEW_ACCOUNT, schemas={"dbo": HR}
        )
    )
    fin = "mssql://sql-finance.database.windows.net/finance_db/dbo"
    purview.add_classification(guids[f"{fin}/customers#email"], "MICROSOFT.PERSONAL.EMAIL")
    purview.add_classification(guids[f"{fin}/transactions#amount"], "MICROSOFT.FINANCIAL.CREDIT_CARD_NUMBER")
    purview.add_classification(guids[f"{fin}/transactions"], "Confidential")
    purview.add_classification(
        guids[f"{fin}/transactions#currency"], "Confidential", propagated_from=guids[f"{fin}/transactions"]
    )
    purview.set_labels(guids[f"{fin}/transactions"], ["gold"])

    # Qualytics: the same databases, one extra table, and a file datastore
    def datastore(name: str, database: str, schema: str, host: str, type_: str, tables: dict[str, list[str]],
                  views: dict[str, list[str]] | None = None, score: float = 90.0) -> None:  # fmt: skip
        ds_id = qualytics.add_datastore(
            name, type=type_, store_type="jdbc", database=database, schema=schema, host=host
        )
        estate.datastores[name] = ds_id
        qualytics.add_quality_score(ds_id, score)
        for kind, group in (("table", tables), ("view", views or {})):
            for index, (table, columns) in enumerate(group.items()):
                cid = qualytics.add_container(ds_id, table, table_type=kind, quality_score=score - index * 3)
                estate.containers[f"{name}.{table}"] = cid
                for column in columns:
                    estate.fields[f"{name}.{table}.{column}"] = qualytics.add_field(
                        cid, column, quality_score=score - index * 3 - 1
                    )

    datastore("finance_db.dbo", "finance_db", "dbo", "sql-finance.database.windows.net", "sqlserver",
              {**FINANCE, "staging_tmp": ["id"]}, FINANCE_VIEWS, score=87.5)  # fmt: skip
    datastore(
        "sales_dw.sales",
        "sales_dw",
        "sales",
        "analytics-ws.sql.azuresynapse.net",
        "synapse",
        SALES,
        score=72.0,
    )
    datastore("hr_db.dbo", "hr_db", "dbo", "onprem-sql01", "sqlserver", HR, score=95.0)
    estate.datastores["landing_zone"] = qualytics.add_datastore("landing_zone", type="s3", store_type="dfs")

    f, c = estate.fields, estate.containers
    check = qualytics.add_check(
        estate.datastores["finance_db.dbo"], c["finance_db.dbo.transactions"], ["amount"]
    )
    qualytics.add_check(estate.datastores["finance_db.dbo"], c["finance_db.dbo.transactions"], ["currency"])
    qualytics.add_anomaly(
        estate.datastores["finance_db.dbo"], c["finance_db.dbo.transactions"], ["amount"], check_id=check
    )
    qualytics.add_check(estate.datastores["sales_dw.sales"], c["sales_dw.sales.orders"], ["amount"])

    # lineage: computed containers in Qualytics, a copy activity in Purview
    c["finance_db.dbo.large_transactions"] = qualytics.add_computed_table(
        estate.datastores["finance_db.dbo"],
        "large_transactions",
        "SELECT t.id, t.amount, cu.name FROM dbo.transactions t JOIN customers cu ON cu.id = t.id "
        "WHERE t.amount > 10000",
        quality_score=83.0,
    )
    c["sales_dw.sales.orders_with_customers"] = qualytics.add_computed_join(
        estate.datastores["sales_dw.sales"],
        "orders_with_customers",
        c["sales_dw.sales.orders"],
        c["finance_db.dbo.customers"],  # the right side lives in another datastore
        left_join_field_name="customer_id",
        right_join_field_name="id",
        select_clause="left_order_id, left_amount, right_name AS customer_name",
        quality_score=78.0,
    )
    sales = "mssql://analytics-ws.sql.azuresynapse.net/sales_dw/sales"
    purview.add_process(
        "adf_copy_activity",
        "https://adf-finance.example/pipelines/load_transactions/copy_orders",
        name="copy_orders",
        inputs=[guids[f"{sales}/orders"]],
        outputs=[guids[f"{fin}/transactions"]],
        collection="fin01",
    )
    assert f  # every field is addressable by its dotted name
    return estate

"""What a computed container reads, from its definition (sync/lineage_sql.py)."""

from __future__ import annotations

import pytest

from purview_sync.sync.lineage_sql import QueryError, SourceRef, column_pairs, container_sources, query_tables


def names(query: str) -> list[str]:
    return sorted(str(t) for t in query_tables(query))


def test_ctes_and_subqueries_are_not_sources_but_qualified_names_are() -> None:
    assert names(
        "WITH orders AS (SELECT * FROM dbo.orders), x AS (SELECT 1 AS a) "
        "SELECT * FROM orders o JOIN [db1].[sales].[customers] c ON 1 = 1 "
        "JOIN (SELECT id FROM returns) r ON 1 = 1 CROSS JOIN x WHERE o.id IN (SELECT id FROM #tmp) "
        "AND o.id IN (SELECT id FROM ##shared)"
    ) == ["db1.sales.customers", "dbo.orders", "returns"]
    assert names("SELECT a FROM t1; SELECT b FROM T1") == ["t1"]  # once, case-insensitively
    with pytest.raises(QueryError):
        query_tables("SELEC nothing FROM")


def test_join_and_file_sources_in_every_shape() -> None:
    ds = {"id": 1}
    assert container_sources({"container_type": "computed_join", "datastore": ds, "left_container_id": 5,
                              "right_container_id": 9, "right_datastore_id": 2, "left_prefix": "l"}) == [
        SourceRef(5, 1, "left", "l"), SourceRef(9, 2, "right", "right")]  # fmt: skip
    assert container_sources({"container_type": "computed_join", "datastore": ds,
                              "left_container": {"id": 5}, "right_container": {"id": 9}}) == [
        SourceRef(5, 1, "left", "left"), SourceRef(9, 1, "right", "right")]  # fmt: skip
    assert container_sources({"container_type": "computed_join", "datastore": ds, "sources": [
        {"container_id": 9, "datastore_id": 2, "ordinal": 1}, {"container_id": 5, "ordinal": 0}]}) == [
        SourceRef(5, 1), SourceRef(9, 2)]  # fmt: skip
    assert container_sources(
        {"container_type": "computed_file", "datastore": ds, "source_container": {"id": 3}}
    ) == [SourceRef(3, 1)]
    assert container_sources(
        {"container_type": "computed_file", "datastore_id": 4, "source_container_id": 3}
    ) == [SourceRef(3, 4)]


def test_column_pairs_only_for_plain_columns() -> None:
    assert column_pairs("left_id, left_amount AS amount, [right_name] region") == [
        ("left_id", "left_id"), ("left_amount", "amount"), ("right_name", "region")]  # fmt: skip
    assert column_pairs("id, upper(name) AS name") is None
    assert column_pairs("*") is None
    assert column_pairs(None) is None

"""The similarity ranking behind a preview's suggestions (sync.suggestions)."""

from __future__ import annotations

import pytest

from purview_sync.sync import suggestions
from purview_sync.sync.suggestions import closest, similarity


@pytest.mark.parametrize(
    ("name", "choices", "expected"),
    [
        ("cust_phone", ["id", "phone", "email", "customer_id"], ["phone"]),  # a prefixed rename
        ("staging_tmp", ["transactions", "staging", "customers"], ["staging"]),
        ("Email_Addr", ["EMAIL", "address_line"], ["EMAIL"]),  # case and separators do not matter
        ("amount", ["amt", "amount_usd", "amount_eur", "amount_gbp", "x"], ["amount_eur", "amount_gbp", "amount_usd"]),
        ("a", ["amount", "id"], []),  # too short to claim a word of a longer name
        ("id", ["customer_id"], []),
        ("cust_phone", ["email", "customer_id", "phone_number"], []),  # none close enough: none invented
    ],
)
def test_closest_names(name: str, choices: list[str], expected: list[str]) -> None:
    assert closest(name, choices) == expected


def test_names_already_matched_are_not_offered() -> None:
    assert closest("cust_phone", ["phone", "cell_phone"], taken=["PHONE"]) == ["cell_phone"]


def test_at_most_three_candidates_best_first_and_only_above_the_threshold() -> None:
    found = closest("order_total", ["order_totals", "order_total2", "orders_total", "order_tot", "zzz"])
    assert len(found) == suggestions.MAX_CANDIDATES
    scores = [similarity("order_total", f) for f in found]
    assert scores == sorted(scores, reverse=True) and min(scores) >= suggestions.THRESHOLD
    assert similarity("zzz", "order_total") < suggestions.THRESHOLD

"""The fixed naming rule of pulled tags (DESIGN.md §5a)."""

from __future__ import annotations

import pytest

from purview_sync.sync.tagnames import (
    CATEGORY,
    TagSource,
    classification_tag_name,
    desired_tags,
    label_tag_name,
    looks_pulled,
)


@pytest.mark.parametrize(
    ("classification", "tag"),
    [
        ("MICROSOFT.FINANCIAL.CREDIT_CARD_NUMBER", "Credit Card Number"),
        ("MICROSOFT.PERSONAL.EMAIL", "Email"),
        ("MICROSOFT.GOVERNMENT.US.STATE", "State"),
        ("MICROSOFT.PERSONAL.IPADDRESS", "Ipaddress"),
        ("MICROSOFT.GOVERNMENT.US.SOCIAL_SECURITY_NUMBER", "Social Security Number"),
        ("MICROSOFT.FINANCIAL.EU__IBAN_", "Eu Iban"),  # empty words collapse
        ("Confidential", "Confidential"),  # a custom classification keeps its name
        ("Contoso.PII_Data", "Contoso.PII_Data"),
        ("Microsoft.Lowercase.NAME", "Microsoft.Lowercase.NAME"),  # only the system prefix is rewritten
        ("MICROSOFT.", "MICROSOFT."),  # nothing after the prefix: the name as it is
    ],
)
def test_classification_names(classification: str, tag: str) -> None:
    assert classification_tag_name(classification) == tag


def test_a_label_keeps_its_text() -> None:
    assert label_tag_name("gold") == "gold"
    assert label_tag_name("Gold Tier_1") == "Gold Tier_1"
    assert label_tag_name("  padded ") == "padded"


def test_description_names_the_source_and_the_key_records_it() -> None:
    email = TagSource("classification", "MICROSOFT.PERSONAL.EMAIL")
    assert email.tag_name == "Email"
    assert email.description == "Microsoft Purview classification MICROSOFT.PERSONAL.EMAIL"
    assert email.key == "classification:MICROSOFT.PERSONAL.EMAIL"
    gold = TagSource("label", "gold")
    assert (gold.tag_name, gold.description, gold.key) == (
        "gold",
        "Microsoft Purview label gold",
        "label:gold",
    )
    assert CATEGORY == "Microsoft Purview"


def test_desired_tags_dedupe_by_name_first_source_wins() -> None:
    tags = desired_tags(["MICROSOFT.PERSONAL.EMAIL", "Email", "Confidential"], ["gold", "Confidential", " "])
    assert list(tags) == ["Email", "Confidential", "gold"]
    assert tags["Email"] == TagSource("classification", "MICROSOFT.PERSONAL.EMAIL")
    assert tags["Confidential"].kind == "classification"
    assert desired_tags([], []) == {}


def test_looks_pulled() -> None:
    source = TagSource("classification", "Confidential")
    assert looks_pulled({"category": CATEGORY, "description": source.description})
    assert looks_pulled({"category": CATEGORY, "description": TagSource("label", "x").description})
    assert not looks_pulled({"category": CATEGORY, "description": "made by hand"})
    assert not looks_pulled({"category": "Governance", "description": source.description})
    assert not looks_pulled({"category": None, "description": None})

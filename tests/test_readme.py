"""The README stays true for what the code does: every setting the code reads is in its settings table
(QUALYTICS_LINK_TEMPLATES with its defaults included), and it says what pull really creates in Qualytics —
global tags in the category ``Microsoft Purview``, since Qualytics' public API cannot create ``external``
tags (issue 13 points 16 and 18)."""

from __future__ import annotations

import re
from pathlib import Path

from purview_sync.settings import DEFAULT_LINK_TEMPLATES, SETTING_NAMES
from purview_sync.sync.tagnames import CATEGORY

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def settings_rows() -> dict[str, str]:
    rows = {}
    for line in README.splitlines():
        if line.startswith("| `"):
            for name in re.findall(r"`([A-Za-z][A-Za-z0-9_]+)`", line.split("|")[1]):
                rows[name] = line
    return rows


def test_every_setting_the_code_reads_is_documented() -> None:
    rows = settings_rows()
    assert [n for n in SETTING_NAMES if n not in rows] == []


def test_the_link_templates_row_names_the_keys_and_the_defaults() -> None:
    row = settings_rows()["QUALYTICS_LINK_TEMPLATES"]
    for key, pattern in DEFAULT_LINK_TEMPLATES.items():
        assert f"`{key}`" in row and f"`{pattern}`" in row, key


def test_pull_is_described_as_global_tags_in_the_purview_category() -> None:
    intro = README.split("## ", 1)[0]
    pull = next(line for line in intro.split("\n- ") if line.startswith("**Pull**"))
    assert "global tags" in pull and f"`{CATEGORY}`" in pull
    assert not re.search(r"become (?:\*\*)?external tags", README)

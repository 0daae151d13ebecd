"""Settings: QUALYTICS_LINK_TEMPLATES (issue 13 point 16) — the QualyticsURL patterns are configurable,
the defaults are the documented built-in ones, and a malformed value is refused naming the setting."""

from __future__ import annotations

import pytest

from purview_sync.settings import DEFAULT_LINK_TEMPLATES, LinkTemplates, load_settings, parse_link_templates


def test_the_default_links() -> None:
    links = LinkTemplates("https://acme.qualytics.io")
    assert links.datastore(7) == "https://acme.qualytics.io/datastores/7"
    assert links.table(7, 31) == "https://acme.qualytics.io/datastores/7/tables/31"
    assert links.column(7, 31, 902) == "https://acme.qualytics.io/datastores/7/tables/31/fields/902"


def test_an_override_replaces_only_the_patterns_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALYTICS_API_URL", "https://acme.qualytics.io/api")
    monkeypatch.delenv("QUALYTICS_UI_URL", raising=False)
    monkeypatch.setenv(
        "QUALYTICS_LINK_TEMPLATES", '{"table": "{ui}/datastores/{datastore_id}/containers/{container_id}/overview"}'
    )
    settings = load_settings()
    links = LinkTemplates(settings.qualytics_ui_url, settings.qualytics_link_templates)
    assert links.table(7, 31) == "https://acme.qualytics.io/datastores/7/containers/31/overview"
    assert links.datastore(7) == "https://acme.qualytics.io/datastores/7"
    assert settings.qualytics_link_templates["column"] == DEFAULT_LINK_TEMPLATES["column"]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("{not json", "not valid JSON"),
        ('["x"]', "must be a JSON object"),
        ('{"schema": "{ui}"}', "unknown key 'schema'"),
        ('{"datastore": "{ui}/t/{container_id}"}', "'datastore' uses ['container_id']"),
        ('{"column": ""}', "non-empty string"),
        ('{"table": "{ui/x"}', "not a valid pattern"),
    ],
)
def test_a_malformed_value_names_the_setting(raw: str, words: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_link_templates(raw)
    assert "QUALYTICS_LINK_TEMPLATES" in str(info.value) and words in str(info.value)

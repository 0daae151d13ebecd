"""App settings (environment variables; the same names locally and in Azure — DESIGN.md §6).

Read once per process through ``get_settings()``; tests that change the environment call
``get_settings.cache_clear()``.
"""

from __future__ import annotations

import json
import os
import string
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

DEFAULT_ALLOWED_HOSTS = "*.purview.azure.com,*.purview-service.microsoft.com"
# NCRONTAB (seconds first) of the timer that starts the due scheduled syncs; the Functions host reads the
# setting itself (``%SCHEDULE_TICK%`` in the timer binding), so it must be set wherever the app runs
DEFAULT_SCHEDULE_TICK = "0 */5 * * * *"
PUBLIC_AUTHORITY_HOSTS = (
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
)

# Every setting the code reads: the Bicep app settings are checked against this set (tests/test_infra.py).
SETTING_NAMES = (
    "AzureWebJobsStorage",
    "QUALYTICS_API_URL",
    "QUALYTICS_API_TOKEN",
    "QUALYTICS_UI_URL",
    "KEY_VAULT_URL",
    "SECRET_ENCRYPTION_KEY",
    "AZURE_AUTHORITY_HOST",
    "PURVIEW_ALLOWED_HOSTS",
    "AZURE_CLIENT_ID",
    "SYNC_LOCK_TTL_SECONDS",
    "EVENT_COALESCE_SECONDS",
    "QUALYTICS_LINK_TEMPLATES",
    "DATASTORE_TIME_BUDGET_SECONDS",
    "SCHEDULE_TICK",  # read by the host for the schedule timer (%SCHEDULE_TICK%)
    "PURVIEW_MAX_OPS_PER_SECOND",
    "EVENT_POLL_TICK",  # read by the Functions host: the schedule of the operations poll (%EVENT_POLL_TICK%)
)
DEFAULT_EVENT_POLL_TICK = "0 */5 * * * *"

# The links pushed as QualyticsURL (the UI's deep-link format is not documented — reference §13 — so
# QUALYTICS_LINK_TEMPLATES may override any of them with a JSON object of the same keys).
DEFAULT_LINK_TEMPLATES = {
    "datastore": "{ui}/datastores/{datastore_id}",
    "table": "{ui}/datastores/{datastore_id}/tables/{container_id}",
    "column": "{ui}/datastores/{datastore_id}/tables/{container_id}/fields/{field_id}",
}
_LINK_PLACEHOLDERS = {
    "datastore": {"ui", "datastore_id"},
    "table": {"ui", "datastore_id", "container_id"},
    "column": {"ui", "datastore_id", "container_id", "field_id"},
}


def parse_link_templates(raw: str | None) -> dict[str, str]:
    """``QUALYTICS_LINK_TEMPLATES`` (a JSON object with any of the keys ``datastore``, ``table``, ``column``)
    over the defaults; a malformed value fails at start-up with a message naming the setting."""
    templates = dict(DEFAULT_LINK_TEMPLATES)
    if not raw:
        return templates
    try:
        given: Any = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"QUALYTICS_LINK_TEMPLATES is not valid JSON: {exc}") from None
    if not isinstance(given, dict):
        raise ValueError('QUALYTICS_LINK_TEMPLATES must be a JSON object, e.g. {"table": "{ui}/t/{container_id}"}')
    for key, value in given.items():
        if key not in DEFAULT_LINK_TEMPLATES:
            raise ValueError(f"QUALYTICS_LINK_TEMPLATES: unknown key '{key}' (use {sorted(DEFAULT_LINK_TEMPLATES)})")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"QUALYTICS_LINK_TEMPLATES: '{key}' must be a non-empty string")
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as exc:
            raise ValueError(f"QUALYTICS_LINK_TEMPLATES: '{key}' is not a valid pattern: {exc}") from None
        unknown = names - _LINK_PLACEHOLDERS[key]
        if unknown:
            raise ValueError(
                f"QUALYTICS_LINK_TEMPLATES: '{key}' uses {sorted(unknown)}; it may use "
                f"{sorted(_LINK_PLACEHOLDERS[key])}"
            )
        templates[key] = value
    return templates


@dataclass(frozen=True)
class LinkTemplates:
    """The QualyticsURL of a datastore, a table or a column."""

    ui: str
    templates: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LINK_TEMPLATES))

    def datastore(self, datastore_id: int) -> str:
        return self.templates["datastore"].format(ui=self.ui, datastore_id=datastore_id)

    def table(self, datastore_id: int, container_id: int) -> str:
        return self.templates["table"].format(ui=self.ui, datastore_id=datastore_id, container_id=container_id)

    def column(self, datastore_id: int, container_id: int, field_id: int) -> str:
        return self.templates["column"].format(
            ui=self.ui, datastore_id=datastore_id, container_id=container_id, field_id=field_id
        )


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    storage_connection: str | None  # connection string; None → identity-based (AzureWebJobsStorage__*)
    storage_account_name: str | None
    storage_queue_uri: str | None
    storage_table_uri: str | None
    storage_client_id: str | None
    qualytics_api_url: str
    qualytics_api_token: str
    qualytics_ui_url: str
    key_vault_url: str | None
    secret_encryption_key: str | None
    authority_host: str | None
    purview_allowed_hosts: tuple[str, ...]
    managed_identity_client_id: str | None
    sync_lock_ttl_seconds: int
    event_coalesce_seconds: int
    qualytics_link_templates: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LINK_TEMPLATES))
    datastore_time_budget_seconds: int = 1200  # one part of a datastore (below host.json's functionTimeout)
    purview_max_ops_per_second: float = 200.0  # all instances together, per Purview account; 0 = no fleet cap

    @property
    def authority_is_public_cloud(self) -> bool:
        if not self.authority_host:
            return True
        host = self.authority_host.split("://", 1)[-1].split("/", 1)[0].lower()
        return host in PUBLIC_AUTHORITY_HOSTS


def load_settings() -> Settings:
    api_url = (_env("QUALYTICS_API_URL") or "").rstrip("/")
    ui_url = _env("QUALYTICS_UI_URL") or (api_url[: -len("/api")] if api_url.endswith("/api") else api_url)
    hosts = _env("PURVIEW_ALLOWED_HOSTS", DEFAULT_ALLOWED_HOSTS) or DEFAULT_ALLOWED_HOSTS
    return Settings(
        storage_connection=_env("AzureWebJobsStorage"),
        storage_account_name=_env("AzureWebJobsStorage__accountName"),
        storage_queue_uri=_env("AzureWebJobsStorage__queueServiceUri"),
        storage_table_uri=_env("AzureWebJobsStorage__tableServiceUri"),
        storage_client_id=_env("AzureWebJobsStorage__clientId"),
        qualytics_api_url=api_url,
        qualytics_api_token=_env("QUALYTICS_API_TOKEN", "") or "",
        qualytics_ui_url=ui_url.rstrip("/"),
        key_vault_url=_env("KEY_VAULT_URL"),
        secret_encryption_key=_env("SECRET_ENCRYPTION_KEY"),
        authority_host=_env("AZURE_AUTHORITY_HOST"),
        purview_allowed_hosts=tuple(h.strip().lower() for h in hosts.split(",") if h.strip()),
        managed_identity_client_id=_env("AZURE_CLIENT_ID"),
        sync_lock_ttl_seconds=int(_env("SYNC_LOCK_TTL_SECONDS", "300") or 300),
        event_coalesce_seconds=int(_env("EVENT_COALESCE_SECONDS", "30") or 30),
        qualytics_link_templates=parse_link_templates(_env("QUALYTICS_LINK_TEMPLATES")),
        datastore_time_budget_seconds=int(_env("DATASTORE_TIME_BUDGET_SECONDS", "1200") or 1200),
        purview_max_ops_per_second=float(_env("PURVIEW_MAX_OPS_PER_SECOND", "200") or 200),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

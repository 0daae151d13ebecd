"""App settings (environment variables; the same names locally and in Azure — DESIGN.md §6).

Read once per process through ``get_settings()``; tests that change the environment call
``get_settings.cache_clear()``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_ALLOWED_HOSTS = "*.purview.azure.com,*.purview-service.microsoft.com"
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
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

"""The process-wide collaborators the function handlers hand to the core logic.

Handlers call ``get_services()``; the core never reads the environment itself, so tests can pass
simulators and Azurite clients straight in.
"""

from __future__ import annotations

import threading
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import urlsplit

from purview_sync.clients.auth import make_credential
from purview_sync.clients.budget import FleetShare, fleet_share
from purview_sync.clients.purview import PurviewClient
from purview_sync.clients.qualytics import QualyticsClient
from purview_sync.clients.secrets import make_secret_store
from purview_sync.settings import Settings, get_settings
from purview_sync.storage.budget import BudgetRepo
from purview_sync.storage.clients import StorageClients
from purview_sync.storage.integrations import IntegrationRepo
from purview_sync.storage.lineage import LineageRepo
from purview_sync.storage.mappings import MappingRepo
from purview_sync.storage.pushstate import PushStateRepo
from purview_sync.storage.runs import SyncRepo
from purview_sync.storage.schedules import ScheduleClaims


class Services:
    def __init__(self, settings: Settings, storage: StorageClients | None = None) -> None:
        self.settings = settings
        self.storage = storage or StorageClients(settings)
        self._credentials: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @cached_property
    def integrations(self) -> IntegrationRepo:
        return IntegrationRepo(self.storage)

    @cached_property
    def syncs(self) -> SyncRepo:
        return SyncRepo(self.storage)

    @cached_property
    def mappings(self) -> MappingRepo:
        return MappingRepo(self.storage)

    @cached_property
    def lineage(self) -> LineageRepo:
        return LineageRepo(self.storage)

    @cached_property
    def schedule_claims(self) -> ScheduleClaims:
        return ScheduleClaims(self.storage)

    @cached_property
    def push_state(self) -> PushStateRepo:
        return PushStateRepo(self.storage)

    @cached_property
    def secrets(self) -> Any:
        return make_secret_store(self.settings)

    def qualytics(self, **kwargs: Any) -> QualyticsClient:
        return QualyticsClient(self.settings.qualytics_api_url, self.settings.qualytics_api_token, **kwargs)

    def get_datastore(self, datastore_id: int, *, deadline: float | None = None) -> dict[str, Any] | None:
        """One datastore from Qualytics (None when it no longer exists), on a short-lived client."""
        qualytics = self.qualytics()
        qualytics.deadline = deadline
        try:
            return qualytics.get_datastore(datastore_id)
        finally:
            qualytics.close()

    def purview_for(self, integration: Any, **kwargs: Any) -> PurviewClient:
        """A Purview client for a stored integration; credentials are cached so tokens are reused."""
        key = (integration.id, integration.updated_at)
        with self._lock:
            credential = self._credentials.get(key)
        if credential is None:
            secret = (
                self.secrets.reveal(integration.id, integration.secret_ref)
                if integration.secret_ref
                else None
            )
            credential = make_credential(integration.tenant_id, integration.client_id, secret, self.settings)
            with self._lock:
                self._credentials[key] = credential
        return PurviewClient(
            integration.purview_url,
            credential,
            self.settings.purview_allowed_hosts,
            fleet=self.fleet_share(integration.purview_url),
            **kwargs,
        )

    def fleet_share(self, purview_url: str) -> FleetShare | None:
        """This instance's share of ``PURVIEW_MAX_OPS_PER_SECOND`` for the account (None: no fleet budget)."""
        budget = self.settings.purview_max_ops_per_second
        if not budget:
            return None
        host = (urlsplit(purview_url).hostname or purview_url).lower()
        if urlsplit(purview_url).port:
            host = f"{host}:{urlsplit(purview_url).port}"
        return fleet_share(lambda: BudgetRepo(self.storage), host, budget)


@lru_cache(maxsize=1)
def get_services() -> Services:
    return Services(get_settings())


def reset_services() -> None:
    """Forget cached settings and clients (tests that change the environment)."""
    get_settings.cache_clear()
    get_services.cache_clear()

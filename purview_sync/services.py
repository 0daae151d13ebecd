"""The process-wide collaborators the function handlers hand to the core logic.

Handlers call ``get_services()``; the core never reads the environment itself, so tests can pass
simulators and Azurite clients straight in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from purview_sync.settings import Settings, get_settings
from purview_sync.storage.clients import StorageClients


@dataclass
class Services:
    settings: Settings
    storage: StorageClients


@lru_cache(maxsize=1)
def get_services() -> Services:
    settings = get_settings()
    return Services(settings=settings, storage=StorageClients(settings))


def reset_services() -> None:
    """Forget cached settings and clients (tests that change the environment)."""
    get_settings.cache_clear()
    get_services.cache_clear()

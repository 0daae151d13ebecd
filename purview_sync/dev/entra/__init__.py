"""The Microsoft Entra ID simulator: ``EntraSim`` (sim.py) over its directory (directory.py) and the
wire shapes of its answers (responses.py).
"""

from purview_sync.dev.entra.directory import (
    TOKEN_LIFETIME_S,
    AppRegistration,
    ManagedIdentity,
    ManagedIdentityHost,
    Tenant,
)
from purview_sync.dev.entra.sim import EntraSim

__all__ = [
    "TOKEN_LIFETIME_S",
    "AppRegistration",
    "EntraSim",
    "ManagedIdentity",
    "ManagedIdentityHost",
    "Tenant",
]

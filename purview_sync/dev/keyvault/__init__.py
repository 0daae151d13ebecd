"""The Azure Key Vault simulator: ``KeyVaultSim`` (sim.py) over its stored secrets and error shapes
(records.py).
"""

from purview_sync.dev.keyvault.records import (
    RECOVERABLE_DAYS,
    VAULT_APP_ID,
    VAULT_RESOURCE,
    RequestRecord,
    SecretVersion,
    StoredSecret,
)
from purview_sync.dev.keyvault.sim import KeyVaultSim

__all__ = [
    "RECOVERABLE_DAYS",
    "VAULT_APP_ID",
    "VAULT_RESOURCE",
    "KeyVaultSim",
    "RequestRecord",
    "SecretVersion",
    "StoredSecret",
]

"""Secrets at rest: Fernet when no vault; Key Vault (over HTTPS, challenge auth, managed identity) when
KEY_VAULT_URL is set — against the Key Vault simulator, not a patched client."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from purview_sync.app import integrations
from purview_sync.app.services import Services
from purview_sync.clients.secrets import FernetSecretStore, KeyVaultSecretStore, SecretStoreError
from purview_sync.dev.keyvault import KeyVaultSim
from purview_sync.dev.local_env import APP_CLIENT_SECRET, TENANT_ID, LocalEnvironment
from purview_sync.models import ConnectRequest


def test_fernet_round_trip_and_a_changed_key() -> None:
    store = FernetSecretStore("any passphrase")
    ref = store.protect("abc", "s3cret")
    assert ref.startswith("fernet:") and "s3cret" not in ref
    assert store.reveal("abc", ref) == "s3cret"
    with pytest.raises(SecretStoreError, match="SECRET_ENCRYPTION_KEY changed"):
        FernetSecretStore("another passphrase").reveal("abc", ref)


@pytest.fixture
def vault(local: LocalEnvironment) -> Iterator[KeyVaultSim]:
    assert local.tls and local.entra
    with KeyVaultSim(local.tls, local.entra.verify, TENANT_ID, local.entra.url) as sim:
        yield sim


def test_key_vault_path(local: LocalEnvironment, services: Services, vault: KeyVaultSim) -> None:
    kv_services = Services(dataclasses.replace(services.settings, key_vault_url=vault.url), storage=services.storage)
    body = ConnectRequest.model_validate(local.connect_body())
    integration = integrations.connect(kv_services, body)
    name = KeyVaultSecretStore.secret_name(integration.id)
    assert integration.secret_ref == f"keyvault:{name}"
    assert vault.secrets[name] == APP_CLIENT_SECRET
    assert vault.requests[0].status == 401  # the SDK went through Key Vault's challenge first
    assert any(r.status == 200 and r.caller for r in vault.requests)
    stored = kv_services.integrations.get(integration.id)
    assert stored is not None and APP_CLIENT_SECRET not in repr(stored)
    assert integrations.collections(kv_services, integration.id)  # the secret is read back from the vault
    integrations.delete(kv_services, integration.id)
    assert name not in vault.secrets and name in vault.deleted_secrets

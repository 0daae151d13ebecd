"""Secrets at rest: Fernet when no vault; Key Vault (over HTTPS, challenge auth, managed identity) when
KEY_VAULT_URL is set — against the Key Vault simulator, not a patched client."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from purview_sync.app import integrations
from purview_sync.app.services import Services
from purview_sync.clients.secrets import FernetSecretStore, SecretStoreError
from purview_sync.dev.keyvault import KeyVaultSim
from purview_sync.dev.local_env import APP_CLIENT_ID, APP_CLIENT_SECRET, TENANT_ID, LocalEnvironment
from purview_sync.models import ConnectRequest, PatchRequest


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
    assert integration.secret_ref and integration.secret_ref.startswith(f"keyvault:purview-sync-{integration.id}-")
    name = integration.secret_ref.removeprefix("keyvault:")
    assert vault.secrets[name] == APP_CLIENT_SECRET
    assert vault.requests[0].status == 401  # the SDK went through Key Vault's challenge first
    assert any(r.status == 200 and r.caller for r in vault.requests)
    stored = kv_services.integrations.get(integration.id)
    assert stored is not None and APP_CLIENT_SECRET not in repr(stored)
    assert integrations.collections(kv_services, integration.id)  # the secret is read back from the vault
    integrations.delete(kv_services, integration.id)
    assert name not in vault.secrets and name in vault.deleted_secrets


def test_secret_managed_identity_secret_managed_identity_with_soft_delete(
    local: LocalEnvironment, services: Services, vault: KeyVaultSim
) -> None:
    """Deleted secret names stay reserved during soft-delete: switching back to a secret must not need one."""
    kv_services = Services(dataclasses.replace(services.settings, key_vault_url=vault.url), storage=services.storage)
    integration = integrations.connect(kv_services, ConnectRequest.model_validate(local.connect_body()))
    to_identity = PatchRequest.model_validate({"client_secret": None, "client_id": None})
    to_secret = PatchRequest.model_validate({"client_id": APP_CLIENT_ID, "client_secret": APP_CLIENT_SECRET})
    refs = [integration.secret_ref]
    for patch in (to_identity, to_secret, to_identity, to_secret):
        updated = integrations.update(kv_services, integration.id, patch)
        assert updated.auth == ("managed_identity" if patch is to_identity else "client_secret")
        refs.append(updated.secret_ref)
    assert refs[1] is None and refs[3] is None and len({refs[0], refs[2], refs[4]}) == 3
    live = [name for name in vault.secrets if integration.id in name]
    assert live == [str(refs[4]).removeprefix("keyvault:")]  # only the one in use
    assert {str(r).removeprefix("keyvault:") for r in refs[0::2][:2]} <= set(vault.deleted_secrets)
    assert integrations.collections(kv_services, integration.id)  # the current secret works
    # a new secret value replaces the old one at once (a new name again; the old one deleted)
    rotated = integrations.update(kv_services, integration.id, to_secret)
    assert rotated.secret_ref != refs[4] and [n for n in vault.secrets if integration.id in n] == [
        str(rotated.secret_ref).removeprefix("keyvault:")
    ]
    integrations.delete(kv_services, integration.id)
    assert not [n for n in vault.secrets if integration.id in n]

"""Integration client secrets at rest: Key Vault when ``KEY_VAULT_URL`` is set, else Fernet-encrypted.

The Integrations row only ever holds a *reference* (``keyvault:<name>`` or ``fernet:<ciphertext>``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
from typing import Any, Protocol
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken

from purview_sync.clients.auth import make_credential
from purview_sync.settings import Settings


class SecretStore(Protocol):
    def protect(self, integration_id: str, secret: str) -> str: ...
    def reveal(self, integration_id: str, ref: str) -> str: ...
    def delete(self, integration_id: str, ref: str) -> None: ...


class SecretStoreError(Exception):
    pass


def _fernet_key(key: str) -> bytes:
    """Accept a Fernet key as is; derive one from any other passphrase."""
    try:
        if len(base64.urlsafe_b64decode(key.encode())) == 32:
            return key.encode()
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest())


class FernetSecretStore:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(_fernet_key(key))

    def protect(self, integration_id: str, secret: str) -> str:
        return "fernet:" + self._fernet.encrypt(secret.encode()).decode()

    def reveal(self, integration_id: str, ref: str) -> str:
        if not ref.startswith("fernet:"):
            raise SecretStoreError("the stored secret was not written by the encrypted store")
        try:
            return self._fernet.decrypt(ref[len("fernet:") :].encode()).decode()
        except InvalidToken:
            raise SecretStoreError(
                "the stored secret cannot be decrypted: SECRET_ENCRYPTION_KEY changed; update the "
                "integration's client_secret with PATCH"
            ) from None

    def delete(self, integration_id: str, ref: str) -> None:
        return None  # the ciphertext lives in the row that is being deleted


class KeyVaultSecretStore:
    """One secret per integration *and secret version*: ``purview-sync-<integration id>-<version>``.

    A vault keeps a deleted secret's name reserved during soft-delete (409 on ``set_secret``, for the
    retention period, 90 days by default — azure-functions.md §3.3). Switching an integration from a client
    secret to the managed identity deletes its secret; switching back must not need that name again, so each
    secret stored gets a name of its own, and the previous one is deleted once the new one is in use."""

    def __init__(self, vault_url: str, credential: Any) -> None:
        from azure.keyvault.secrets import SecretClient

        host = (urlsplit(vault_url).hostname or "").lower()
        public = host.endswith((".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net"))
        self._client = SecretClient(vault_url, credential, verify_challenge_resource=public)

    @staticmethod
    def secret_name(integration_id: str, version: str) -> str:
        # Key Vault names: 1–127 letters, digits and '-'; derived from ids only, never from user input
        return f"purview-sync-{integration_id}-{version}"

    def protect(self, integration_id: str, secret: str) -> str:
        name = self.secret_name(integration_id, secrets.token_hex(4))
        self._client.set_secret(
            name, secret, content_type="purview client secret", tags={"app": "purview-sync"}
        )
        return f"keyvault:{name}"

    def reveal(self, integration_id: str, ref: str) -> str:
        return self._client.get_secret(ref.removeprefix("keyvault:")).value or ""

    def delete(self, integration_id: str, ref: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self._client.begin_delete_secret(ref.removeprefix("keyvault:")).wait()


def make_secret_store(settings: Settings) -> SecretStore:
    if settings.key_vault_url:

        return KeyVaultSecretStore(settings.key_vault_url, make_credential("", None, None, settings))
    if not settings.secret_encryption_key:
        raise SecretStoreError("set KEY_VAULT_URL or SECRET_ENCRYPTION_KEY to store integration secrets")
    return FernetSecretStore(settings.secret_encryption_key)

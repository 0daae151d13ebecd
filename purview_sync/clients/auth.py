"""Entra credentials for a Purview integration (real azure-identity classes, nothing patched)."""

from __future__ import annotations

from typing import Any

from purview_sync.settings import Settings

PURVIEW_SCOPE = "https://purview.azure.net/.default"


def make_credential(
    tenant_id: str, client_id: str | None, client_secret: str | None, settings: Settings
) -> Any:
    """Client secret → ``ClientSecretCredential``; no secret → the app's managed identity
    (``client_id`` alone names a user-assigned identity; neither → ``AZURE_CLIENT_ID`` or system-assigned).

    For an authority host outside the public/sovereign clouds (Azure Stack, the local Entra simulator),
    instance discovery is disabled, as azure-identity requires.
    """
    from azure.identity import ClientSecretCredential, ManagedIdentityCredential

    if client_secret:
        kwargs: dict[str, Any] = {}
        if settings.authority_host:
            kwargs["authority"] = settings.authority_host
        if not settings.authority_is_public_cloud:
            kwargs["disable_instance_discovery"] = True
        return ClientSecretCredential(tenant_id, client_id or "", client_secret, **kwargs)
    identity = client_id or settings.managed_identity_client_id
    return ManagedIdentityCredential(client_id=identity) if identity else ManagedIdentityCredential()

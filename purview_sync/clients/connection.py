"""Prove a Purview connection before anything is stored, and name the cause when it fails.

Order matters: the URL shape and its host are checked *before* a token is requested, so a token is never
minted for, or sent to, a host outside ``PURVIEW_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from purview_sync.clients.auth import PURVIEW_SCOPE, make_credential
from purview_sync.clients.http import HttpError, RetryPolicy, error_text
from purview_sync.clients.purview import PurviewClient, host_allowed
from purview_sync.errors import ApiError
from purview_sync.settings import Settings

log = logging.getLogger(__name__)

ROLES_HINT = (
    "Assign the service principal (or the app's managed identity) the Purview roles Data Curator, Data Source "
    "Administrator, Collection Admin and Policy Author on the root collection, then try again."
)
AUTH_HINT = (
    "Verify that the Client ID and Client Secret are correct (the secret *value*, not its ID) and that the "
    "secret has not expired; create a new secret in the Azure portal if needed."
)
TENANT_HINT = "Verify that the Tenant ID is the Microsoft Entra tenant in which the app registration lives."
AUTH_FAILED_CODES = {7000215, 7000222, 7000216, 700027, 7000112, 50034}
TENANT_CODES = {700016, 90002, 900023, 90033, 90019}


def connection_error(code: str, message: str, **extra: Any) -> ApiError:
    return ApiError(422, code, message, **extra)


def normalise_endpoint(url: str) -> str:
    """The account root only: ``/catalog`` (the portal's "Atlas endpoint") and any other path are refused."""
    split = urlsplit(url)
    path = split.path.rstrip("/")
    if split.query or split.fragment or split.username or split.password:
        raise connection_error(
            "invalid_endpoint", "The Purview account URL must not carry credentials, a query or a fragment."
        )
    if path:
        if re.match(r"^/(catalog|datamap|account|scan)(/|$)", path, re.IGNORECASE):
            raise connection_error(
                "invalid_endpoint",
                f"The Purview account URL must not include '{path}' at the end: remove it and use "
                f"https://{split.netloc} (the Atlas endpoint shown in the portal without /catalog).",
            )
        raise connection_error(
            "invalid_endpoint",
            f"The Purview account URL must be the account root (https://{split.netloc}), without '{path}'.",
        )
    return f"https://{split.netloc.lower()}"


@dataclass
class ProvenConnection:
    purview_url: str
    collections: list[dict[str, Any]]
    credential: Any


def aadsts_code(exc: BaseException) -> int | None:
    """The AADSTS number anywhere on the exception chain (msal wraps a failed tenant discovery)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        match = re.search(r"AADSTS(\d+)", str(current))
        if match:
            return int(match.group(1))
        if "Unable to get authority configuration" in str(current):
            return 90002
        current = current.__cause__ or current.__context__
    return None


def acquire_token(credential: Any, *, managed_identity: bool) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError

    try:
        credential.get_token(PURVIEW_SCOPE)
    except ValueError as exc:  # azure-identity validates the tenant locally
        raise connection_error("tenant_mismatch", f"The Tenant ID is not valid. {TENANT_HINT}") from exc
    except CredentialUnavailableError as exc:
        raise connection_error(
            "authentication_failed",
            "The app's managed identity is not available here. Give the Function App a managed identity "
            "(or pass client_id and client_secret of an app registration).",
        ) from exc
    except ClientAuthenticationError as exc:
        code = aadsts_code(exc)
        log.info("token request refused by Entra (AADSTS%s)", code)
        if code in TENANT_CODES:
            detail = {
                700016: "The app (Client ID) was not found in that tenant.",
                90002: "The tenant was not found.",
            }.get(code or 0, "The tenant does not accept this app.")
            raise connection_error("tenant_mismatch", f"{detail} {TENANT_HINT}", aadsts=code) from None
        if managed_identity:
            raise connection_error(
                "authentication_failed",
                "The managed identity could not get a token for Purview. Check that the identity "
                "(client_id) is assigned to the Function App.",
                aadsts=code,
            ) from None
        detail = {
            7000215: "The client secret is not valid.",
            7000222: "The client secret has expired.",
        }.get(code or 0, "Entra ID refused the credentials.")
        raise connection_error("authentication_failed", f"{detail} {AUTH_HINT}", aadsts=code) from None


def prove_connection(
    *,
    purview_url: str,
    tenant_id: str,
    client_id: str | None,
    client_secret: str | None,
    domains: list[str],
    settings: Settings,
) -> ProvenConnection:
    """Raise a 422 ``ApiError`` naming the cause, or return the account's collections."""
    endpoint = normalise_endpoint(purview_url)
    if not host_allowed(endpoint, settings.purview_allowed_hosts):
        raise connection_error(
            "invalid_endpoint",
            f"{urlsplit(endpoint).netloc} is not a Purview data-plane host this app may call "
            f"(PURVIEW_ALLOWED_HOSTS: {', '.join(settings.purview_allowed_hosts)}). Use the account URL "
            "https://<account>.purview.azure.com or https://<tenant-id>-api.purview-service.microsoft.com.",
        )
    credential = make_credential(tenant_id, client_id, client_secret, settings)
    acquire_token(credential, managed_identity=not client_secret)
    client = PurviewClient(
        endpoint, credential, settings.purview_allowed_hosts, timeout=15, retry=RetryPolicy(max_attempts=3)
    )
    try:
        call_purview(client.probe, "the Data Map", "Data Curator", tenant_id=tenant_id)
        collections = call_purview(
            lambda: list(client.list_collections()),
            "the collections API",
            "Collection Admin",
            tenant_id=tenant_id,
        )
    finally:
        client.close()
    names = {c.get("name") for c in collections}
    unknown = [d for d in domains if d not in names]
    if unknown:
        valid = sorted(n for n in names if n)
        raise connection_error(
            "unknown_domain",
            f"These domains are not collections of this Purview account: {', '.join(unknown)}. "
            f"Use the collection names (not friendly names): {', '.join(valid)}.",
            unknown=unknown,
            valid=valid,
        )
    return ProvenConnection(purview_url=endpoint, collections=collections, credential=credential)


TOKEN_HINT = (
    "Purview did not accept the token: check that the Tenant ID is the tenant of the Purview account and "
    "that the app registration (or the Function App's managed identity) belongs to it."
)


def challenge_tenant(exc: HttpError) -> str | None:
    """The tenant a Purview 401 names in ``WWW-Authenticate`` (``authorization_uri=".../{tenant}"``)."""
    header = exc.headers.get("WWW-Authenticate") or exc.headers.get("www-authenticate") or ""
    found = re.search(r'authorization(?:_uri)?="https?://[^/"]+/([0-9A-Za-z.-]+)', header)
    return found.group(1).lower() if found else None


def purview_refusal(exc: HttpError, *, what: str, role: str, tenant_id: str | None) -> tuple[str, str, str]:
    """``(code, message, action)`` for a Purview 401 / 403 (reference §1.6): 401 is a token problem —
    ``tenant_mismatch`` when the challenge names another tenant than the token's, else
    ``authentication_failed``; 403 is a valid token without the role: ``insufficient_permissions``."""
    detail = error_text(exc.body)
    if exc.status == 401:
        theirs = challenge_tenant(exc)
        if theirs and tenant_id and theirs != tenant_id.lower():
            return (
                "tenant_mismatch",
                f"Purview refused {what} (HTTP 401): the Purview account belongs to tenant {theirs}, but the "
                f"token was issued by tenant {tenant_id}.",
                f"{TENANT_HINT} Use the tenant of the Purview account ({theirs}) and an app registration or "
                "managed identity of that tenant.",
            )
        return (
            "authentication_failed",
            f"Purview refused {what} (HTTP 401: {detail}): the token is missing, expired or not for Purview.",
            TOKEN_HINT,
        )
    return (
        "insufficient_permissions",
        f"Purview refused {what} (HTTP {exc.status}: {detail}); the {role} role is missing.",
        ROLES_HINT,
    )


def call_purview(fn: Any, what: str, role: str, *, tenant_id: str | None = None) -> Any:
    """Run a Purview call and turn its failure into the connection-check error a person can act on."""
    try:
        return fn()
    except HttpError as exc:
        if exc.status in (401, 403):
            code, message, action = purview_refusal(exc, what=what, role=role, tenant_id=tenant_id)
            raise connection_error(code, f"{message} {action}") from None
        if exc.status == 404:
            raise connection_error(
                "invalid_endpoint",
                "The URL answered 404: it is not a Purview data-plane endpoint. Use the account URL "
                "without /catalog.",
            ) from None
        raise connection_error(
            "invalid_endpoint", f"Purview answered HTTP {exc.status} for {what}; try again later."
        ) from None
    except requests.exceptions.SSLError:
        raise connection_error(
            "invalid_endpoint",
            "TLS failed for the Purview URL: the certificate is not trusted for that host.",
        ) from None
    except (requests.ConnectionError, requests.Timeout):
        raise connection_error(
            "invalid_endpoint", "The Purview URL cannot be reached (DNS or network): check the account name."
        ) from None

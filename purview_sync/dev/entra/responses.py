"""The Entra simulator's wire shapes: AADSTS errors as login.microsoftonline.com words them, the OIDC
discovery document, and the App Service managed-identity error body.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any, Literal

from purview_sync.dev.simserver import SimRequest, SimResponse, json_response

# error descriptions as login.microsoftonline.com words them (the first sentence is what users search for)
_AADSTS: dict[int, tuple[int, str, str]] = {
    90002: (
        400,
        "invalid_request",
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the "
        "correct cloud. Check with your subscription administrator, this may happen if there are no active "
        "subscriptions for the tenant.",
    ),
    900023: (
        400,
        "invalid_request",
        "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain.",
    ),
    700016: (
        400,
        "unauthorized_client",
        "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if "
        "the application has not been installed by the administrator of the tenant or consented to by any user in "
        "the tenant. You may have sent your authentication request to the wrong tenant.",
    ),
    7000215: (
        401,
        "invalid_client",
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
        "not the client secret ID, for a secret added to app '{client_id}'.",
    ),
    7000216: (
        401,
        "invalid_client",
        "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
    ),
    7000222: (
        401,
        "invalid_client",
        "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new "
        "keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added "
        "security: https://aka.ms/certCreds.",
    ),
    1002012: (
        400,
        "invalid_scope",
        "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with "
        "/.default suffixed to the resource identifier (application ID URI).",
    ),
    70003: (
        400,
        "unsupported_grant_type",
        "The app requested an unsupported grant type '{grant_type}'.",
    ),
    900144: (
        400,
        "invalid_request",
        "The request body must contain the following parameter: '{parameter}'.",
    ),
}


def _timestamp(now: float | None = None) -> str:
    moment = dt.datetime.fromtimestamp(now if now is not None else time.time(), dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def aadsts_error(code: int, req: SimRequest, **fields: str) -> SimResponse:
    """An error exactly in the token endpoint's shape, with Trace/Correlation ID lines."""
    status, error, template = _AADSTS[code]
    now = time.time()
    trace_id = str(uuid.uuid4())
    correlation_id = req.headers.get("client-request-id") or str(uuid.uuid4())
    stamp = _timestamp(now)
    description = (
        f"AADSTS{code}: {template.format(**fields)}\r\nTrace ID: {trace_id}\r\n"
        f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
    )
    body = {
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return json_response(body, status, **{"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})


def openid_configuration(base: str, version: Literal["v1", "v2"]) -> dict[str, Any]:
    """The OIDC discovery document of one tenant; ``base`` is ``{authority host}/{tenant id}``."""
    v2 = version == "v2"
    prefix = f"{base}/oauth2/v2.0" if v2 else f"{base}/oauth2"
    return {
        "token_endpoint": f"{prefix}/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/discovery/v2.0/keys" if v2 else f"{base}/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/v2.0" if v2 else f"{base}/",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{prefix}/authorize",
        "device_authorization_endpoint": f"{prefix}/devicecode",
        "end_session_endpoint": f"{prefix}/logout",
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }


def mi_error(status: int, message: str) -> SimResponse:
    body = {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
    return json_response(body, status)

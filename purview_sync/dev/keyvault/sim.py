"""KeyVaultSim: the Azure Key Vault simulator's secrets data plane over HTTPS: challenge authentication,
RBAC by object id, versions, soft delete, recover and purge, and the routes azure-keyvault-secrets calls.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from purview_sync.dev.keyvault.records import (
    NAME_RE,
    RECOVERABLE_DAYS,
    VAULT_APP_ID,
    VAULT_RESOURCE,
    Handler,
    RequestRecord,
    SecretVersion,
    StoredSecret,
    error_response,
)
from purview_sync.dev.simserver import SimRequest, SimResponse, SimServer, Simulator, json_response
from purview_sync.dev.tls import DevTLS


class KeyVaultSim(Simulator):
    """One vault's secrets over HTTPS, authorised with tokens from the Entra simulator.

    Why: integration secrets live in Key Vault when ``KEY_VAULT_URL`` is set. The product uses the real
    ``azure.keyvault.secrets.SecretClient``, whose ``ChallengeAuthPolicy`` first sends each request *without* a token,
    reads the ``WWW-Authenticate`` challenge (authority + tenant + resource) and only then asks the credential for a
    token. Soft delete also has consequences the product must handle (a deleted name stays reserved: 409 on set
    until purged). A fake ``SecretStore`` would prove neither; this simulator answers like the service does.

    What the product code must pass so that ``SecretClient`` (azure-keyvault-secrets 4.12) works against it:

    * ``SecretClient(vault_url, credential, verify_challenge_resource=False)``. The SDK checks that the challenge's
      ``resource`` domain (``vault.azure.net``) is a suffix of the vault host; ``127.0.0.1`` is not, so without
      the flag every request fails with ``ValueError("The challenge resource 'vault.azure.net' does not match the
      requested domain...")``. The product passes it only when the vault host is not ``*.vault.azure.net`` (or a
      sovereign-cloud vault suffix), keeping the check for real vaults.
    * ``REQUESTS_CA_BUNDLE`` pointing at ``DevTLS.bundle`` (azure-core's requests transport honours it).
    * A credential whose tokens this vault accepts: the simulator calls ``token_verifier`` (``EntraSim.verify``) and
      then checks ``aud`` (``https://vault.azure.net`` or the Key Vault app id) and ``tid`` (the vault's tenant). The
      challenge names ``{authority_url}/{tenant_id}``, so a ``ClientSecretCredential`` must be for that tenant (or
      allow it via ``additionally_allowed_tenants``), as against a real vault.

    Error bodies have Key Vault's shape ``{"error": {"code", "message"[, "innererror": {"code"}]}}``. The AKVnnnnn
    401 messages follow the service's wording as seen in public reports; treat the text as informative.
    """

    def __init__(
        self,
        tls: DevTLS,
        token_verifier: Callable[[str], dict[str, Any] | None],
        tenant_id: str,
        authority_url: str,
        *,
        port: int = 0,
    ) -> None:
        self.tls = tls
        self.token_verifier = token_verifier
        self.tenant_id = tenant_id.lower()
        self.authority_url = authority_url.rstrip("/")
        self.server = SimServer("keyvault", ssl_context=tls.server_context(), port=port)
        # None: any principal of the tenant may use the vault; a set: only these object ids (others get 403)
        self.allowed_object_ids: set[str] | None = None
        self.requests: list[RequestRecord] = []
        self._live: dict[str, StoredSecret] = {}  # lower-case name → secret (names are case-insensitive)
        self._deleted: dict[str, StoredSecret] = {}
        self._lock = threading.Lock()
        self._register_routes()

    # --- lifecycle -----------------------------------------------------------------------------
    @property
    def challenge(self) -> str:
        return f'Bearer authorization="{self.authority_url}/{self.tenant_id}", resource="{VAULT_RESOURCE}"'

    # --- test hooks ----------------------------------------------------------------------------
    @property
    def secrets(self) -> dict[str, str]:
        """Current value of every live (not deleted) secret, by name."""
        with self._lock:
            return {s.name: s.current.value for s in self._live.values()}

    @property
    def deleted_secrets(self) -> set[str]:
        with self._lock:
            return {s.name for s in self._deleted.values()}

    def set_secret(self, name: str, value: str, *, tags: dict[str, str] | None = None) -> str:
        """Seed a secret without HTTP; returns the new version."""
        with self._lock:
            return self._new_version(name, value, None, tags).version

    def reset(self) -> None:
        """Empty the vault and forget requests, grants, stats and faults (keeps the port)."""
        with self._lock:
            self._live.clear()
            self._deleted.clear()
            self.requests.clear()
        self.allowed_object_ids = None
        self.server.stats.clear()
        self.server.set_faults(latency_s=0.0, rate_limit_per_s=None, rate_burst=None, error_rate=0.0)

    def grant(self, object_id: str) -> None:
        """Restrict the vault to granted principals (like RBAC 'Key Vault Secrets Officer') and grant one."""
        if self.allowed_object_ids is None:
            self.allowed_object_ids = set()
        self.allowed_object_ids.add(object_id.lower())

    # --- state helpers (call with the lock held) -------------------------------------------------
    def _new_version(
        self, name: str, value: str, content_type: str | None, tags: dict[str, str] | None
    ) -> SecretVersion:
        now = int(time.time())
        secret = self._live.setdefault(name.lower(), StoredSecret(name))
        version = SecretVersion(uuid.uuid4().hex, value, content_type, tags, now, now)
        secret.versions.append(version)
        return version

    def _attributes(self, v: SecretVersion) -> dict[str, Any]:
        return {
            "enabled": v.enabled,
            "created": v.created,
            "updated": v.updated,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": RECOVERABLE_DAYS,
        }

    def _item(self, secret: StoredSecret, v: SecretVersion, *, versioned: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": f"{self.url}/secrets/{secret.name}" + (f"/{v.version}" if versioned else ""),
            "attributes": self._attributes(v),
        }
        if v.content_type:
            item["contentType"] = v.content_type
        if v.tags:
            item["tags"] = v.tags
        return item

    def _bundle(self, secret: StoredSecret, v: SecretVersion) -> dict[str, Any]:
        return {"value": v.value, **self._item(secret, v, versioned=True)}

    def _deleted_fields(self, secret: StoredSecret) -> dict[str, Any]:
        return {
            "recoveryId": f"{self.url}/deletedsecrets/{secret.name}",
            "deletedDate": secret.deleted_date,
            "scheduledPurgeDate": secret.scheduled_purge_date,
        }

    # --- auth ----------------------------------------------------------------------------------
    def _unauthorized(self, message: str) -> SimResponse:
        return error_response(401, "Unauthorized", message, **{"WWW-Authenticate": self.challenge})

    def _authenticate(self, req: SimRequest) -> dict[str, Any] | SimResponse:
        token = req.bearer()
        if not token:
            return self._unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
        claims = self.token_verifier(token)
        if claims is None:
            return self._unauthorized(
                "AKV10013: Invalid JWT token. The token is invalid, expired or not signed."
            )
        audience = str(claims.get("aud", "")).rstrip("/")
        if audience not in (VAULT_RESOURCE, VAULT_APP_ID):
            return self._unauthorized(
                f"AKV10022: Invalid audience. Expected {VAULT_RESOURCE}, found: {audience}."
            )
        if str(claims.get("tid", "")).lower() != self.tenant_id:
            return self._unauthorized(
                f"AKV10032: Invalid issuer. Expected one of {self.authority_url}/{self.tenant_id}/, "
                f"found {claims.get('iss')}."
            )
        oid = str(claims.get("oid", "")).lower()
        if self.allowed_object_ids is not None and oid not in self.allowed_object_ids:
            return error_response(
                403,
                "Forbidden",
                "Caller is not authorized to perform action on resource.\r\n"
                f"Caller: appid={claims.get('appid')};oid={oid};iss={claims.get('iss')}\r\n"
                "Assignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC'",
                "ForbiddenByRbac",
            )
        return claims

    def _guard(self, handler: Handler) -> Callable[[SimRequest], SimResponse]:
        """Authenticate, validate api-version and the secret name, run the handler, record the outcome."""

        def guarded(req: SimRequest) -> SimResponse:
            outcome = self._authenticate(req)
            claims = outcome if isinstance(outcome, dict) else None
            if isinstance(outcome, SimResponse):
                resp = outcome
            elif not req.arg("api-version"):
                resp = error_response(400, "BadParameter", "The 'api-version' query parameter is required.")
            elif "name" in req.params and not NAME_RE.match(req.params["name"]):
                resp = error_response(
                    400, "BadParameter", f"The request URI contains an invalid name: {req.params['name']}"
                )
            else:
                resp = handler(req, outcome)
            with self._lock:
                self.requests.append(
                    RequestRecord(req.method, req.path, resp.status, str(claims["oid"]) if claims else None)
                )
            return resp

        return guarded

    # --- handlers ------------------------------------------------------------------------------
    def _not_found(self, name: str, version: str | None = None) -> SimResponse:
        ident = f"{name}/{version}" if version else name
        return error_response(
            404,
            "SecretNotFound",
            f"A secret with (name/id) {ident} was not found in this key vault. If you recently deleted this secret "
            "you may be able to recover it using the correct recovery command. For help resolving this issue, "
            "please see https://go.microsoft.com/fwlink/?linkid=2125182",
        )

    def _set(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        name = req.params["name"]
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            return error_response(400, "BadParameter", "Property 'value' is required and must be a string.")
        tags = body.get("tags")
        if tags is not None and not isinstance(tags, dict):
            return error_response(400, "BadParameter", "Property 'tags' must be an object.")
        with self._lock:
            if name.lower() in self._deleted:
                return error_response(
                    409,
                    "Conflict",
                    f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; "
                    "in this state, the secret can only be recovered or purged.",
                    "ObjectIsDeletedButRecoverable",
                )
            version = self._new_version(name, body["value"], body.get("contentType"), tags)
            return json_response(self._bundle(self._live[name.lower()], version))

    def _get(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        name, wanted = req.params["name"], req.params.get("version") or None
        with self._lock:
            secret = self._live.get(name.lower())
            if secret is None:
                return self._not_found(name)
            version = (
                secret.current
                if wanted is None
                else next((v for v in secret.versions if v.version == wanted), None)
            )
            if version is None:
                return self._not_found(name, wanted)
            if not version.enabled:
                return error_response(
                    403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"
                )
            return json_response(self._bundle(secret, version))

    def _update(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        name, wanted = req.params["name"], req.params.get("version") or None
        body = req.json() or {}
        with self._lock:
            secret = self._live.get(name.lower())
            version = None
            if secret is not None:
                version = (
                    secret.current
                    if wanted is None
                    else next((v for v in secret.versions if v.version == wanted), None)
                )
            if secret is None or version is None:
                return self._not_found(name, wanted)
            if "contentType" in body:
                version.content_type = body["contentType"]
            if "tags" in body:
                version.tags = body["tags"]
            if "enabled" in (body.get("attributes") or {}):
                version.enabled = bool(body["attributes"]["enabled"])
            version.updated = int(time.time())
            return json_response(self._item(secret, version, versioned=True))

    def _delete(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        name = req.params["name"]
        now = int(time.time())
        with self._lock:
            secret = self._live.pop(name.lower(), None)
            if secret is None:
                return self._not_found(name)
            secret.deleted_date = now
            secret.scheduled_purge_date = now + RECOVERABLE_DAYS * 86400
            self._deleted[name.lower()] = secret
            return json_response({**self._bundle(secret, secret.current), **self._deleted_fields(secret)})

    def _get_deleted(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        name = req.params["name"]
        with self._lock:
            secret = self._deleted.get(name.lower())
            if secret is None:
                return error_response(404, "SecretNotFound", f"Deleted Secret not found: {name}")
            return json_response(
                {**self._item(secret, secret.current, versioned=True), **self._deleted_fields(secret)}
            )

    def _purge(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        name = req.params["name"]
        with self._lock:
            if self._deleted.pop(name.lower(), None) is None:
                return error_response(404, "SecretNotFound", f"Deleted Secret not found: {name}")
        return SimResponse(204)

    def _recover(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        name = req.params["name"]
        with self._lock:
            secret = self._deleted.pop(name.lower(), None)
            if secret is None:
                return error_response(404, "SecretNotFound", f"Deleted Secret not found: {name}")
            secret.deleted_date = secret.scheduled_purge_date = None
            self._live[name.lower()] = secret
            return json_response(self._bundle(secret, secret.current))

    def _list(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        with self._lock:
            items = [self._item(s, s.current, versioned=False) for s in self._live.values()]
        return json_response({"value": items, "nextLink": None})

    def _list_versions(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        name = req.params["name"]
        with self._lock:
            secret = self._live.get(name.lower())
            if secret is None:
                return self._not_found(name)
            items = [self._item(secret, v, versioned=True) for v in secret.versions]
        return json_response({"value": items, "nextLink": None})

    def _list_deleted(self, req: SimRequest, claims: dict[str, Any]) -> SimResponse:
        with self._lock:
            items = [
                {**self._item(s, s.current, versioned=False), **self._deleted_fields(s)}
                for s in self._deleted.values()
            ]
        return json_response({"value": items, "nextLink": None})

    def _register_routes(self) -> None:
        table: list[tuple[str, str, str, Handler]] = [
            ("GET", "/secrets", "list_secrets", self._list),
            ("GET", "/secrets/{name}/versions", "list_secret_versions", self._list_versions),
            ("PUT", "/secrets/{name}", "set_secret", self._set),
            ("GET", "/secrets/{name}", "get_secret", self._get),
            ("GET", "/secrets/{name}/", "get_secret", self._get),  # the SDK sends an empty version
            ("GET", "/secrets/{name}/{version}", "get_secret", self._get),
            ("PATCH", "/secrets/{name}/", "update_secret", self._update),
            ("PATCH", "/secrets/{name}/{version}", "update_secret", self._update),
            ("DELETE", "/secrets/{name}", "delete_secret", self._delete),
            ("GET", "/deletedsecrets", "list_deleted_secrets", self._list_deleted),
            ("GET", "/deletedsecrets/{name}", "get_deleted_secret", self._get_deleted),
            ("DELETE", "/deletedsecrets/{name}", "purge_deleted_secret", self._purge),
            ("POST", "/deletedsecrets/{name}/recover", "recover_deleted_secret", self._recover),
        ]
        for method, pattern, kind, handler in table:
            self.server.route(method, pattern, kind=kind)(self._guard(handler))

"""EntraSim: the Microsoft Entra ID simulator's servers (token endpoints, OIDC discovery, the App Service
managed-identity endpoint), its seeding API, and the JWTs it issues and verifies for the other simulators.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from typing import Any, Literal

import jwt

from purview_sync.dev.entra.directory import (
    DNS_RE,
    GUID_RE,
    TOKEN_LIFETIME_S,
    AppRegistration,
    ManagedIdentity,
    ManagedIdentityHost,
    Tenant,
    object_id_for,
)
from purview_sync.dev.entra.responses import aadsts_error, mi_error, openid_configuration
from purview_sync.dev.simserver import SimRequest, SimResponse, SimServer, Simulator, json_response
from purview_sync.dev.tls import DevTLS


class EntraSim(Simulator):
    """Entra ID over HTTPS plus the App Service managed-identity endpoint over HTTP.

    Why: the product authenticates with the *real* azure-identity (``ClientSecretCredential`` for an app
    registration, ``ManagedIdentityCredential`` for the Function App's identity). The tests must exercise that code
    over real sockets and TLS, and must see the real failure shapes (``AADSTSnnnn`` bodies) so that the product's
    error mapping (``authentication_failed`` / ``tenant_mismatch``) is proven, not assumed.

    What the product code must pass / set so that azure-identity 1.27 works against this simulator (checked
    against azure-identity 1.27.0 and msal 1.39.0 by ``tests/dev/entra/test_entra_sim.py``):

    * ``ClientSecretCredential(tenant_id, client_id, secret, authority=<AZURE_AUTHORITY_HOST>,
      disable_instance_discovery=True)``. ``authority`` is optional when ``AZURE_AUTHORITY_HOST`` is set
      (azure-identity reads it), but ``disable_instance_discovery=True`` is **required** for any authority host
      MSAL does not know: without it MSAL first asks ``https://login.microsoftonline.com/common/discovery/instance``
      about the host (offline: a DNS failure; online: ``invalid_instance``), both raised as
      ``ClientAuthenticationError``. The product passes it whenever the authority host is not a public/sovereign
      cloud host (the same rule as for Azure Stack). The authority must be ``https``; azure-identity refuses ``http``.
    * TLS trust: ``REQUESTS_CA_BUNDLE`` pointing at ``DevTLS.bundle``. azure-identity's transport is azure-core's
      ``RequestsTransport`` with ``trust_env`` on, so requests picks the bundle up; nothing has to be passed in code.
    * With an app registration MSAL makes exactly two calls: ``GET /{tenant}/v2.0/.well-known/openid-configuration``
      (once per credential and tenant) and ``POST <token_endpoint from that document>`` (form: ``client_id``,
      ``client_secret``, ``grant_type=client_credentials``, ``client_info=1``, ``scope=<resource>/.default``, and with
      ``enable_cae`` a ``claims`` parameter asking for the ``CP1`` capability — Key Vault's client does that).
    * Failures surface as ``azure.core.exceptions.ClientAuthenticationError``. Wrong secret (7000215), expired
      secret (7000222) and unknown app (700016) come from the token endpoint and the message carries the number:
      ``"Authentication failed: AADSTS7000215: Invalid client secret provided. ..."``.
      **An unknown tenant is different**: login.microsoftonline.com (and this simulator) already refuses OIDC
      discovery (400 ``invalid_tenant``, ``AADSTS90002``); msal 1.39 turns that into a *new* ``ValueError``
      ("Unable to get authority configuration for <authority>/<tenant>. ... double check your tenant name or GUID
      is correct."), so the ``ClientAuthenticationError`` message has **no** AADSTS number. The original body is
      still on the chain: ``exc.__cause__`` (msal's ValueError) ``.__context__`` is
      ``ValueError("OIDC Discovery failed on ... Error: {...AADSTS90002...}")``. Product code must therefore walk
      ``__cause__``/``__context__`` (or match "Unable to get authority configuration") to report ``tenant_mismatch``.
    * Managed identity: set ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` (see :meth:`EntraSim.env`) and use
      ``ManagedIdentityCredential()`` (system-assigned) or ``ManagedIdentityCredential(client_id=...)``
      (user-assigned). azure-identity then uses msal's App Service flow: ``GET <IDENTITY_ENDPOINT>?api-version=
      2019-08-01&resource=<resource>[&client_id=...]`` with header ``X-IDENTITY-HEADER``. As on App Service the
      endpoint is plain ``http`` (``http://127.0.0.1:<port>/msi/token``) on a second server, ``mi_server``.
      (An ``https`` endpoint would also work — the same requests transport honours ``REQUESTS_CA_BUNDLE`` — but
      App Service never serves one.) An App Service error (``{"statusCode", "message"}``) reaches the caller as
      ``CredentialUnavailableError`` (a ``ClientAuthenticationError``) with ``"(invalid_scope) <status>, <message>"``
      in its text: msal maps every App Service failure to ``invalid_scope``.

    Tokens are HS256 JWTs signed with a per-simulator random key; other simulators (Purview, Key Vault) call
    :meth:`EntraSim.verify` to authorise requests.
    """

    MI_PATH = "/msi/token"

    def __init__(self, tls: DevTLS, *, port: int = 0, mi_port: int = 0) -> None:
        self.tls = tls
        self.server = SimServer("entra", ssl_context=tls.server_context(), port=port)
        # App Service's managed-identity endpoint is plain http on the host, so this one is too
        self.mi_server = SimServer("entra-mi", port=mi_port)
        self.identity_header = secrets.token_urlsafe(24)
        self.token_lifetime_s = TOKEN_LIFETIME_S
        self.tenants: dict[str, Tenant] = {}
        self.apps: dict[tuple[str, str], AppRegistration] = {}  # (tenant id, client id lower) → app
        self.managed_identity: ManagedIdentityHost | None = None
        self.tokens_issued: list[dict[str, Any]] = []
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._register_routes()

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> EntraSim:
        self.server.start()
        self.mi_server.start()
        return self

    def stop(self) -> None:
        # each server's shutdown waits for its poll loop; stop both at once
        stoppers = [threading.Thread(target=server.stop) for server in (self.server, self.mi_server)]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()

    def reset(self) -> None:
        """Forget all tenants, apps, identities, issued tokens, stats and faults (keeps ports and signing key)."""
        with self._lock:
            self.tenants.clear()
            self.apps.clear()
            self.managed_identity = None
            self.tokens_issued.clear()
        self.token_lifetime_s = TOKEN_LIFETIME_S
        for server in (self.server, self.mi_server):
            server.stats.clear()
            server.set_faults(latency_s=0.0, rate_limit_per_s=None, rate_burst=None, error_rate=0.0)

    @property
    def identity_endpoint(self) -> str:
        return self.mi_server.url + self.MI_PATH

    def env(self) -> dict[str, str]:
        """Environment a client process needs to reach this simulator with stock azure-identity."""
        return {
            "AZURE_AUTHORITY_HOST": self.url,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
            "REQUESTS_CA_BUNDLE": str(self.tls.bundle),
            # for clients on the ssl default context (urllib, aiohttp) rather than requests
            "SSL_CERT_FILE": str(self.tls.bundle),
        }

    # --- seeding -------------------------------------------------------------------------------
    def add_tenant(self, tenant_id: str, *, domains: tuple[str, ...] = ()) -> Tenant:
        with self._lock:
            tenant = self.tenants.setdefault(tenant_id.lower(), Tenant(tenant_id.lower()))
            tenant.domains.update(d.lower() for d in domains)
            return tenant

    def add_app(
        self,
        tenant_id: str,
        client_id: str,
        secret: str,
        *,
        expired: bool = False,
        object_id: str | None = None,
    ) -> AppRegistration:
        """Register (or replace) an app with one client secret in ``tenant_id`` (created if missing)."""
        self.add_tenant(tenant_id)
        app = AppRegistration(tenant_id.lower(), client_id, secret, expired)
        if object_id is not None:
            app.object_id = object_id
        with self._lock:
            self.apps[(tenant_id.lower(), client_id.lower())] = app
        return app

    def set_managed_identity(
        self, tenant_id: str, *, system_client_id: str | None, user_assigned: list[str] | None = None
    ) -> ManagedIdentityHost:
        """Give the (simulated) Function App its identities; principal ids are derived from the client ids."""
        self.add_tenant(tenant_id)
        system = (
            ManagedIdentity(system_client_id, object_id_for(system_client_id), "system")
            if system_client_id
            else None
        )
        users = {cid.lower(): ManagedIdentity(cid, object_id_for(cid), "user") for cid in user_assigned or []}
        host = ManagedIdentityHost(tenant_id.lower(), system, users)
        with self._lock:
            self.managed_identity = host
        return host

    # --- tokens --------------------------------------------------------------------------------
    def issue_token(self, tenant_id: str, client_id: str, object_id: str, audience: str) -> tuple[str, dict]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": f"{self.url}/{tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime_s,
            "tid": tenant_id,
            "appid": client_id,
            "azp": client_id,
            "oid": object_id,
            "sub": object_id,
            "idtyp": "app",
            "ver": "2.0",
            "uti": secrets.token_urlsafe(16),
        }
        token = jwt.encode(claims, self._key, algorithm="HS256", headers={"kid": "entra-sim"})
        with self._lock:
            self.tokens_issued.append(claims)
        return token, claims

    def verify(self, token: str, audience: str | None = None) -> dict[str, Any] | None:
        """Claims of a token this simulator issued (signature, ``exp`` and, if given, ``aud`` checked), else None."""
        try:
            return jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=audience,
                options={"verify_aud": audience is not None},
                leeway=5,
            )
        except jwt.PyJWTError:
            return None

    # --- helpers -------------------------------------------------------------------------------
    def _resolve_tenant(self, value: str) -> Tenant | None:
        key = value.lower()
        with self._lock:
            if key in self.tenants:
                return self.tenants[key]
            return next((t for t in self.tenants.values() if key in t.domains), None)

    def _tenant_or_error(self, raw: str, req: SimRequest, *, discovery: bool = False) -> Tenant | SimResponse:
        tenant = self._resolve_tenant(raw)
        if tenant is not None:
            return tenant
        if not (GUID_RE.match(raw) or DNS_RE.match(raw)):
            return aadsts_error(900023, req, tenant=raw)
        resp = aadsts_error(90002, req, tenant=raw)
        if discovery:  # the discovery document answers with its own error name
            resp.body["error"] = "invalid_tenant"
        return resp

    def _openid_configuration(self, req: SimRequest, version: Literal["v1", "v2"]) -> SimResponse:
        found = self._tenant_or_error(req.params["tenant"], req, discovery=True)
        if isinstance(found, SimResponse):
            return found
        return json_response(openid_configuration(f"{self.url}/{found.tenant_id}", version))

    def _client_credentials(self, req: SimRequest) -> tuple[str | None, str | None]:
        form = req.form()
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("basic "):  # client_secret_basic
            decoded = base64.b64decode(auth[6:].strip()).decode("utf-8")
            basic_id, _, basic_secret = decoded.partition(":")
            client_id, secret = client_id or basic_id, secret or basic_secret
        return client_id, secret

    def _token(self, req: SimRequest, version: Literal["v1", "v2"]) -> SimResponse:
        found = self._tenant_or_error(req.params["tenant"], req)
        if isinstance(found, SimResponse):
            return found
        form = req.form()
        grant_type = form.get("grant_type")
        if not grant_type:
            return aadsts_error(900144, req, parameter="grant_type")
        if grant_type != "client_credentials":
            return aadsts_error(70003, req, grant_type=grant_type)
        client_id, secret = self._client_credentials(req)
        if not client_id:
            return aadsts_error(900144, req, parameter="client_id")
        if version == "v2":
            scope = form.get("scope")
            if not scope:
                return aadsts_error(900144, req, parameter="scope")
            resources = [s for s in scope.split() if s.endswith("/.default")]
            if len(resources) != 1:
                return aadsts_error(1002012, req, scope=scope)
            audience = resources[0][: -len("/.default")]
        else:
            resource = form.get("resource")
            if not resource:
                return aadsts_error(900144, req, parameter="resource")
            audience = resource
        with self._lock:
            app = self.apps.get((found.tenant_id, client_id.lower()))
        if app is None:
            return aadsts_error(700016, req, client_id=client_id, tenant=req.params["tenant"])
        if not secret:
            return aadsts_error(7000216, req)
        if not secrets.compare_digest(secret.encode(), app.secret.encode()):
            return aadsts_error(7000215, req, client_id=client_id)
        if app.expired:
            return aadsts_error(7000222, req, client_id=client_id)
        token, claims = self.issue_token(found.tenant_id, app.client_id, app.object_id, audience)
        lifetime = claims["exp"] - claims["iat"]
        body: dict[str, Any]
        if version == "v2":
            body = {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            }
        else:  # v1 answers every number as a string
            body = {
                "token_type": "Bearer",
                "expires_in": str(lifetime),
                "ext_expires_in": str(lifetime),
                "expires_on": str(claims["exp"]),
                "not_before": str(claims["nbf"]),
                "resource": audience,
                "access_token": token,
            }
        return json_response(body, **{"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    def _managed_identity_token(self, req: SimRequest) -> SimResponse:
        """App Service / Functions managed-identity protocol, api-version 2019-08-01."""
        header = req.headers.get("x-identity-header")
        if not header or not secrets.compare_digest(header.encode(), self.identity_header.encode()):
            return mi_error(401, "The X-IDENTITY-HEADER request header is missing or invalid.")
        if req.arg("api-version") != "2019-08-01":
            return mi_error(400, f"Unsupported api-version '{req.arg('api-version')}'.")
        resource = req.arg("resource")
        if not resource:
            return mi_error(400, "Required query parameter 'resource' is missing.")
        host = self.managed_identity
        if req.arg("mi_res_id") is not None:  # resource ids are not modelled: no identity answers to one
            identity = None
        else:
            identity = (
                host.find(req.arg("client_id"), req.arg("object_id") or req.arg("principal_id"))
                if host
                else None
            )
        if host is None or identity is None:
            return mi_error(400, "Unable to load the proper Managed Identity.")
        token, claims = self.issue_token(host.tenant_id, identity.client_id, identity.object_id, resource)
        body = {
            "access_token": token,
            "expires_on": str(claims["exp"]),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        }
        return json_response(body)

    def _register_routes(self) -> None:
        route = self.server.route

        @route("GET", "/{tenant}/v2.0/.well-known/openid-configuration", kind="openid_configuration")
        def openid_v2(req: SimRequest) -> SimResponse:
            return self._openid_configuration(req, "v2")

        @route("GET", "/{tenant}/.well-known/openid-configuration", kind="openid_configuration")
        def openid_v1(req: SimRequest) -> SimResponse:
            return self._openid_configuration(req, "v1")

        @route("GET", "/{tenant}/discovery/v2.0/keys", kind="keys")
        def keys_v2(req: SimRequest) -> SimResponse:
            return json_response({"keys": []})  # HS256: nothing public to publish

        @route("GET", "/{tenant}/discovery/keys", kind="keys")
        def keys_v1(req: SimRequest) -> SimResponse:
            return json_response({"keys": []})

        @route("POST", "/{tenant}/oauth2/v2.0/token", kind="token")
        def token_v2(req: SimRequest) -> SimResponse:
            return self._token(req, "v2")

        @route("POST", "/{tenant}/oauth2/token", kind="token")
        def token_v1(req: SimRequest) -> SimResponse:
            return self._token(req, "v1")

        @self.mi_server.route("GET", self.MI_PATH, kind="managed_identity_token")
        def managed_identity_token(req: SimRequest) -> SimResponse:
            return self._managed_identity_token(req)

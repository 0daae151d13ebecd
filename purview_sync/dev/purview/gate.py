"""Gate: what every Purview simulator request passes through: URL length, bearer token, audience, tenant,
api-version, collection roles, the call log, and the request-parsing helpers the route handlers share.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from purview_sync.dev.purview.records import (
    Caller,
    Entity,
    HttpError,
    SimCall,
    atlas_error,
    bad_params,
    gateway_error,
)
from purview_sync.dev.purview.render import Rendering
from purview_sync.dev.purview.vocab import (
    ACCOUNT_API_VERSIONS,
    AUDIENCES,
    DATAMAP_API_VERSIONS,
    MAX_URL_LENGTH,
    POLICY_API_VERSIONS,
    PURVIEW_AUDIENCE,
    READ_ROLES,
)
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response


class Gate(Rendering):
    """Authentication, authorisation and the ``_route`` decorator that wraps every handler."""

    def _authenticate(self, req: SimRequest) -> Caller:
        authority = f"https://login.microsoftonline.com/{self.tenant_id}"
        challenge = f'Bearer authorization_uri="{authority}", error="invalid_token"'
        token = req.bearer()
        if not token:
            raise gateway_error(
                401,
                "Unauthorized",
                "Authentication failed: no bearer token",
                **{"WWW-Authenticate": "Bearer"},
            )
        claims = self.token_verifier(token)
        if not claims:
            raise gateway_error(
                401,
                "Unauthorized",
                "Authentication failed: the token is invalid or expired",
                **{"WWW-Authenticate": challenge},
            )
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp < time.time():
            raise gateway_error(
                401,
                "Unauthorized",
                "Authentication failed: the token is expired",
                **{"WWW-Authenticate": challenge},
            )
        if claims.get("aud") not in AUDIENCES:
            raise gateway_error(
                401,
                "Unauthorized",
                f"Authentication failed: invalid audience {claims.get('aud')!r}; expected {PURVIEW_AUDIENCE}",
                **{"WWW-Authenticate": challenge},
            )
        if str(claims.get("tid", "")).lower() != self.tenant_id.lower():
            raise gateway_error(
                401,
                "Unauthorized",
                "Authentication failed: the token was issued for another tenant",
                **{"WWW-Authenticate": challenge},
            )
        ids = tuple(str(claims[k]) for k in ("appid", "azp", "oid") if claims.get(k))
        caller = Caller(principal=ids[0] if ids else "unknown", ids=ids, claims=claims)
        with self._lock:
            if not any(roles for pid in ids for roles in self._grants.get(pid, {}).values()):
                raise gateway_error(403, "Unauthorized", "Not authorized to access account")
        return caller

    def _roles_on(self, caller: Caller, collection: str) -> set[str]:
        roles: set[str] = set()
        chain = self._collection_chain(collection)
        for pid in caller.ids:
            grants = self._grants.get(pid, {})
            for name in chain:
                roles |= grants.get(name, set())
        return roles

    def _any_role(self, caller: Caller, wanted: Iterable[str]) -> bool:
        wanted = set(wanted)
        return any(wanted & roles for pid in caller.ids for roles in self._grants.get(pid, {}).values())

    def _readable_collections(self, caller: Caller) -> set[str] | None:
        """None = everything (read role on the root); else the collections a read role reaches."""
        if self._roles_on(caller, self.account) & READ_ROLES:
            return None
        return {name for name in self._collections if self._roles_on(caller, name) & READ_ROLES}

    def _require_read(self, caller: Caller, entity: Entity) -> None:
        if not self._roles_on(caller, entity.collection) & READ_ROLES:
            raise atlas_error(
                403,
                "ATLAS-403-00-001",
                f"{caller.principal} is not authorized to perform read entity: guid={entity.guid}",
            )

    def _require_curator(self, caller: Caller, collection: str, action: str) -> None:
        if "data_curator" not in self._roles_on(caller, collection):
            raise atlas_error(
                403, "ATLAS-403-00-001", f"{caller.principal} is not authorized to perform {action}"
            )

    # --- routing ----------------------------------------------------------------------------------------
    def _route(
        self,
        method: str,
        pattern: str,
        kind: str,
        *,
        plane: str = "datamap",
        api_version_required: bool = False,
    ) -> Callable[[Callable[[SimRequest, Caller], SimResponse]], Callable[[SimRequest, Caller], SimResponse]]:
        prefix = {"datamap": "/datamap/api", "account": "/account", "policystore": "/policystore"}[plane]
        versions = {"datamap": DATAMAP_API_VERSIONS, "policystore": POLICY_API_VERSIONS}.get(
            plane, ACCOUNT_API_VERSIONS
        )

        def register(
            fn: Callable[[SimRequest, Caller], SimResponse],
        ) -> Callable[[SimRequest, Caller], SimResponse]:
            def handler(req: SimRequest) -> SimResponse:
                caller: Caller | None = None
                try:
                    url_length = len(req.path) + 1 + len(urlencode(req.query, doseq=True))
                    if url_length > MAX_URL_LENGTH:
                        # The real front end answers with an HTML page, not JSON (hence the SDK's
                        # "JSON decode error" in azure-sdk-for-python#39935).
                        html = (
                            "<html><head><title>414 Request-URI Too Large</title></head><body>"
                            "<center><h1>414 Request-URI Too Large</h1></center></body></html>"
                        )
                        resp = SimResponse(414, html, {"Content-Type": "text/html"})
                    else:
                        caller = self._authenticate(req)
                        self._check_api_version(req, plane, versions, api_version_required)
                        with self._lock:
                            resp = fn(req, caller)
                except HttpError as exc:
                    resp = exc.response
                self.calls.append(
                    SimCall(
                        req.method,
                        req.path,
                        req.query,
                        resp.status,
                        caller.principal if caller else None,
                        req.body,
                    )
                )
                return resp

            self.server.route(method, prefix + pattern, kind)(handler)
            return fn

        return register

    def _check_api_version(
        self, req: SimRequest, plane: str, versions: frozenset[str], required: bool
    ) -> None:
        version = req.arg("api-version")
        if version is None:
            if required:
                raise HttpError(
                    400,
                    {
                        "error": {
                            "code": "MissingApiVersionParameter",
                            "message": "The api-version query parameter (?api-version=) is required for all "
                            "requests.",
                        }
                    },
                )
            return
        if version not in versions or (
            plane == "account" and version in self.knobs.refused_account_api_versions
        ):
            raise HttpError(
                400,
                {
                    "error": {
                        "code": "UnsupportedApiVersion",
                        "message": f"The requested api-version '{version}' is not supported by the {plane} "
                        "API. "
                        f"Supported versions: {', '.join(sorted(versions))}.",
                    }
                },
            )

    def _json_body(self, req: SimRequest) -> Any:
        try:
            return req.json()
        except ValueError as exc:
            raise bad_params(f"request body is not valid JSON ({exc})") from None

    def _entity_or_404(self, guid: str) -> Entity:
        entity = self._entities.get(guid)
        if entity is None:
            raise atlas_error(404, "ATLAS-404-00-005", f"Given instance guid {guid} is invalid/not found")
        return entity

    def _ext_response(self, req: SimRequest, entities: list[Entity], *, single: bool) -> SimResponse:
        """``AtlasEntityWithExtInfo`` (one) or ``AtlasEntitiesWithExtInfo`` (many), honouring the query flags."""
        rendered, referred = self._ext_info(
            entities,
            min_ext=self._bool_arg(req, "minExtInfo"),
            ignore_rel=self._bool_arg(req, "ignoreRelationships"),
        )
        key, value = ("entity", rendered[0]) if single else ("entities", rendered)
        return json_response({"referredEntities": referred, key: value})

    def _bool_arg(self, req: SimRequest, name: str, default: bool = False) -> bool:
        value = req.arg(name)
        if value is None or value == "":
            return default
        if value.lower() not in ("true", "false"):
            raise bad_params(f"{name} must be true or false")
        return value.lower() == "true"

    def _require_entity_type(self, type_name: str) -> None:
        if type_name not in self._defs["ENTITY"]:
            raise atlas_error(400, "ATLAS-400-00-014", f"Type ENTITY with name {type_name} does not exist")

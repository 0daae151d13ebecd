"""CollectionRoutes: the Purview simulator's Account-plane collection routes (list, get, path, children)
with their skipToken paging.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlencode

from purview_sync.dev.purview.gate import Gate
from purview_sync.dev.purview.records import Caller, Collection, account_error, b64, gateway_error, unb64
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response


class CollectionRoutes(Gate):
    """Routes under ``/account/collections``."""

    def _register_collection_routes(self) -> None:
        route = self._route

        # ---- account plane: collections ----
        def require_collection_admin(caller: Caller) -> None:
            if not self._any_role(caller, {"collection_admin"}):
                raise gateway_error(403, "Unauthorized", "Not authorized to access account")

        def collection_or_404(req: SimRequest) -> Collection:
            name = unquote(req.params["name"])
            found = self._collections.get(name)
            if found is None:
                raise account_error(404, "NotFound", f"Collection {name} not found.", target=name)
            return found

        def page(req: SimRequest, items: list[Any], path: str) -> dict[str, Any]:
            skip = 0
            token = req.arg("$skipToken")
            if token:
                try:
                    skip = int(unb64(token)["skip"])
                except (ValueError, KeyError, TypeError):
                    raise account_error(400, "InvalidSkipToken", "The $skipToken is not valid.") from None
            size = max(1, self.collections_page_size)
            out: dict[str, Any] = {"count": len(items), "value": items[skip : skip + size]}
            if skip + size < len(items):
                query = urlencode(
                    {"api-version": req.arg("api-version"), "$skipToken": b64({"skip": skip + size})}
                )
                out["nextLink"] = f"{self.url}/account{path}?{query}"
            return out

        @route("GET", "/collections", "collections_list", plane="account", api_version_required=True)
        def collections_list(req: SimRequest, caller: Caller) -> SimResponse:
            require_collection_admin(caller)
            items = [self._collection_json(c) for c in self._collections.values()]
            return json_response(page(req, items, "/collections"))

        @route("GET", "/collections/{name}", "collections_get", plane="account", api_version_required=True)
        def collections_get(req: SimRequest, caller: Caller) -> SimResponse:
            require_collection_admin(caller)
            return json_response(self._collection_json(collection_or_404(req)))

        @route(
            "GET",
            "/collections/{name}/getCollectionPath",
            "collections_path",
            plane="account",
            api_version_required=True,
        )
        def collections_path(req: SimRequest, caller: Caller) -> SimResponse:
            require_collection_admin(caller)
            chain = list(reversed(self._collection_chain(collection_or_404(req).name)))[:-1]
            return json_response(
                {
                    "parentNameChain": chain,
                    "parentFriendlyNameChain": [self._collections[n].friendly_name for n in chain],
                }
            )

        @route(
            "GET",
            "/collections/{name}/getChildCollectionNames",
            "collections_children",
            plane="account",
            api_version_required=True,
        )
        def collections_children(req: SimRequest, caller: Caller) -> SimResponse:
            require_collection_admin(caller)
            parent = collection_or_404(req).name
            items = [
                {"name": c.name, "friendlyName": c.friendly_name}
                for c in self._collections.values()
                if c.parent == parent
            ]
            return json_response(page(req, items, f"/collections/{parent}/getChildCollectionNames"))

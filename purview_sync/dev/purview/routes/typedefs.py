"""TypedefRoutes: the Purview simulator's type-system routes (typedefs list, headers, create, update, and
each def by name or guid).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from purview_sync.dev.purview.gate import Gate
from purview_sync.dev.purview.records import Caller, atlas_error
from purview_sync.dev.purview.typesystem import TypedefRules
from purview_sync.dev.purview.vocab import CATEGORIES, READ_ROLES
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response


class TypedefRoutes(Gate, TypedefRules):
    """Routes under ``/atlas/v2/types``."""

    def _register_typedef_routes(self) -> None:
        route = self._route

        # ---- typedefs ----
        def require_type_reader(caller: Caller) -> None:
            if not self._any_role(caller, READ_ROLES):
                raise atlas_error(
                    403, "ATLAS-403-00-001", f"{caller.principal} is not authorized to perform read type"
                )

        def type_filter(req: SimRequest) -> str | None:
            wanted = req.arg("type")
            if not wanted:
                return None
            category = wanted.upper()
            if category not in CATEGORIES.values() and category not in (
                "PRIMITIVE",
                "OBJECT_ID_TYPE",
                "ARRAY",
                "MAP",
            ):
                raise atlas_error(400, "ATLAS-400-00-015", f"Type Category {wanted} is invalid")
            return category

        @route("GET", "/atlas/v2/types/typedefs", "typedefs_get")
        def typedefs_get(req: SimRequest, caller: Caller) -> SimResponse:
            require_type_reader(caller)
            category = type_filter(req)
            out: dict[str, Any] = {key: [] for key in CATEGORIES}
            for key, cat in CATEGORIES.items():
                if category is None or category == cat:
                    out[key] = [copy.deepcopy(d) for d in self._defs[cat].values()]
            return json_response(out)

        @route("GET", "/atlas/v2/types/typedefs/headers", "typedef_headers")
        def typedef_headers(req: SimRequest, caller: Caller) -> SimResponse:
            require_type_reader(caller)
            category = type_filter(req)
            return json_response(
                [
                    {"category": cat, "guid": d["guid"], "name": d["name"]}
                    for cat, defs in self._defs.items()
                    if category is None or category == cat
                    for d in defs.values()
                ]
            )

        @route("POST", "/atlas/v2/types/typedefs", "typedefs_create")
        def typedefs_create(req: SimRequest, caller: Caller) -> SimResponse:
            self._require_curator(
                caller, self.account, "create typedefs (needs Data Curator on the root collection)"
            )
            return json_response(
                self._apply_typedefs(self._json_body(req), update=False, who=caller.principal)
            )

        @route("PUT", "/atlas/v2/types/typedefs", "typedefs_update")
        def typedefs_update(req: SimRequest, caller: Caller) -> SimResponse:
            self._require_curator(
                caller, self.account, "update typedefs (needs Data Curator on the root collection)"
            )
            return json_response(
                self._apply_typedefs(self._json_body(req), update=True, who=caller.principal)
            )

        def def_by_name(category: str | None) -> Callable[[SimRequest, Caller], SimResponse]:
            def handler(req: SimRequest, caller: Caller) -> SimResponse:
                require_type_reader(caller)
                name = unquote(req.params["name"])
                found = self._find_def(name)
                if self._def_lag.get(name):  # knob typedef_read_lag: created, but not readable here yet
                    self._def_lag[name] -= 1
                    found = None
                if found is None or (category is not None and found[0] != category):
                    raise atlas_error(404, "ATLAS-404-00-001", f"Given typename {name} was invalid")
                return json_response(copy.deepcopy(found[1]))

            return handler

        def def_by_guid(category: str | None) -> Callable[[SimRequest, Caller], SimResponse]:
            def handler(req: SimRequest, caller: Caller) -> SimResponse:
                require_type_reader(caller)
                guid = req.params["guid"]
                found = self._def_guids.get(guid)
                if found is None or (category is not None and found[0] != category):
                    raise atlas_error(404, "ATLAS-404-00-002", f"Given type guid {guid} was invalid")
                return json_response(copy.deepcopy(self._defs[found[0]][found[1]]))

            return handler

        for segment, category in (
            ("businessmetadatadef", "BUSINESS_METADATA"),
            ("classificationdef", "CLASSIFICATION"),
            ("entitydef", "ENTITY"),
            ("enumdef", "ENUM"),
            ("structdef", "STRUCT"),
            ("relationshipdef", "RELATIONSHIP"),
            ("typedef", None),
        ):
            route("GET", f"/atlas/v2/types/{segment}/name/{{name}}", f"{segment}_by_name")(
                def_by_name(category)
            )
            route("GET", f"/atlas/v2/types/{segment}/guid/{{guid}}", f"{segment}_by_guid")(
                def_by_guid(category)
            )

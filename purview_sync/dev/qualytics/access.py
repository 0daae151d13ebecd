"""The Qualytics simulator's access side: the service user's role and team permissions, the lineage add-on,
and the one lineage read route — with the knobs tests turn.

What the references say (``qualytics-api.md`` §1, ``qualytics-lineage.md`` §1.1) and what is chosen here:

* ``GET /api/users/me`` → the token's user ``{id, created, user_id, email, name, role, teams: [{id,
  created, name}]}`` (the ``User`` model; ``role`` Member < Manager < Admin in 2026, Viewer/Editor/Admin in
  the 2023 enum). Knob: ``user`` (a dict; change ``role`` / ``teams``).
* Team permissions **Editor** (create, edit, delete tags; update a datastore) and **Reporter** (read the
  quality-score history) [C]. Where a user's permissions show in the API is [?]: ``users/me`` does not list
  them (the ``Team`` model is ``{id, created, name}``). Knob: ``team_permissions`` (default ``{"Editor",
  "Reporter"}``); a route that needs one the user lacks answers 403 ``{"detail": ...}``. An ``Admin`` holds
  every permission [I].
* The lineage **add-on**: every lineage endpoint answers 403 when it is off [C]. Knob: ``lineage_addon``
  (default on). The only read route served is ``GET /api/lineage/edges`` (paged ``{items, total, page, size,
  pages}``; its path is [I], inferred from ``POST /api/lineage/edges`` — the graph query's path is [?]);
  knob ``lineage_read_route = False`` makes it answer 404 as an unknown route would. Edges themselves are
  ``lineage_edges`` (a list of edge dicts), empty unless a test seeds some.
"""

from __future__ import annotations

from typing import Any

from purview_sync.dev.qualytics.wire import ApiError, Query, page_of
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response

TEAM_PERMISSIONS = ("Editor", "Reporter")


class AccessRoutes:
    """Role and permission checks the route wrapper applies, and the lineage read route."""

    user: dict[str, Any]

    def _reset_access(self) -> None:
        self.team_permissions: set[str] = set(TEAM_PERMISSIONS)
        self.lineage_addon = True
        self.lineage_read_route = True
        self.lineage_edges: list[dict[str, Any]] = []

    def _authorize(self, needs: str | None) -> None:
        if needs is None:
            return
        if needs == "lineage":
            if not self.lineage_addon:
                raise ApiError(403, "The Lineage add-on is not enabled for this deployment")
            return
        if self.user.get("role") == "Admin" or needs in self.team_permissions:
            return
        raise ApiError(403, f"The {needs} team permission is required for this operation")

    def _list_lineage_edges(self, req: SimRequest) -> SimResponse:
        if not self.lineage_read_route:
            return json_response({"detail": "Not Found"}, 404)
        self._authorize("lineage")
        q = Query(req)
        page, size = q.page()
        q.done()
        return json_response(page_of(list(self.lineage_edges), page, size, dict))

"""GET /api/health — anonymous liveness plus storage reachability."""

from __future__ import annotations

import azure.functions as func

from purview_sync.api.http import json_response
from purview_sync.app.services import get_services

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    storage = get_services().storage.ping()
    healthy = all(state == "ok" for state in storage.values())
    return json_response(
        {"status": "ok" if healthy else "degraded", "storage": storage}, 200 if healthy else 503
    )

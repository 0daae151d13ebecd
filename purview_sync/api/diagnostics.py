"""HTTP: what an integration can and cannot do on the real services (read-only checks)."""

from __future__ import annotations

import azure.functions as func

from purview_sync.api.http import handles_errors, json_response
from purview_sync.app.diagnostics import diagnose
from purview_sync.app.services import get_services

bp = func.Blueprint()


@bp.route(route="integrations/{id}/diagnostics", methods=["GET"])
@handles_errors
def get_diagnostics(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(diagnose(get_services(), req.route_params["id"]))

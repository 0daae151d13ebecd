"""GET /api/openapi.json — the OpenAPI 3 description of every route."""

from __future__ import annotations

import azure.functions as func

from purview_sync.api.http import json_response
from purview_sync.api.openapi_document import openapi_document

bp = func.Blueprint()


@bp.route(route="openapi.json", methods=["GET"])
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(openapi_document())

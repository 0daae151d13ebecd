"""HTTP: connect, read, edit, delete integrations and list their Purview collections."""

from __future__ import annotations

import azure.functions as func

from purview_sync.api.http import handles_errors, json_response
from purview_sync.app import integrations
from purview_sync.app.services import get_services
from purview_sync.models import ConnectRequest, PatchRequest, parse_body

bp = func.Blueprint()


@bp.route(route="integrations", methods=["POST"])
@handles_errors
def create_integration(req: func.HttpRequest) -> func.HttpResponse:
    body = parse_body(ConnectRequest, req.get_body())
    return json_response(integrations.connect(get_services(), body).to_api(), 201)


@bp.route(route="integrations", methods=["GET"])
@handles_errors
def list_integrations(req: func.HttpRequest) -> func.HttpResponse:
    return json_response({"items": [i.to_api() for i in get_services().integrations.list()]})


@bp.route(route="integrations/{id}", methods=["GET"])
@handles_errors
def get_integration(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(integrations.load(get_services(), req.route_params["id"]).to_api())


@bp.route(route="integrations/{id}", methods=["PATCH"])
@handles_errors
def update_integration(req: func.HttpRequest) -> func.HttpResponse:
    services = get_services()
    integrations.load(services, req.route_params["id"])  # 404 before 400 for an unknown id
    body = parse_body(PatchRequest, req.get_body())
    return json_response(integrations.update(services, req.route_params["id"], body).to_api())


@bp.route(route="integrations/{id}", methods=["DELETE"])
@handles_errors
def delete_integration(req: func.HttpRequest) -> func.HttpResponse:
    integrations.delete(get_services(), req.route_params["id"])
    return func.HttpResponse(status_code=204)


@bp.route(route="integrations/{id}/collections", methods=["GET"])
@handles_errors
def list_collections(req: func.HttpRequest) -> func.HttpResponse:
    return json_response({"items": integrations.collections(get_services(), req.route_params["id"])})

"""HTTP: start, cancel and read syncs."""

from __future__ import annotations

import azure.functions as func

from purview_sync.api.http import handles_errors, json_response
from purview_sync.app import runs
from purview_sync.app.integrations import load
from purview_sync.app.services import get_services
from purview_sync.models import SyncRequest, parse_body

bp = func.Blueprint()


@bp.route(route="integrations/{id}/sync", methods=["POST"])
@handles_errors
def start_sync(req: func.HttpRequest) -> func.HttpResponse:
    services = get_services()
    load(services, req.route_params["id"])
    body = parse_body(SyncRequest, req.get_body())
    return json_response(runs.start_sync(services, req.route_params["id"], body), 202)


@bp.route(route="integrations/{id}/cancel", methods=["POST"])
@handles_errors
def cancel_sync(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(runs.cancel_sync(get_services(), req.route_params["id"]), 202)


@bp.route(route="integrations/{id}/syncs", methods=["GET"])
@handles_errors
def list_syncs(req: func.HttpRequest) -> func.HttpResponse:
    return json_response({"items": runs.list_runs(get_services(), req.route_params["id"])})


@bp.route(route="integrations/{id}/syncs/{run_id}", methods=["GET"])
@handles_errors
def get_sync(req: func.HttpRequest) -> func.HttpResponse:
    services = get_services()
    integration = load(services, req.route_params["id"])
    view = runs.run_view(services, integration.id, req.route_params["run_id"], with_datastores=True)
    return json_response(view)

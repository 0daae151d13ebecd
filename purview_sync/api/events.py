"""Event-driven push: POST /api/events, the ``qualytics-events`` queue and the internal due-push queue."""

from __future__ import annotations

import azure.functions as func

from purview_sync.api.http import handles_errors, json_response
from purview_sync.app import events
from purview_sync.app.event_intake import parse_event
from purview_sync.app.services import get_services
from purview_sync.storage.clients import QUEUE_EVENT_PUSH, QUEUE_EVENTS

bp = func.Blueprint()


@bp.route(route="events", methods=["POST"])
@handles_errors
def post_event(req: func.HttpRequest) -> func.HttpResponse:
    event = parse_event(req.get_body())  # a Flow's JSON or text message too (app/event_intake.py)
    events.accept(get_services(), event)
    return json_response({"status": "accepted", "event": event.model_dump()}, 202)


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_EVENTS, connection="AzureWebJobsStorage")
def process_event(msg: func.QueueMessage) -> None:
    events.handle_event(get_services(), msg.get_body())


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_EVENT_PUSH, connection="AzureWebJobsStorage")
def process_event_push(msg: func.QueueMessage) -> None:
    events.handle_push_due(get_services(), msg.get_body())

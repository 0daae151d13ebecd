"""Queue: process one datastore of a sync run (``purview-sync-datastore``)."""

from __future__ import annotations

import azure.functions as func
from pydantic import ValidationError

from purview_sync import telemetry
from purview_sync.app import processing
from purview_sync.app.services import get_services
from purview_sync.hostconfig import max_dequeue_count
from purview_sync.models import DatastoreMessage
from purview_sync.storage.clients import QUEUE_DATASTORE

bp = func.Blueprint()


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_DATASTORE, connection="AzureWebJobsStorage")
def process_datastore(msg: func.QueueMessage) -> None:
    try:
        message = DatastoreMessage.model_validate_json(msg.get_body())
    except ValidationError as exc:
        raise ValueError(f"malformed {QUEUE_DATASTORE} message {msg.id}: {exc.errors()[0]['msg']}") from None
    with telemetry.span(
        telemetry.SPAN_DATASTORE,
        integration_id=message.integration_id,
        run_id=message.run_id,
        datastore_id=message.datastore_id,
        dequeue_count=msg.dequeue_count or 1,
    ):
        processing.process_datastore(
            get_services(),
            message,
            dequeue_count=msg.dequeue_count or 1,
            max_dequeue_count=max_dequeue_count(),
            message_id=msg.id,
        )

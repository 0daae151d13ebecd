"""Azure Functions entry point: the FunctionApp and its blueprints, nothing else."""

import azure.functions as func

from purview_sync.api.diagnostics import bp as diagnostics_bp
from purview_sync.api.events import bp as events_bp
from purview_sync.api.health import bp as health_bp
from purview_sync.api.integrations import bp as integrations_bp
from purview_sync.api.openapi import bp as openapi_bp
from purview_sync.api.operations_poll import bp as operations_poll_bp
from purview_sync.api.queue_datastore import bp as queue_datastore_bp
from purview_sync.api.schedules import bp as schedules_bp
from purview_sync.api.syncs import bp as syncs_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
blueprints = (health_bp, integrations_bp, syncs_bp, diagnostics_bp, events_bp, openapi_bp, queue_datastore_bp,
              schedules_bp, operations_poll_bp)  # fmt: skip
for blueprint in blueprints:
    app.register_functions(blueprint)

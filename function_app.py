"""Azure Functions entry point: the FunctionApp and its blueprints, nothing else."""

import azure.functions as func

from purview_sync.functions.events import bp as events_bp
from purview_sync.functions.health import bp as health_bp
from purview_sync.functions.integrations import bp as integrations_bp
from purview_sync.functions.openapi import bp as openapi_bp
from purview_sync.functions.queue_datastore import bp as queue_datastore_bp
from purview_sync.functions.syncs import bp as syncs_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (health_bp, integrations_bp, syncs_bp, events_bp, openapi_bp, queue_datastore_bp):
    app.register_functions(blueprint)

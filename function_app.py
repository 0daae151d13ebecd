"""Azure Functions entry point: the FunctionApp and its blueprints, nothing else."""

import azure.functions as func

from purview_sync.functions.health import bp as health_bp
from purview_sync.functions.integrations import bp as integrations_bp
from purview_sync.functions.queue_datastore import bp as queue_datastore_bp
from purview_sync.functions.syncs import bp as syncs_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(health_bp)
app.register_functions(integrations_bp)
app.register_functions(syncs_bp)
app.register_functions(queue_datastore_bp)

"""Azure Functions entry point: the FunctionApp and its blueprints, nothing else."""

import azure.functions as func

from purview_sync.functions.health import bp as health_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(health_bp)

"""The module the Azure Functions Python worker imports: one FunctionApp, every model.

Each model is a module in functions_app/ (written by `funnx new`) that defines a
Blueprint named `bp`; register_blueprints registers them all.
"""

import azure.functions as func
from framework.runtime import register_blueprints

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
register_blueprints(app, "functions_app")

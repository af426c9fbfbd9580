"""Register every generated function module with the app, so function_app.py stays one line long.

Each module in the ``functions_app`` package that defines a module-level ``bp`` (an
``azure.functions.Blueprint``) is imported in name order and registered; other modules (helpers,
``_private`` ones) are left alone. Adding a model is adding a file; removing it, deleting one. The
models the blueprints serve go into the app's catalog, which the app-wide endpoints are given: the
Open Inference Protocol's server routes (``v2/...``, anonymous like health probes), the OpenAPI
document (``openapi.json``, behind a key like the models it describes), the API page over it
(``docs``, see :mod:`.apidocs`) and the warmup trigger.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

import azure.functions as func

from framework.errors import FunnxError

from . import settings
from .catalog import Catalog, ModelBlueprint, attach


def register_blueprints(app: func.FunctionApp, package: str = "functions_app") -> list[str]:
    """Import ``package``'s modules and register their blueprints; returns the module names registered."""
    root = importlib.import_module(package)
    catalog = Catalog()
    registered = []
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        blueprint = getattr(module, "bp", None)
        if isinstance(blueprint, func.Blueprint):
            app.register_functions(blueprint)
            registered.append(module.__name__)
            if isinstance(blueprint, ModelBlueprint):
                catalog.add(blueprint, module.__name__)
    attach(app, catalog)
    app.register_functions(_app_endpoints(catalog))
    warm = [model for model in catalog.models().values() if model.warmup]
    if warm:
        app.register_functions(_warmup_trigger(catalog))
        if not settings.get(settings.INDEX_ONLY_SETTING):  # funnx's tooling only reading the app
            for model in warm:  # plans without the warmup trigger: load in the background from app start
                model.start_loading()
    return registered


def _warmup_trigger(catalog: Catalog) -> func.Blueprint:
    """The Functions warmup trigger (Premium, Dedicated, Flex always-ready instances): the host calls it
    when an instance is added, before sending it traffic; it returns once the warmup models loaded."""
    warmup = func.Blueprint()  # type: ignore[no-untyped-call]

    @warmup.function_name("funnx_warmup")
    @warmup.warm_up_trigger("warmup")
    def funnx_warmup(warmup) -> None:  # type: ignore[no-untyped-def]  # unannotated, as in Microsoft's sample
        for model in catalog.models().values():
            if model.warmup:
                try:
                    model.get()
                except FunnxError as err:
                    logging.getLogger("funnx.runtime").warning("funnx warmup: %s", err.message)

    return warmup


def _app_endpoints(catalog: Catalog) -> func.Blueprint:
    from . import oip

    endpoints = func.Blueprint()  # type: ignore[no-untyped-call]

    @endpoints.function_name("funnx_v2")
    @endpoints.route(route="v2/{*rest}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
    def funnx_v2(req: func.HttpRequest) -> func.HttpResponse:
        return oip.server_endpoint(req, catalog)

    @endpoints.function_name("funnx_openapi")
    @endpoints.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
    def funnx_openapi(req: func.HttpRequest) -> func.HttpResponse:
        from . import openapi  # with its examples' size search: loaded when the document is first asked for

        return openapi.endpoint(req, catalog)

    @endpoints.function_name("funnx_docs")
    @endpoints.route(route="docs/{*asset}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def funnx_docs(req: func.HttpRequest) -> func.HttpResponse:
        from . import apidocs  # only when asked for: an app with the page off never loads it

        return apidocs.endpoint(req)

    return endpoints

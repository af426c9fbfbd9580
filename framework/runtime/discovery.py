"""Register every generated function module with the app, so function_app.py stays one line long.

Each module in the ``functions_app`` package that defines a module-level ``bp``
(an ``azure.functions.Blueprint``) is imported in name order and registered; other modules
(helpers, ``_private`` ones) are left alone. Adding a model is adding a file; removing it, deleting one.
"""

from __future__ import annotations

import importlib
import pkgutil

import azure.functions as func


def register_blueprints(app: func.FunctionApp, package: str = "functions_app") -> list[str]:
    """Import ``package``'s modules and register their blueprints; returns the module names registered."""
    root = importlib.import_module(package)
    registered = []
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        blueprint = getattr(module, "bp", None)
        if isinstance(blueprint, func.Blueprint):
            app.register_functions(blueprint)
            registered.append(module.__name__)
    return registered

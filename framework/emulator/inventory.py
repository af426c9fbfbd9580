"""What an app declares, read the way the worker indexes it: for tooling that must not guess.

`funnx new` checks function names and routes against the app's, `funnx package` checks that every
local model ships, `funnx infra bicep` writes a connection per model: all from the app as the
worker sees it (``function_app.py`` imported, ``get_functions()`` once, the catalog that
``register_blueprints`` built), not from its source text. Reading the app starts nothing: the
runtime is told (``FUNNX_INDEX_ONLY``) not to begin warmup loads.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from framework.runtime.catalog import Catalog, catalog_of
from framework.runtime.settings import INDEX_ONLY_SETTING, SCRIPT_ROOT_SETTING

from .appconfig import restore_environment
from .loader import SCRIPT_FILE_SETTING, HttpFunction, describe_http, find_register, get_functions, import_script


@dataclass(frozen=True)
class AppInventory:
    names: list[str]  # every function, HTTP or not
    http: list[HttpFunction]
    catalog: Catalog

    def file_of(self, function: HttpFunction) -> Path | None:
        module = sys.modules.get(getattr(function.handler, "__module__", ""))
        file = getattr(module, "__file__", None)
        return Path(file) if file else None


def read_app(app_dir: Path) -> AppInventory:
    """Import and index the app (raises EmulatorError naming what the worker would refuse)."""
    previous = {name: os.environ.get(name) for name in (INDEX_ONLY_SETTING, SCRIPT_ROOT_SETTING)}
    os.environ[INDEX_ONLY_SETTING] = "1"
    os.environ[SCRIPT_ROOT_SETTING] = str(app_dir.resolve())
    try:
        register = find_register(import_script(app_dir.resolve(), os.environ.get(SCRIPT_FILE_SETTING)))
        functions = get_functions(register)
        names = [f.get_function_name() or f.get_user_function().__name__ for f in functions]
        return AppInventory(names, describe_http(functions), catalog_of(register))
    finally:
        restore_environment(previous)

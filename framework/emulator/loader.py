"""Index a Functions app the way the Python worker does, through the azure.functions public API.

Import the script file (``PYTHON_SCRIPT_FILE_NAME``, default function_app.py) with the app root on
sys.path, require exactly one module-level ``FunctionRegister``, call ``get_functions()`` once, and
describe the HTTP-triggered functions. Unlike the host, which logs an indexing failure and keeps
running with zero functions, any failure here is an EmulatorError naming the file and line. Whether
the worker would load each function is checked by the invoker that loads it (see host.py).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import inspect
import logging
import os
import re
import sys
import traceback
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func

from framework.errors import EmulatorError

log = logging.getLogger("funnx.host")

SCRIPT_FILE_SETTING = "PYTHON_SCRIPT_FILE_NAME"
_SCRIPT_FILE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_\-]*\.py$")
ALL_METHODS = ("GET", "POST", "DELETE", "HEAD", "PATCH", "PUT", "OPTIONS")


@dataclass(frozen=True)
class HttpFunction:
    """What the worker knows about one HTTP-triggered function."""

    name: str
    route: str
    methods: tuple[str, ...] | None  # None: every method, like the host
    auth_level: str  # "function" | "anonymous" | "admin"
    handler: Callable[..., Any]
    is_async: bool
    trigger_arg: str
    wants_context: bool
    directory: str  # of the file defining the function: the worker's context.function_directory
    function_id: str = ""  # the worker's id for it (set when loaded through azure-functions-runtime)
    #: The trigger parameter is annotated ``str`` or ``bytes``: the worker then binds it as a generic
    #: binding, which cannot take an HTTP request, so every call fails (the load does not).
    generic_trigger: bool = False

    @property
    def module(self) -> ModuleType | None:
        return sys.modules.get(getattr(self.handler, "__module__", ""), None)


def _forget_app_modules(app_dir: Path, script_module: str) -> None:
    """Drop the app's own modules (imported from its root), so each load imports its code afresh.

    Packages installed inside the app folder (a .venv, .python_packages) and funnx itself stay.
    """
    root = app_dir.resolve()
    # The app's modules come from its resolved root (first on sys.path), so a string prefix finds them
    # without resolving every loaded module's path (thousands in a test run: 0.1-0.8 s per load).
    prefix = str(root) + os.sep
    for name, module in list(sys.modules.items()):
        top = name.split(".")[0]
        if top == "framework":
            continue
        if top in (script_module, "functions_app"):
            del sys.modules[name]
            continue
        file = getattr(module, "__file__", None)
        if not file or not file.startswith(prefix):
            continue
        try:
            first = Path(file).resolve().relative_to(root).parts[0]
        except ValueError:
            continue
        if first in (top, f"{top}.py"):
            del sys.modules[name]


_app_roots: list[str] = []  # app roots this process put on sys.path, most recent last


def _put_app_root_first(root: Path) -> None:
    """Put the app root first on sys.path (so this app's functions_app is the one imported, whatever
    else is on the path) and warn where that differs from Azure, whose worker appends it last."""
    for previous in _app_roots:
        while previous in sys.path:
            sys.path.remove(previous)
    _app_roots[:] = [str(root)]
    elsewhere = [p for p in sys.path if p and Path(p).resolve() != root]
    sys.path.insert(0, str(root))
    for entry in sorted(root.iterdir()):
        name = entry.stem if entry.suffix == ".py" else entry.name if (entry / "__init__.py").is_file() else ""
        if name in ("", "function_app", "functions_app", "framework"):
            continue
        if importlib.machinery.PathFinder.find_spec(name, elsewhere) is not None:
            log.warning(
                "The app's module '%s' has the name of an installed package: the emulator imports the app's, "
                "but in Azure the worker puts the app root last and the installed one wins. Rename it.",
                name,
            )


def _import_error(err: BaseException, app_dir: Path, script: str) -> EmulatorError:
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith(str(app_dir.resolve()))]
    if isinstance(err, SyntaxError) and err.filename:  # the broken file itself, not the line importing it
        where = f"{err.filename}:{err.lineno}"
    else:
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else str(app_dir / script)
    return EmulatorError(f"cannot load the app: {type(err).__name__}: {err} (at {where})")


def import_script(app_dir: Path, script_env: str | None = None) -> ModuleType:
    script = script_env or "function_app.py"
    if not _SCRIPT_FILE.match(script):
        raise EmulatorError(f"{SCRIPT_FILE_SETTING}={script!r} must be a bare .py file name in the app root")
    if not (app_dir / script).is_file():
        raise EmulatorError(f"{app_dir / script} not found: the worker imports it to find the app's functions")
    module_name = script[:-3]
    _forget_app_modules(app_dir, module_name)
    _put_app_root_first(app_dir.resolve())
    importlib.invalidate_caches()
    try:
        return importlib.import_module(module_name)
    except Exception as err:
        raise _import_error(err, app_dir, script) from None


def find_register(module: ModuleType) -> func.FunctionRegister:
    found = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
    if len(found) != 1:
        what = "no" if not found else "more than one"
        raise EmulatorError(
            f"{module.__file__} defines {what} top-level FunctionApp; the worker needs exactly one "
            "(app = func.FunctionApp(...))"
        )
    return found[0]


def _describe(function: func.Function, function_ids: Mapping[str, str]) -> HttpFunction | None:
    trigger = function.get_trigger()
    if trigger is None or getattr(trigger, "type", None) != "httpTrigger":
        return None
    handler = function.get_user_function()
    name = function.get_function_name() or handler.__name__
    params = inspect.signature(handler).parameters
    bound = {binding.name for binding in function.get_bindings()}
    methods = getattr(trigger, "methods", None)
    level = getattr(trigger, "auth_level", None)
    return HttpFunction(
        name=name,
        route=str(getattr(trigger, "route", None) or name),
        methods=tuple(str(m.value).upper() for m in methods) if methods else None,
        auth_level=str(level.value).lower() if level is not None else "function",
        handler=handler,
        is_async=inspect.iscoroutinefunction(handler),
        trigger_arg=trigger.name,
        wants_context="context" in params and "context" not in bound,
        directory=str(Path(inspect.getfile(handler)).parent),
        function_id=function_ids.get(name, ""),
        generic_trigger=typing.get_type_hints(handler).get(trigger.name) in (str, bytes),
    )


def get_functions(register: func.FunctionRegister) -> list[func.Function]:
    """The app's functions; ``get_functions()`` can be called only once per app object."""
    try:
        return list(register.get_functions())
    except ValueError as err:
        raise EmulatorError(f"the Python worker cannot index the app: ValueError: {err}") from None


def describe_http(
    functions: list[func.Function], only: Sequence[str] | None = None, function_ids: Mapping[str, str] | None = None
) -> list[HttpFunction]:
    """The HTTP functions (``only`` these, if given), as the dispatcher routes and invokes them."""
    described = [d for d in (_describe(f, function_ids or {}) for f in functions) if d is not None]
    if only:
        unknown = sorted(set(only) - {d.name for d in described})
        if unknown:
            raise EmulatorError(
                f"no function named {', '.join(unknown)}; the app has {', '.join(d.name for d in described)}"
            )
        described = [d for d in described if d.name in only]
    return described

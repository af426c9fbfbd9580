"""One served app: its settings exported, its functions indexed and loaded, a dispatcher and an invoker.

Both ``funnx start`` and :class:`TestClient` build an EmulatorHost; closing it shuts the invoker's
thread pool and restores the environment variables it set, so tests can load several apps in one
process. Functions are loaded by the Python worker's rules: through azure-functions-runtime on 3.13+
(the ``runtime`` worker), by :mod:`.worker_checks` below (the ``direct`` worker); then the host's
own checks on names apply. A function Azure would not run fails the host with
:class:`~framework.errors.FunctionRefused` instead of leaving an app that answers 404 everywhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Literal

import azure.functions as func

from framework.errors import EmulatorError, FunnxError
from framework.runtime.catalog import Catalog, catalog_of
from framework.runtime.settings import (
    DEFAULT_THREAD_COUNT,
    SCRIPT_ROOT_SETTING,
    THREAD_COUNT_SETTING,
    reread,
    thread_count,
)

from .appconfig import LocalSettings, apply_values, read_local_settings, restore_environment
from .cors import CorsPolicy
from .direct_invoker import DirectInvoker
from .dispatch import Dispatcher
from .hostjson import load_http_options
from .invocation import Invoker
from .keys import load_keys
from .loader import SCRIPT_FILE_SETTING, HttpFunction, describe_http, find_register, get_functions, import_script
from .worker_checks import check_host_rules, check_worker_rules

#: From Python 3.13 Azure runs functions through azure-functions-runtime, and so does the emulator.
RUNTIME_PYTHON = (3, 13)
Worker = Literal["direct", "runtime"]
WORKER_SETTING = "FUNNX_EMULATOR_WORKER"  # "direct" forces the emulator's own invoker on 3.13+ too


def default_worker() -> Worker:
    if os.environ.get(WORKER_SETTING, "").strip().lower() == "direct":
        return "direct"
    return "runtime" if sys.version_info >= RUNTIME_PYTHON else "direct"


def load_worker(
    worker: Worker, app_dir: Path, register: func.FunctionRegister, functions: list[func.Function]
) -> tuple[Invoker, dict[str, str]]:
    """Load the functions as the Python worker would; returns the invoker and the worker's function ids."""
    if worker == "runtime":
        if sys.version_info < RUNTIME_PYTHON:
            raise EmulatorError("azure-functions-runtime runs on Python 3.13 and newer; use worker='direct'")
        from .runtime_invoker import RuntimeInvoker

        invoker = RuntimeInvoker(str(app_dir), register, functions)
        return invoker, invoker.function_ids
    try:
        check_worker_rules(functions)
    except FunnxError:
        raise
    except Exception as err:  # what the worker reports when indexing itself fails (e.g. a NameError in an annotation)
        raise EmulatorError(f"the Python worker cannot index the app: {type(err).__name__}: {err}") from None
    return DirectInvoker(thread_count()), {}


class EmulatorHost:
    """Settings, modules and ``sys.path`` are per process, so one app at a time can be open in a
    process (any number of hosts for that same app)."""

    _open: ClassVar[dict[Path, int]] = {}

    def __init__(
        self,
        app_dir: Path,
        *,
        settings: Mapping[str, str] | None = None,
        functions: Sequence[str] | None = None,
        cors: str | None = None,
        cors_credentials: bool | None = None,
        enforce_keys: bool = False,
        worker: Worker | None = None,
    ) -> None:
        """``settings`` are exported for the host's lifetime (they win over local.settings.json);
        ``functions`` limits which functions are served; ``cors`` (comma-separated origins) and
        ``cors_credentials`` override local.settings.json's ``Host.CORS`` / ``Host.CORSCredentials``;
        ``enforce_keys`` checks function keys like Azure; ``worker`` picks how functions are loaded
        and invoked: ``runtime`` (azure-functions-runtime, the default on 3.13+) or ``direct``."""
        self.worker: Worker = worker or default_worker()
        self._invoker: Invoker | None = None
        self.app_dir = Path(app_dir).resolve()
        self._previous_env: dict[str, str | None] = {}
        other = next((path for path, count in self._open.items() if count and path != self.app_dir), None)
        if other is not None:
            raise EmulatorError(
                f"app {other} is still open in this process; close it before opening {self.app_dir} "
                "(environment variables and imported modules are per process)"
            )
        try:
            self.local_settings: LocalSettings = read_local_settings(self.app_dir)
            self._set_env({**(settings or {}), SCRIPT_ROOT_SETTING: str(self.app_dir)})
            if "AZURE_FUNCTIONS_ENVIRONMENT" not in os.environ:  # func start sets it for local runs
                self._set_env({"AZURE_FUNCTIONS_ENVIRONMENT": "Development"})
            for name, value in apply_values(self.local_settings.values).items():
                self._previous_env.setdefault(name, value)
            if THREAD_COUNT_SETTING not in os.environ:  # the host sets it for the worker
                self._set_env({THREAD_COUNT_SETTING: str(DEFAULT_THREAD_COUNT)})
            reread()  # the environment is complete: the runtime forgets what it kept from the last app
            options = load_http_options(self.app_dir)
            module = import_script(self.app_dir, os.environ.get(SCRIPT_FILE_SETTING))
            register = find_register(module)
            indexed = get_functions(register)
            self._invoker, function_ids = load_worker(self.worker, self.app_dir, register, indexed)
            check_host_rules(indexed)
            self.functions: list[HttpFunction] = describe_http(indexed, functions, function_ids)
            self.catalog: Catalog = catalog_of(register)  # the app's models, as register_blueprints found them
            if all(f.handler.__module__.startswith("framework.") for f in self.functions):
                raise EmulatorError(
                    f"{self.app_dir} has no HTTP functions of its own; add one with 'funnx new NAME --model SOURCE'"
                )
            host = self.local_settings.host
            self.cors = CorsPolicy.parse(
                cors if cors is not None else host.get("CORS"),
                cors_credentials if cors_credentials is not None else host.get("CORSCredentials") is True,
            )
            self.keys = load_keys(self.app_dir, [f.name for f in self.functions]) if enforce_keys else None
            self.dispatcher = Dispatcher(self.functions, options, self._invoker, cors=self.cors, keys=self.keys)
        except FunnxError:
            if self._invoker is not None:
                self._invoker.close()
            restore_environment(self._previous_env)
            reread()
            raise
        self._open[self.app_dir] = self._open.get(self.app_dir, 0) + 1
        self._closed = False

    def set_settings(self, values: Mapping[str, str]) -> None:
        """Set app settings for the rest of this host's life (they win over everything else)."""
        self._set_env(values)
        reread()  # the runtime keeps some settings once read

    def _set_env(self, values: Mapping[str, str]) -> None:
        """Export ``values``, remembering what they replace for :meth:`close`; the caller rereads."""
        for name, value in values.items():
            self._previous_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._open[self.app_dir] -= 1
        self.dispatcher.invoker.close()
        restore_environment(self._previous_env)
        reread()
        self._previous_env = {}

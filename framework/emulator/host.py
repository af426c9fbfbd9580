"""One served app: its settings exported, its functions indexed, a dispatcher and a thread pool.

Both ``funnx start`` and :class:`TestClient` build an EmulatorHost; closing it shuts the pool and
restores the environment variables it set, so tests can load several apps in one process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

from framework.errors import EmulatorError, FunnxError
from framework.runtime.catalog import Catalog, catalog_of
from framework.runtime.settings import SCRIPT_ROOT_SETTING

from .appconfig import LocalSettings, apply_values, read_local_settings, restore_environment
from .cors import CorsPolicy
from .dispatch import Dispatcher
from .hostjson import load_http_options
from .keys import load_keys
from .loader import SCRIPT_FILE_SETTING, HttpFunction, find_register, import_script, index_functions

#: The host sets this for the worker when unset, so that is the local default too.
DEFAULT_THREAD_COUNT = 1000
WORKER_THREAD_PREFIX = "funnx-worker"


def thread_count() -> int:
    raw = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_THREAD_COUNT


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
    ) -> None:
        """``settings`` are exported for the host's lifetime (they win over local.settings.json);
        ``functions`` limits which functions are served; ``cors`` (comma-separated origins) and
        ``cors_credentials`` override local.settings.json's ``Host.CORS`` / ``Host.CORSCredentials``;
        ``enforce_keys`` checks function keys like Azure."""
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
            options = load_http_options(self.app_dir)
            module = import_script(self.app_dir, os.environ.get(SCRIPT_FILE_SETTING))
            register = find_register(module)
            self.functions: list[HttpFunction] = index_functions(register, functions)
            self.catalog: Catalog = catalog_of(register)  # the app's models, as register_blueprints found them
            if all(f.handler.__module__.startswith("framework.") for f in self.functions):
                raise EmulatorError(
                    f"{self.app_dir} has no HTTP functions of its own; add one with 'funnx new NAME --model SOURCE'"
                )
            self._executor = ThreadPoolExecutor(max_workers=thread_count(), thread_name_prefix=WORKER_THREAD_PREFIX)
            host = self.local_settings.host
            self.cors = CorsPolicy.parse(
                cors if cors is not None else host.get("CORS"),
                cors_credentials if cors_credentials is not None else host.get("CORSCredentials") is True,
            )
            self.keys = load_keys(self.app_dir, [f.name for f in self.functions]) if enforce_keys else None
            self.dispatcher = Dispatcher(
                self.functions, options, self._executor, str(self.app_dir), cors=self.cors, keys=self.keys
            )
        except FunnxError:
            restore_environment(self._previous_env)
            raise
        self._open[self.app_dir] = self._open.get(self.app_dir, 0) + 1
        self._closed = False

    def set_settings(self, values: Mapping[str, str]) -> None:
        """Set app settings for the rest of this host's life (they win over everything else)."""
        self._set_env(values)

    def _set_env(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            self._previous_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._open[self.app_dir] -= 1
        self._executor.shutdown(wait=False, cancel_futures=True)
        restore_environment(self._previous_env)
        self._previous_env = {}

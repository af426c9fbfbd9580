"""local.settings.json, read the way Core Tools reads it.

``Values`` become environment variables, but variables already set win (with a warning), like
``func start``. ``IsEncrypted`` must be false: Core Tools treats a missing flag as encrypted, and
encrypted files cannot be read off Windows, so both are clear errors here.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.errors import EmulatorError, FunnxError
from framework.runtime.hostconfig import read_json_object

log = logging.getLogger("funnx.host")

LOCAL_SETTINGS = "local.settings.json"
DEFAULT_PORT = 7071


@dataclass(frozen=True)
class LocalSettings:
    values: dict[str, str] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)

    @property
    def port(self) -> int:
        port = self.host.get("LocalHttpPort")
        return port if isinstance(port, int) and not isinstance(port, bool) else DEFAULT_PORT


def read_local_settings(app_dir: Path) -> LocalSettings:
    path = app_dir / LOCAL_SETTINGS
    if not path.exists():
        return LocalSettings()
    try:
        data = read_json_object(path)
    except FunnxError as err:
        raise EmulatorError(err.message) from None
    if data.get("IsEncrypted", True) is not False:
        raise EmulatorError(
            f'{path}: "IsEncrypted" is true or missing, and encrypted settings cannot be read here; '
            'set "IsEncrypted": false and put plain values in "Values"'
        )
    values = data.get("Values", {})
    if not isinstance(values, dict):
        raise EmulatorError(f"{path}: 'Values' must be an object of setting name to string")
    bad = [name for name, value in values.items() if not isinstance(value, str)]
    if bad:
        raise EmulatorError(f"{path}: Values {', '.join(bad)} must be strings (quote numbers and booleans)")
    host = data.get("Host", {})
    port = host.get("LocalHttpPort") if isinstance(host, dict) else None
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535):
        raise EmulatorError(f"{path}: Host.LocalHttpPort must be a port number from 0 to 65535, not {port!r}")
    return LocalSettings(values=dict(values), host=host if isinstance(host, dict) else {})


def apply_values(values: dict[str, str]) -> dict[str, str | None]:
    """Export ``values`` into os.environ unless already set; returns the previous state to restore."""
    previous: dict[str, str | None] = {}
    for name, value in values.items():
        if name in os.environ:
            if os.environ[name] != value:
                log.warning("Skipping '%s' from local.settings.json: already set in the environment", name)
            continue
        previous[name] = None
        os.environ[name] = value
    return previous


def restore_environment(previous: dict[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.contextmanager
def local_settings_applied(app_dir: Path) -> Iterator[LocalSettings]:
    """An app's local.settings.json Values in the environment (existing variables win) for a block,
    for commands that reach storage through the same settings the app uses."""
    local = read_local_settings(app_dir)
    previous = apply_values(local.values)
    try:
        yield local
    finally:
        restore_environment(previous)

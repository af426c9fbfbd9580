"""The parts of host.json funnx needs at run time, read the way the Functions host reads them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from framework.errors import ConfigurationError

DEFAULT_ROUTE_PREFIX = "api"
ROUTE_PREFIX_SETTING = "AzureFunctionsJobHost__extensions__http__routePrefix"


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file holding an object (a BOM is fine, as Visual Studio writes one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as err:
        raise ConfigurationError(f"{path} is not valid JSON: {err}") from None
    except OSError as err:
        raise ConfigurationError(f"cannot read {path}: {err.strerror or err}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} must hold a JSON object")
    return data


def read_host_json(app_root: Path) -> dict[str, Any]:
    path = app_root / "host.json"
    if not path.exists():
        raise ConfigurationError(f"{path} not found: every Functions app needs a host.json")
    return read_json_object(path)


def route_prefix(host: dict[str, Any]) -> str:
    """``extensions.http.routePrefix`` ('' allowed), overridden by the app setting like the host does."""
    override = os.environ.get(ROUTE_PREFIX_SETTING)
    if override is not None:
        return override.strip("/")
    http = host.get("extensions", {}).get("http", {}) if isinstance(host.get("extensions"), dict) else {}
    prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX) if isinstance(http, dict) else DEFAULT_ROUTE_PREFIX
    if not isinstance(prefix, str):
        raise ConfigurationError(
            f'host.json extensions.http.routePrefix must be a string ("" for none), not {prefix!r}'
        )
    return prefix.strip("/")

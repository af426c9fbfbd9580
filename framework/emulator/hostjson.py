"""host.json: validated against the official schema at start, then the HTTP options the emulator honours.

The schema is SchemaStore's host.json schema (draft-07), shipped inside the package. A Functions v4
app needs ``"version": "2.0"``, so documents are checked against the schema's version-2 branch
directly, which names the offending key instead of "not valid under any of the given schemas".
``extensions.http`` gives the route prefix, ``customHeaders`` added to every response, and
``maxConcurrentRequests`` / ``maxOutstandingRequests`` (429 beyond); app settings
``AzureFunctionsJobHost__extensions__http__<name>`` override them as in Azure.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from framework.errors import EmulatorError, FunnxError
from framework.runtime.hostconfig import read_host_json, route_prefix

OVERRIDE_PREFIX = "AzureFunctionsJobHost__extensions__http__"


@dataclass(frozen=True)
class HttpOptions:
    route_prefix: str = "api"
    custom_headers: dict[str, str] = field(default_factory=dict)
    max_concurrent_requests: int | None = None  # None: unbounded (the schema's -1)
    max_outstanding_requests: int | None = None


@cache
def _validator() -> Any:
    schema = json.loads(resources.files(__package__).joinpath("host.schema.json").read_text(encoding="utf-8"))
    version_2 = {"$ref": "#/definitions/version-2", "definitions": schema["definitions"]}
    return jsonschema.Draft7Validator(version_2)


def validate_host_json(document: dict[str, Any], path: Path) -> None:
    """Raise EmulatorError naming the first bad key (by jsonschema's best match)."""
    if document.get("version") != "2.0":
        raise EmulatorError(f'{path}: "version" must be "2.0" (the Functions v4 host), not {document.get("version")!r}')
    error = best_match(_validator().iter_errors(document))
    if error is None:
        return
    where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    raise EmulatorError(f"{path}: {where}: {error.message}")


def _limit(raw: Any, name: str) -> int | None:
    override = os.environ.get(OVERRIDE_PREFIX + name)
    if override is not None:
        try:
            raw = int(override)
        except ValueError:
            raise EmulatorError(f"app setting {OVERRIDE_PREFIX}{name} must be an integer, not {override!r}") from None
    return raw if isinstance(raw, int) and raw > 0 else None


def load_http_options(app_dir: Path) -> HttpOptions:
    try:
        document = read_host_json(app_dir)
        validate_host_json(document, app_dir / "host.json")
        prefix = route_prefix(document)
    except FunnxError as err:
        raise EmulatorError(err.message) from None
    http = document.get("extensions", {}).get("http", {})
    return HttpOptions(
        route_prefix=prefix,
        custom_headers={str(k): str(v) for k, v in http.get("customHeaders", {}).items()},
        max_concurrent_requests=_limit(http.get("maxConcurrentRequests"), "maxConcurrentRequests"),
        max_outstanding_requests=_limit(http.get("maxOutstandingRequests"), "maxOutstandingRequests"),
    )

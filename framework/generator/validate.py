"""Check everything `funnx new` is given before any file is planned; report every problem at once.

Names, routes and connection settings must match strict patterns (they end up in URLs, file names
and Python source); sources are parsed by the runtime's own parser so the generator and the
deployed code agree on what is valid; a local model must load in onnxruntime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from framework.runtime.errors import FunnxError
from framework.runtime.signature import ModelSignature
from framework.runtime.sources import LocalSource, UrlSource, check_setting_name, parse_source, split_sas

from .errors import GeneratorError
from .inspect_model import read_local_signature

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
ROUTE = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")
#: First route segments the Functions host keeps for itself, and ``v2`` for the Open Inference Protocol.
RESERVED_ROUTE_ROOTS = ("admin", "runtime", "v2")
AUTH_LEVELS = {"function": "FUNCTION", "anonymous": "ANONYMOUS", "admin": "ADMIN"}


@dataclass(frozen=True)
class NewFunction:
    """Validated inputs of `funnx new`."""

    app_dir: Path
    name: str
    module: str
    route: str
    auth_level: str
    source: str
    connection: str | None
    sas_token: str | None
    signature: ModelSignature | None
    outside_app: bool  # a local model file that will not be deployed with the app

    @property
    def module_path(self) -> Path:
        return self.app_dir / "functions_app" / f"{self.module}.py"


def module_name(name: str) -> str:
    return name.lower().replace("-", "_")


def check_app_dir(app_dir: Path) -> list[str]:
    missing = [f for f in ("host.json", "function_app.py") if not (app_dir / f).is_file()]
    if missing:
        return [f"{app_dir} is not a Functions app (no {' or '.join(missing)}); run 'funnx init {app_dir}' first"]
    return []


def validate_new(
    app_dir: Path,
    name: str,
    model: str,
    *,
    connection: str | None = None,
    route: str | None = None,
    auth_level: str = "function",
    force: bool = False,
) -> NewFunction:
    """Validate `funnx new` arguments; raises GeneratorError listing every problem."""
    problems = check_app_dir(app_dir)
    if not NAME.match(name):
        problems.append(
            f"invalid name {name!r}: start with a letter, then letters, digits, '-' or '_' (at most 63)"
        )
    route = route if route is not None else name
    route = route.strip("/") if route else route
    if not route or not ROUTE.match(route):
        problems.append(f"invalid route {route!r}: use path segments of letters, digits, '-', '_' or '.' separated by '/'")
    elif route.split("/", 1)[0].lower() in RESERVED_ROUTE_ROOTS:
        problems.append(f"route {route!r} starts with a reserved segment ({', '.join(RESERVED_ROUTE_ROOTS)}); choose another")
    level = auth_level.lower()
    if level not in AUTH_LEVELS:
        problems.append(f"invalid auth level {auth_level!r}: choose function, anonymous or admin")
    if connection is not None:
        try:
            check_setting_name(connection)
        except FunnxError as err:
            problems.append(err.message)

    source, token, signature, outside = model, None, None, False
    if "://" in model and model.split("://", 1)[0].lower() in ("https", "http"):
        source, token = split_sas(model)
        if token and connection is None and NAME.match(name):
            connection = re.sub(r"[^A-Za-z0-9]", "_", name).upper() + "_SAS"
    try:
        parsed = parse_source(source, connection)
    except FunnxError as err:
        problems.append(err.message)
    else:
        if isinstance(parsed, LocalSource):
            source, outside, signature = _local_model(app_dir, Path(model).expanduser(), problems)
        elif isinstance(parsed, UrlSource):
            connection = parsed.connection
        else:
            connection = parsed.connection

    module = module_name(name)
    target = app_dir / "functions_app" / f"{module}.py"
    if NAME.match(name) and target.exists() and not force:
        problems.append(f"{target} already exists; pass --force to overwrite it (your edits to its hooks would be lost)")
    if problems:
        raise GeneratorError("; ".join(problems))
    return NewFunction(app_dir, name, module, route, AUTH_LEVELS[level], source, connection, token, signature, outside)


def _local_model(app_dir: Path, given: Path, problems: list[str]) -> tuple[str, bool, ModelSignature | None]:
    """(source to declare, is outside the app, signature) for a local model file."""
    path = given if given.is_absolute() else Path.cwd() / given
    if not path.is_file():
        problems.append(f"model file {given} does not exist")
        return str(given), False, None
    try:
        signature = read_local_signature(path)
    except FunnxError as err:
        problems.append(err.message)
        return str(given), False, None
    try:
        return path.resolve().relative_to(app_dir.resolve()).as_posix(), False, signature
    except ValueError:
        return str(path.resolve()), True, signature

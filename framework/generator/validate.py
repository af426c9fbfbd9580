"""Check everything `funnx new` is given before any file is planned; report every problem at once.

Names, routes and connection settings must match strict patterns (they end up in URLs, file names
and Python source); sources are parsed by the runtime's own parser so the generator and the
deployed code agree on what is valid; a local model must load in onnxruntime.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.errors import FunnxError, GeneratorError
from framework.runtime import naming
from framework.runtime.batching import MAX_BATCH_DELAY_MS, batch_axis_problem
from framework.runtime.session_options import declared_config
from framework.runtime.sources import DEFAULT_CONNECTION, BlobSource, LocalSource, parse_source, split_sas

from .existing import ExistingFunction
from .funcignore import excluding_rule
from .inspect_model import Inspected, inspect

NAME = naming.MODEL_NAME
ROUTE = re.compile(r"^(?!.*(?:^|/)\.{1,2}(?:/|$))[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")
#: First route segments the Functions host keeps for itself, ``v2`` for the Open Inference Protocol
#: and ``docs`` for the API page.
RESERVED_ROUTE_ROOTS = ("admin", "runtime", "v2", "docs")
AUTH_LEVELS = {"function": "FUNCTION", "anonymous": "ANONYMOUS", "admin": "ADMIN"}
#: How long a queued request waits for others to join its batch when --max-batch-delay-ms is not given.
DEFAULT_DELAY_MS = 2.0


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
    inspected: Inspected | None  # the model file, when funnx can read it (a local model, or a blob's local copy)
    deploy_warning: str | None  # why a local model file would not be deployed with the app
    force: bool = False
    refresh_seconds: float | None = None
    warmup: bool = False
    session: dict[str, Any] = field(default_factory=dict)
    seed_file: str | None = None  # a blob model's local copy in the app, which its generated test uploads
    max_batch_size: int | None = None  # None: no batching
    max_batch_delay_ms: float | None = None

    @property
    def module_path(self) -> Path:
        return self.app_dir / "functions_app" / f"{self.module}.py"

    @property
    def test_path(self) -> Path:
        return self.app_dir / "tests" / f"test_{self.module}.py"


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
    refresh_seconds: float | None = None,
    warmup: bool = False,
    session: dict[str, Any] | None = None,
    existing: Sequence[ExistingFunction] = (),
    max_batch_size: int | None = None,
    max_batch_delay_ms: float | None = None,
) -> NewFunction:
    """Validate `funnx new` arguments; raises GeneratorError listing every problem. ``existing``: the
    app's functions, as the worker indexes them (their names and routes must not be taken)."""
    problems = check_app_dir(app_dir)
    is_app = not problems
    valid_name = NAME.match(name) is not None
    if not valid_name:
        problems.append(f"invalid name {name!r}: start with a letter, then letters, digits, '-' or '_' (at most 63)")
    else:
        problems += [
            f"NAME {name!r} would define function '{function}', which funnx registers for every app; choose another"
            for function in naming.function_names(name)
            if function.lower() in naming.BUILT_IN_FUNCTIONS
        ]
    route = (route if route is not None else name).strip("/")
    problems += _route_problems(route)
    level = auth_level.lower()
    if level not in AUTH_LEVELS:
        problems.append(f"invalid auth level {auth_level!r}: choose function, anonymous or admin")
    source = _choose_source(app_dir, name, model, connection, problems)
    if refresh_seconds is not None and not refresh_seconds > 0:
        problems.append(f"--refresh-seconds must be a positive number, not {refresh_seconds}")
    session = {key: value for key, value in (session or {}).items() if value is not None}
    try:
        config = declared_config(name, session)
        session = {key: getattr(config, key) for key in session}  # normalised, e.g. provider aliases
    except FunnxError as err:
        problems.append(err.message)
    problems += _batching_problems(max_batch_size, max_batch_delay_ms, source.inspected)
    if max_batch_size is not None and max_batch_delay_ms is None:
        max_batch_delay_ms = DEFAULT_DELAY_MS
    module = naming.module_name(name)
    target = app_dir / "functions_app" / f"{module}.py"
    test = app_dir / "tests" / f"test_{module}.py"
    if valid_name and (target.exists() or test.exists()) and not force:
        present = target if target.exists() else test
        problems.append(f"{present} already exists; pass --force to overwrite it (your edits would be lost)")
    elif valid_name and is_app:
        problems += _conflicts(existing, target, name, route)
    if problems:
        raise GeneratorError("; ".join(problems))
    return NewFunction(
        app_dir, name, module, route, AUTH_LEVELS[level],
        source.declared, source.connection, source.sas_token, source.inspected, source.deploy_warning, force,
        refresh_seconds, warmup, session, source.seed_file, max_batch_size, max_batch_delay_ms,
    )  # fmt: skip


def _conflicts(existing: Sequence[ExistingFunction], target: Path, name: str, route: str) -> list[str]:
    """Function names and (route, method) pairs this function would take from another one (the module
    being replaced with --force does not count)."""
    problems = []
    others = [f for f in existing if f.file is None or f.file.resolve() != target.resolve()]
    where = {id(f): f" in {f.file.name}" if f.file else "" for f in others}
    for wanted in naming.function_names(name):
        clash = next((f for f in others if f.name.lower() == wanted.lower()), None)
        if clash:
            problems.append(f"function name '{wanted}' is already used{where[id(clash)]}; choose another NAME")
    for method in ("POST", "GET"):
        clash = next((f for f in others if f.conflicts(route, method)), None)
        if clash:
            problems.append(
                f"{method} /{route} is already served by '{clash.name}'{where[id(clash)]}; choose another --route"
            )
    return problems


def _batching_problems(size: int | None, delay: float | None, inspected: Inspected | None) -> list[str]:
    """--max-batch-size N >= 2, a delay in [0, 1000] ms only with it, and a model with a batch axis."""
    if size is None:
        return ["--max-batch-delay-ms needs --max-batch-size"] if delay is not None else []
    problems = []
    if size < 2:
        problems.append(f"--max-batch-size must be 2 or more (rows joined into one run), not {size}")
    if delay is not None and not 0 <= delay <= MAX_BATCH_DELAY_MS:
        problems.append(f"--max-batch-delay-ms must lie in [0, {MAX_BATCH_DELAY_MS:g}] ms, not {delay:g}")
    problem = batch_axis_problem(inspected.signature) if inspected is not None else None
    if problem is not None:
        problems.append(
            f"the model cannot batch: {problem}; export it with a dynamic batch axis, or leave out --max-batch-size"
        )
    return problems


def _route_problems(route: str) -> list[str]:
    if not ROUTE.match(route):
        return [f"invalid route {route!r}: use path segments of letters, digits, '-', '_' or '.' separated by '/'"]
    if route.split("/", 1)[0].lower() in RESERVED_ROUTE_ROOTS:
        return [f"route {route!r} starts with a reserved segment ({', '.join(RESERVED_ROUTE_ROOTS)}); choose another"]
    return []


@dataclass(frozen=True)
class _Source:
    declared: str
    connection: str | None = None
    sas_token: str | None = None
    inspected: Inspected | None = None
    deploy_warning: str | None = None
    seed_file: str | None = None  # a blob's local copy, relative to the app (<container>/<blob> or <blob>)


def _choose_source(app_dir: Path, name: str, model: str, connection: str | None, problems: list[str]) -> _Source:
    """What the module declares for ``model``: SAS tokens split off, local models inspected."""
    declared, token = model, None
    if model.split("://", 1)[0].lower() in ("https", "http") and "://" in model:
        declared, token = split_sas(model)
        if token and connection is None:
            connection = naming.sas_setting(name)
        if token and connection == DEFAULT_CONNECTION:
            problems.append(
                f"a SAS token cannot go into {DEFAULT_CONNECTION}: the Functions host needs that setting for its "
                "own storage; choose another --connection"
            )
    try:
        parsed = parse_source(declared, connection)
    except FunnxError as err:
        problems.append(err.message)
        return _Source(declared)
    if isinstance(parsed, LocalSource):
        return _local_model(app_dir, Path(model).expanduser(), problems)
    if isinstance(parsed, BlobSource):
        return _blob_model(app_dir, declared, parsed, problems)
    return _Source(declared, parsed.connection, token)


def _blob_model(app_dir: Path, declared: str, source: BlobSource, problems: list[str]) -> _Source:
    """A blob model, inspected from its local copy when the app has one where ``funnx start
    --seed-models`` looks (``<container>/<blob>`` or ``<blob>``), so its example and test can run."""
    for relative in (f"{source.container}/{source.blob}", source.blob):
        path = app_dir / relative
        if path.is_file():
            try:
                return _Source(declared, source.connection, inspected=inspect(path), seed_file=relative)
            except FunnxError as err:
                problems.append(f"the local copy {relative} of {declared}: {err.message}")
                break
    return _Source(declared, source.connection)


def _local_model(app_dir: Path, given: Path, problems: list[str]) -> _Source:
    """A local model file: declared relative to the app root when inside it, else absolute."""
    path = given if given.is_absolute() else Path.cwd() / given
    if not path.is_file():
        problems.append(f"model file {given} does not exist")
        return _Source(str(given))
    try:
        inspected = inspect(path)
    except FunnxError as err:
        problems.append(err.message)
        return _Source(str(given))
    try:
        relative = path.resolve().relative_to(app_dir.resolve()).as_posix()
    except ValueError:
        warning = "the model file is outside the app folder and will not be deployed with it"
        return _Source(str(path.resolve()), inspected=inspected, deploy_warning=warning)
    rule = excluding_rule(app_dir, relative)
    excluded = f"{relative} is left out of the deployment package by the rule '{rule}'" if rule else None
    return _Source(relative, inspected=inspected, deploy_warning=excluded)

"""Plan the files of `funnx init` and `funnx new`: paths and rendered contents, nothing written yet."""

from __future__ import annotations

import json
from pathlib import Path

from framework.errors import FunnxError, GeneratorError
from framework.runtime import naming
from framework.runtime.batching import worker_threads
from framework.runtime.hostconfig import read_host_json, route_prefix
from framework.runtime.settings import THREAD_COUNT_SETTING

from . import runtime_wheel
from .inspect_model import example_lines, example_request
from .render import render
from .validate import ROUTE, NewFunction
from .writer import PlannedFile

#: App file → template, for `funnx init`.
APP_FILES = {
    "host.json": "app/host.json.j2",
    "function_app.py": "app/function_app.py.j2",
    "requirements.txt": "app/requirements.txt.j2",
    "local.settings.json": "app/local.settings.json.j2",
    ".funcignore": "app/funcignore.j2",
    ".gitignore": "app/gitignore.j2",
    "functions_app/__init__.py": "app/functions_app_init.py.j2",
}
#: Holds secrets and local state: created once, never overwritten.
LOCAL_SETTINGS = "local.settings.json"
#: What `funnx init --telemetry` adds to requirements.txt: the exporters framework.runtime.telemetry uses
#: (the versions funnx is tested with; constraints.txt pins the same).
TELEMETRY_REQUIREMENTS = ("azure-monitor-opentelemetry==1.8.11", "opentelemetry-exporter-otlp-proto-http==1.45.1")


def plan_init(app_dir: Path, *, force: bool = False, telemetry: bool = False) -> list[PlannedFile]:
    if app_dir.exists() and not app_dir.is_dir():
        raise GeneratorError(f"{app_dir} exists and is not a folder")
    existing = [name for name in APP_FILES if name != LOCAL_SETTINGS and (app_dir / name).exists()]
    if existing and not force:
        raise GeneratorError(
            f"{app_dir} already has {', '.join(existing)}; pass --force to overwrite them "
            f"({LOCAL_SETTINGS} is never overwritten)"
        )
    files = [
        PlannedFile(
            app_dir / name,
            render(
                template,
                runtime_wheel=runtime_wheel.requirement_line(),
                telemetry=TELEMETRY_REQUIREMENTS if telemetry else (),
            ),
        )
        for name, template in APP_FILES.items()
        if not (name == LOCAL_SETTINGS and (app_dir / name).exists())
    ]
    return [*files, PlannedFile(app_dir / runtime_wheel.FOLDER / runtime_wheel.wheel_name(), runtime_wheel.build())]


def plan_new(fn: NewFunction) -> list[PlannedFile]:
    try:
        prefix = route_prefix(read_host_json(fn.app_dir))
    except FunnxError as err:
        raise GeneratorError(err.message) from None
    if prefix and not ROUTE.match(prefix):
        raise GeneratorError(
            f"route prefix {prefix!r} (host.json extensions.http.routePrefix or its app setting) must be "
            "path segments of letters, digits, '-', '_' or '.'"
        )
    url_path = f"{prefix}/{fn.route}" if prefix else fn.route
    lines = example_lines(fn.inspected, f"http://localhost:7071/{url_path}") if fn.inspected else []
    content = render(
        "function/model_function.py.j2",
        name=fn.name,
        url_path=url_path,
        source=fn.source,
        connection=fn.connection,
        route=fn.route,
        auth_member=fn.auth_level,
        predict_function=naming.predict_function(fn.name),
        metadata_function=naming.metadata_function(fn.name),
        refresh_seconds=fn.refresh_seconds,
        warmup=fn.warmup,
        session=fn.session,
        max_batch_size=fn.max_batch_size,
        max_batch_delay_ms=fn.max_batch_delay_ms,
        setting_key=naming.setting_key(fn.name),
        oip_function=naming.oip_function(fn.name),
        oip_route=naming.oip_route(fn.name),
        oip_url_path=f"{prefix}/v2/models/{fn.name}" if prefix else f"v2/models/{fn.name}",
        example_lines=lines,
    )
    files = [PlannedFile(fn.module_path, content), PlannedFile(fn.test_path, _test_module(fn, url_path))]
    files += runtime_wheel.plan_refresh(fn.app_dir)  # an app made by an older funnx gets this one's runtime
    settings: dict[str, str] = {}
    if fn.sas_token and fn.connection:
        settings[fn.connection] = fn.sas_token
    if fn.max_batch_size:
        settings[THREAD_COUNT_SETTING] = str(worker_threads(fn.max_batch_size))
    if settings:
        files.append(_with_settings(fn.app_dir / LOCAL_SETTINGS, settings, replace=fn.force))
    return files


def _test_module(fn: NewFunction, url_path: str) -> str:
    example = example_request(fn.inspected) if fn.inspected else None
    signature = fn.inspected.signature if fn.inspected else None
    return render(
        "function/test_model_function.py.j2",
        name=fn.name,
        module=fn.module,
        route_path=f"/{url_path}",
        source=fn.source,
        is_blob=fn.source.startswith("az://"),
        example_code=example.python if example else None,
        uses_numpy=bool(example and example.uses_numpy),
        seed_file=fn.seed_file,
        input_names=[spec.name for spec in signature.inputs] if signature else [],
        output_names=[spec.name for spec in signature.outputs] if signature else [],
        output_count=len(signature.outputs) if signature else 0,
    )


def _with_settings(path: Path, new: dict[str, str], *, replace: bool) -> PlannedFile:
    """local.settings.json with ``new`` in ``Values`` (created with IsEncrypted false if missing).

    An existing, different value is only replaced with ``replace`` (--force): it may belong to
    another function. The thread count is the exception: it only ever grows (another model may
    batch larger), so a larger count already there is kept.
    """
    settings: dict[str, object] = {"IsEncrypted": False, "Values": {}}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8-sig"))
        except ValueError as err:
            raise GeneratorError(f"{path} is not valid JSON ({err}); fix it and run again") from None
        if not isinstance(loaded, dict) or not isinstance(loaded.get("Values", {}), dict):
            raise GeneratorError(f"{path} must be an object whose 'Values' is an object")
        settings = loaded
    values = settings.setdefault("Values", {})
    assert isinstance(values, dict)
    for name, value in new.items():
        current = values.get(name)
        if name == THREAD_COUNT_SETTING:
            if not (isinstance(current, str) and current.isdigit() and int(current) >= int(value)):
                values[name] = value
            continue
        if values.get(name, value) != value and not replace:
            raise GeneratorError(
                f"{path.name} already has a different {name}; choose another --connection, "
                "or pass --force to replace it"
            )
        values[name] = value
    return PlannedFile(path, json.dumps(settings, indent=2) + "\n")

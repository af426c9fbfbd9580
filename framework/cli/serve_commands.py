"""``funnx list``, ``funnx start`` and ``funnx keys``: what the worker indexes, the local emulator,
and the keys it enforces."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path

import click

from framework.emulator import devstorage
from framework.emulator.host import EmulatorHost
from framework.emulator.keys import KEYS_FILE, load_keys
from framework.emulator.reloader import STORAGE_CONNECTION_SETTING, local_azurite, run_with_reload

from .options import APP_OPTION, function_names


@click.command(name="list")
@APP_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_functions(app_dir: Path, as_json: bool) -> None:
    """List the app's HTTP functions as the Functions worker indexes them."""
    host = EmulatorHost(app_dir)
    try:
        models = devstorage.models_of(host)
        rows = [
            {
                "name": f.name,
                "methods": list(f.methods) if f.methods else ["*"],
                "url": f"http://localhost:{host.local_settings.port or 7071}{host.dispatcher.url_path(f)}",
                "auth_level": f.auth_level,
                "model": models[f.name].source.describe() if f.name in models else "",
            }
            for f in host.functions
        ]
    finally:
        host.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    headers = {"name": "NAME", "methods": "METHODS", "url": "URL", "auth_level": "AUTH", "model": "MODEL"}
    table = [headers] + [{**row, "methods": ",".join(row["methods"])} for row in rows]
    widths = {key: max(len(str(row[key])) for row in table) for key in headers}
    for row in table:
        click.echo("  ".join(str(row[key]).ljust(widths[key]) for key in headers).rstrip())


def _child_options(cors: str | None, cors_credentials: bool | None, functions: tuple[str, ...], enforce_keys: bool,
                   seed_models: bool, quiet: bool) -> list[str]:  # fmt: skip
    """The options a --reload child serves with (the same as this command's)."""
    passed: list[str] = ["--cors", cors] if cors is not None else []
    passed += ["--functions", ",".join(functions)] if functions else []
    flags = {"--cors-credentials": cors_credentials, "--enforce-keys": enforce_keys,
             "--seed-models": seed_models, "--quiet": quiet}  # fmt: skip
    return passed + [flag for flag, on in flags.items() if on]


@click.command()
@APP_OPTION
@click.option(
    "--port",
    "-p",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port (default: Host.LocalHttpPort from local.settings.json, else 7071; 0 = any free port).",
)
@click.option("--cors", metavar="ORIGINS", help="Comma-separated allowed origins, '*' for any (overrides Host.CORS).")
@click.option("--cors-credentials", is_flag=True, default=None, help="Allow credentialed CORS requests.")
@click.option(
    "--functions", multiple=True, metavar="NAME...", help="Serve only these functions (space- or comma-separated)."
)
@click.option("--enforce-keys", is_flag=True, help="Require function keys like Azure does (see `funnx keys`).")
@click.option("--azurite", is_flag=True, help="Run Azurite (data in .azurite/) and point blob models at it.")
@click.option("--seed-models", is_flag=True, help="With --azurite: upload missing blobs from local files.")
@click.option("--reload", is_flag=True, help="Restart when function_app.py, functions_app/ or framework/ change.")
@click.option("--quiet", is_flag=True, help="No Executing/Executed line per request (errors are still logged).")
@click.option(
    "--storage-connection",
    hidden=True,
    envvar=STORAGE_CONNECTION_SETTING,
    help="Point every blob model at this connection string (set by --azurite).",
)
@click.argument("more_functions", nargs=-1, metavar="")
def start(app_dir: Path, port: int | None, cors: str | None, cors_credentials: bool | None,
          functions: tuple[str, ...], enforce_keys: bool, azurite: bool, seed_models: bool, reload: bool,
          quiet: bool, storage_connection: str | None, more_functions: tuple[str, ...]) -> None:  # fmt: skip
    """Serve the app locally like `func start` (Ctrl+C to stop)."""
    from framework.emulator.server import serve  # uvicorn loads only to serve

    functions = function_names(functions, more_functions)
    if seed_models and not (azurite or storage_connection):
        raise click.UsageError("--seed-models needs --azurite")
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("azure").setLevel(logging.WARNING)  # the storage SDK logs every request at INFO
    if quiet:
        logging.getLogger("funnx.host").setLevel(logging.WARNING)
    if reload:
        passed = _child_options(cors, cors_credentials, functions, enforce_keys, seed_models, quiet)
        run_with_reload(app_dir, port, passed, azurite=azurite)
        return
    with contextlib.ExitStack() as stack:
        if azurite:
            storage_connection = stack.enter_context(local_azurite(app_dir)).connection_string
        host = EmulatorHost(app_dir, functions=functions or None, cors=cors, cors_credentials=cors_credentials,
                            enforce_keys=enforce_keys)  # fmt: skip
        stack.callback(host.close)
        if storage_connection:
            names = devstorage.use_storage(host, storage_connection)
            click.echo(f"Blob models read from Azurite through app setting(s): {', '.join(names) or '(none)'}")
            for line in devstorage.seed(host, storage_connection) if seed_models else []:
                click.echo(f"  {line}")
        serve(host, port=host.local_settings.port if port is None else port)
    busy = host.dispatcher.running_calls
    if busy:  # a function still running (e.g. stuck): do not wait for it at interpreter exit
        click.echo(f"{busy} function call(s) still running were abandoned", err=True)
        sys.stdout.flush()
        os._exit(0)


@click.command()
@APP_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the keys file as JSON.")
def keys(app_dir: Path, as_json: bool) -> None:
    """Show the function keys `funnx start --enforce-keys` checks (created on first use)."""
    host = EmulatorHost(app_dir)
    try:
        found = load_keys(host.app_dir, [f.name for f in host.functions])
        functions = {f.name: f for f in host.functions}
        base = f"http://localhost:{host.local_settings.port or 7071}"
        url = {name: f"{base}{host.dispatcher.url_path(f)}" for name, f in functions.items()}
    finally:
        host.close()
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=2))
        return
    click.echo(f"Keys in {app_dir / KEYS_FILE} (git-ignored; local only, not your Azure keys)\n")
    click.echo(f"master key (admin level):  {found.master}")
    for name, key in found.host.items():
        click.echo(f"host key '{name}':          {key}")
    for name, function_keys in found.functions.items():
        if name in functions:
            level = functions[name].auth_level
            for key_name, key in function_keys.items():
                click.echo(f"{name} ({level}) key '{key_name}': {key}  ->  {url[name]}?code={key}")

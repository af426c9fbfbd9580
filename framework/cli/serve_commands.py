"""``funnx list`` and ``funnx start``: what the worker indexes, and the local emulator."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from framework.emulator.host import EmulatorHost
from framework.emulator.server import serve
from framework.runtime.model import OnnxModel

from .app_commands import APP_OPTION
from .group import cli


def _model_source(function: Any) -> str:
    module = function.module
    models = [v for v in vars(module).values() if isinstance(v, OnnxModel)] if module else []
    return models[0].source.describe() if len(models) == 1 else ""


@cli.command(name="list")
@APP_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_functions(app_dir: Path, as_json: bool) -> None:
    """List the app's HTTP functions as the Functions worker indexes them."""
    host = EmulatorHost(app_dir)
    try:
        rows = [
            {
                "name": f.name,
                "methods": list(f.methods) if f.methods else ["*"],
                "url": f"http://localhost:7071{host.dispatcher.url_path(f)}",
                "auth_level": f.auth_level,
                "model": _model_source(f),
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


@cli.command()
@APP_OPTION
@click.option(
    "--port",
    "-p",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on (default: Host.LocalHttpPort from local.settings.json, else 7071; 0 = any free port).",
)
def start(app_dir: Path, port: int | None) -> None:
    """Serve the app locally like `func start` (Ctrl+C to stop)."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    host = EmulatorHost(app_dir)
    try:
        serve(host, port=host.local_settings.port if port is None else port)
    finally:
        host.close()

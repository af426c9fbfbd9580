"""``funnx openapi``: write the app's OpenAPI document (the one served at /<prefix>/openapi.json)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from framework.emulator.host import EmulatorHost
from framework.runtime.openapi import document

from .options import APP_OPTION, one_shot_logging


@click.command(name="openapi")
@APP_OPTION
@click.option("--output", "-o", "output_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the document to this file (default: print it).")  # fmt: skip
def openapi_command(app_dir: Path, output_file: Path | None) -> None:
    """Write the OpenAPI 3 document of the app's models (loads each model to read its signature)."""
    with one_shot_logging():
        host = EmulatorHost(app_dir)
        try:
            text = json.dumps(document(host.catalog), indent=2) + "\n"
        finally:
            host.close()
    if output_file is None:
        click.echo(text, nl=False)
    else:
        output_file.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output_file}")

"""``funnx invoke``: call a function in-process with a data file and print or save the result."""

from __future__ import annotations

import json
from pathlib import Path

import click

from framework.emulator.invoke import invoke, numpy_bytes, request_body, result_arrays
from framework.errors import EmulatorError

from .options import APP_OPTION, one_shot_logging


@click.command(name="invoke")
@click.argument("name")
@click.option(
    "--data",
    "data_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Request: a .json body, a .npy array (the first input) or a .npz of named inputs.",
)
@click.option(
    "--output-format",
    type=click.Choice(["json", "npy"]),
    default="json",
    show_default=True,
    help="json prints the reply; npy writes the result as .npy (one output) or .npz.",
)
@click.option(
    "--output",
    "-o",
    "output_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of printing (required for npy).",
)
@APP_OPTION
def invoke_command(name: str, data_file: Path, output_format: str, output_file: Path | None, app_dir: Path) -> None:
    """Call function NAME in-process (no server) with the request in --data."""
    with one_shot_logging():
        payload, outputs = invoke(app_dir, name, request_body(data_file), want_output_names=output_format == "npy")
    if output_format == "json":
        text = json.dumps(payload, indent=2) + "\n"
        if output_file is None:
            click.echo(text, nl=False)
        else:
            output_file.write_text(text, encoding="utf-8")
            click.echo(f"wrote {output_file}")
        return
    if output_file is None:
        raise EmulatorError("--output-format npy needs --output FILE")
    content, suffix = numpy_bytes(result_arrays(payload, outputs))
    target = output_file if output_file.suffix == suffix else output_file.with_suffix(suffix)
    target.write_bytes(content)
    click.echo(f"wrote {target}")

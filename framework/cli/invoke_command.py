"""``funnx invoke``: call a function in-process with a data file and print or save the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from framework.emulator.invoke import invoke, numpy_bytes, request_body, result_arrays
from framework.errors import EmulatorError

from . import progress
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
    if output_format == "npy" and output_file is None:
        raise EmulatorError("--output-format npy needs --output FILE")
    large = data_file.is_file() and data_file.stat().st_size >= progress.PROGRESS_FROM_BYTES
    with progress.status(f"invoke {name}", when=large) as step:
        if step:
            step(f"reading {data_file.name}")
        body = request_body(data_file)
        if step:
            step(f"calling '{name}' with {len(body) / 1e6:.1f} MB")
        with one_shot_logging():
            payload, outputs = invoke(app_dir, name, body, want_output_names=output_format == "npy")
        if step:
            step("writing the result")
        written = _write(payload, outputs, output_format, output_file)
    click.echo(f"wrote {written}" if written else json.dumps(payload, indent=2))


def _write(
    payload: dict[str, Any], outputs: list[tuple[str, str]], output_format: str, output_file: Path | None
) -> Path | None:
    """Write the result to ``output_file`` (npy: with the suffix its arrays need); None when it is to be printed."""
    if output_format == "json":
        if output_file is not None:
            output_file.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        return output_file
    assert output_file is not None  # checked before the call
    content, suffix = numpy_bytes(result_arrays(payload, outputs))
    target = output_file if output_file.suffix == suffix else output_file.with_suffix(suffix)
    target.write_bytes(content)
    return target

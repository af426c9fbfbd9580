"""``funnx convert``: a scikit-learn or PyTorch model file → a checked .onnx file for ``funnx new``.

Thin on purpose: framework.convert does the work and imports sklearn, skl2onnx and torch only
when a conversion runs, so ``funnx --help`` and every other command start without them.
"""

from __future__ import annotations

from pathlib import Path

import click

from framework.convert.run import ConversionReport, ConvertOptions, OutputMismatch, convert_file
from framework.convert.specs import InputSpec, parse_input, parse_input_shape
from framework.errors import ConversionError


@click.command(name="convert")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="The .onnx file (default: FILE with .onnx)."
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME:TYPE[DIMS]",
    help="Declare an input, e.g. X:float[?,4] or color:string (repeatable). "
    "Types: float, double, int64, int32, string, bool (float16 for PyTorch). Default: inferred from the estimator.",
)
@click.option(
    "--input-shape",
    "input_shapes",
    multiple=True,
    metavar="DIMS",
    help="PyTorch: a float input's shape, batch first, e.g. 1,3,224,224 (one per forward() argument).",
)
@click.option(
    "--sample",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rows to check the conversion on: .npy, .npz or .csv with a header (default: generated rows).",
)
@click.option(
    "--rows", type=int, help="Check this many rows (default: all of --sample, else 32 generated; 3 for PyTorch)."
)
@click.option(
    "--tolerance",
    type=float,
    default=1e-4,
    show_default=True,
    help="Allowed difference per value: tolerance * max(1, |original|). Labels must match exactly.",
)
@click.option("--force", is_flag=True, help="Write the model even if it answers differently from the original.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option(
    "--zipmap/--no-zipmap",
    default=False,
    show_default=True,
    help="Classifiers: probabilities as a list of {class: probability} dicts (ZipMap) instead of a tensor.",
)
@click.option("--opset", type=int, help="Target ONNX opset (default: the newest the converter is tested with).")
@click.option(
    "--exporter",
    type=click.Choice(["auto", "dynamo", "legacy"]),
    default="auto",
    show_default=True,
    help="PyTorch exporter: auto = dynamo (torch.export) for modules, legacy (TorchScript) for TorchScript files.",
)
def convert_command(
    file: Path,
    output: Path | None,
    inputs: tuple[str, ...],
    input_shapes: tuple[str, ...],
    sample: Path | None,
    rows: int | None,
    tolerance: float,
    force: bool,
    overwrite: bool,
    zipmap: bool,
    opset: int | None,
    exporter: str,
) -> None:
    """Convert a scikit-learn model (pickle or joblib) or a PyTorch module (torch.save or TorchScript) to ONNX.

    Both models run on sample rows first; the .onnx file is written only if their answers agree.
    Loading a pickle runs code from the file: convert only files you trust.
    """
    if inputs and input_shapes:
        raise ConversionError("use --input or --input-shape, not both")
    specs: list[InputSpec] = [parse_input(text) for text in inputs]
    specs += [parse_input_shape(text, i, len(input_shapes)) for i, text in enumerate(input_shapes)]
    options = ConvertOptions(
        source=file, output=output or file.with_suffix(".onnx"), inputs=tuple(specs),
        inputs_from_shape=bool(input_shapes), sample=sample, rows=rows, tolerance=tolerance, force=force,
        overwrite=overwrite, zipmap=zipmap, opset=opset, exporter=exporter,
    )  # fmt: skip
    try:
        report = convert_file(options)
    except OutputMismatch as err:
        _print_checks(err.report, tolerance)
        raise
    _print_checks(report, tolerance)
    if any(not check.ok for check in report.checks):
        click.echo("warning: written despite the differences above (--force)", err=True)
    click.echo(f"wrote {report.output} ({report.size:,} bytes)")
    click.echo(f"Next: funnx new {_function_name(report.output)} --model {report.output}")


def _print_checks(report: ConversionReport, tolerance: float) -> None:
    click.echo(f"converted {report.kind} {report.model_type} with {report.converter}")
    click.echo("inputs:  " + "  ".join(spec.text() for spec in report.inputs))
    click.echo("outputs: " + "  ".join(report.output_names))
    source = "generated" if report.rows_from == "generated" else f"from {report.rows_from}"
    click.echo(f"checked on {report.rows} rows ({source}) against the original model:")
    for check in report.checks:
        click.echo(f"  {check.describe(tolerance)}")


def _function_name(path: Path) -> str:
    stem = "".join(c if c.isalnum() else "_" for c in path.stem).strip("_").lower()
    return stem if stem and not stem[0].isdigit() else "model"

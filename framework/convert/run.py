"""``funnx convert`` as a function: load → convert → run both models on sample rows → compare → write.

Nothing is written unless every output agrees within the tolerance (or ``force`` is set), and
then atomically: the model goes to a temporary file beside the target, renamed over it at the end,
so a failed or interrupted conversion never leaves a partial .onnx behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framework.errors import ConversionError

from . import compare, samples
from .compare import OutputCheck
from .loading import check_source, load_model
from .specs import InputSpec, check_unique

#: Rows a PyTorch module is checked on when no sample is given: not the traced 2, to prove the batch axis.
TORCH_CHECK_ROWS = 3


@dataclass(frozen=True)
class ConvertOptions:
    source: Path
    output: Path
    inputs: tuple[InputSpec, ...] = ()
    inputs_from_shape: bool = False  # given as --input-shape (PyTorch only)
    sample: Path | None = None
    rows: int | None = None
    tolerance: float = compare.DEFAULT_TOLERANCE
    force: bool = False
    overwrite: bool = False
    zipmap: bool = False
    opset: int | None = None
    exporter: str = "auto"


@dataclass
class ConversionReport:
    kind: str  # "scikit-learn" or "PyTorch"
    model_type: str
    converter: str  # e.g. "skl2onnx 1.20.0, opset 22"
    inputs: list[InputSpec]
    output_names: list[str]
    checks: list[OutputCheck]
    rows: int
    rows_from: str  # the sample file, or "generated"
    output: Path
    size: int = 0


@dataclass
class _Prepared:
    """A converted model with the rows to check it on and the original model's answers for them."""

    report: ConversionReport
    model_bytes: bytes
    feeds: dict[str, Any]
    expected: list[Any]


class OutputMismatch(ConversionError):
    """The converted model answers differently from the original; carries the per-output checks."""

    def __init__(self, message: str, report: ConversionReport) -> None:
        super().__init__(message)
        self.report = report


def _opset_text(model: Any) -> str:
    versions = {entry.domain: entry.version for entry in model.opset_import}
    text = f"opset {versions.get('', '?')}"
    return text + (f", ai.onnx.ml {versions['ai.onnx.ml']}" if "ai.onnx.ml" in versions else "")


def convert_file(options: ConvertOptions) -> ConversionReport:
    check_source(options.source)
    if options.output.exists() and not options.overwrite:
        raise ConversionError(f"{options.output} exists: pass --overwrite to replace it, or choose -o FILE")
    if options.rows is not None and options.rows < 1:
        raise ConversionError("--rows must be at least 1")
    check_unique(list(options.inputs))
    loaded = load_model(options.source)
    sample = samples.read_sample(options.sample) if options.sample else None
    if loaded.kind == "sklearn":
        prepared = _sklearn(loaded.model, options, sample)
    else:
        prepared = _torch(loaded.model, loaded.torchscript, options, sample)
    report = prepared.report
    names, actual = compare.run_onnx(prepared.model_bytes, prepared.feeds)
    report.output_names = names
    report.checks = compare.compare_outputs(names, actual, prepared.expected, options.tolerance)
    failed = [check for check in report.checks if not check.ok]
    if failed and not options.force:
        summary = "; ".join(check.describe(options.tolerance) for check in failed)
        raise OutputMismatch(
            f"the ONNX model answers differently from the original on the sample rows ({summary}); nothing was "
            "written: check the input types, raise --tolerance, or pass --force to write it anyway",
            report,
        )
    write_atomically(options.output, prepared.model_bytes)
    report.size = len(prepared.model_bytes)
    return report


def _serialize(model: Any) -> bytes:
    try:
        return bytes(model.SerializeToString())
    except ValueError as err:  # protobuf's 2 GB limit
        raise ConversionError(f"the converted model is too large for one .onnx file: {err}") from None


def _sklearn(estimator: Any, options: ConvertOptions, sample: samples.Sample | None) -> _Prepared:
    from . import from_sklearn

    if options.inputs_from_shape:
        raise ConversionError("--input-shape is for PyTorch modules; declare scikit-learn inputs with --input")
    from_sklearn.check_fitted(estimator)
    specs = from_sklearn.infer_inputs(estimator, options.inputs, sample)
    if sample is not None:
        feature_names = getattr(estimator, "feature_names_in_", None)
        names = None if feature_names is None else [str(n) for n in feature_names]
        natural = samples.sample_rows(sample, specs, options.rows, names)
    else:
        rows = options.rows or samples.GENERATED_ROWS
        natural = samples.generated_rows(specs, rows, from_sklearn.value_choices(estimator))
    feeds = samples.as_feeds(natural, specs)
    opset = options.opset or from_sklearn.default_opset()
    model = from_sklearn.convert(estimator, specs, opset, options.zipmap)
    expected = from_sklearn.original_outputs(estimator, specs, natural)
    import skl2onnx

    report = _report("scikit-learn", estimator, f"skl2onnx {skl2onnx.__version__}, {_opset_text(model)}",
                     specs, natural, options)  # fmt: skip
    return _Prepared(report, _serialize(model), feeds, expected)


def _torch(module: Any, torchscript: bool, options: ConvertOptions, sample: samples.Sample | None) -> _Prepared:
    from . import from_torch

    specs = list(options.inputs)
    from_torch.check_inputs(specs)
    exporter = from_torch.choose_exporter(options.exporter, torchscript)
    trace = samples.as_feeds(samples.generated_rows(specs, from_torch.TRACE_ROWS), specs)
    model = from_torch.export(module, specs, trace, exporter, options.opset)
    if sample is not None:
        natural = samples.sample_rows(sample, specs, options.rows)
    else:
        natural = samples.generated_rows(specs, options.rows or TORCH_CHECK_ROWS)
    feeds = samples.as_feeds(natural, specs)
    expected = from_torch.original_outputs(module, specs, feeds)
    from_torch.check_batch_rows(expected, len(next(iter(feeds.values()))))
    torch = from_torch.require_torch()
    converter = f"torch.onnx.export ({exporter} exporter, torch {torch.__version__}), {_opset_text(model)}"
    report = _report("PyTorch", module, converter, specs, natural, options)
    return _Prepared(report, _serialize(model), feeds, expected)


def _report(kind: str, model: Any, converter: str, specs: list[InputSpec], natural: dict[str, Any],
            options: ConvertOptions) -> ConversionReport:  # fmt: skip
    rows = len(next(iter(natural.values()))) if natural else 0
    return ConversionReport(
        kind=kind, model_type=type(model).__name__, converter=converter, inputs=specs, output_names=[], checks=[],
        rows=rows, rows_from=str(options.sample) if options.sample else "generated", output=options.output,
    )  # fmt: skip


def write_atomically(target: Path, content: bytes) -> None:
    """Write ``content`` to a temporary file in ``target``'s folder, then rename it over ``target``.

    The temporary file is opened like any new file (so it gets the usual permissions, unlike
    mkstemp's 0600) and exclusively (a random name that must not exist yet).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("xb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise

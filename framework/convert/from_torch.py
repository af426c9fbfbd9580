"""PyTorch → ONNX with ``torch.onnx.export``, the batch axis (first dim of every input and output) dynamic.

Accepted files: a whole module saved with ``torch.save(model, FILE)`` (its class must be importable
here, as for any pickle) and a TorchScript file from ``torch.jit.save``. A state_dict holds weights
without the code that uses them, so it cannot be converted on its own.

Exporter (``--exporter``): ``dynamo`` is torch.export-based, the default since torch 2.9, and needs
onnxscript; ``legacy`` is the TorchScript-based one, deprecated but the only one that takes a
TorchScript file. ``auto`` picks dynamo for modules and legacy for TorchScript files; a failing
export is reported (with the other exporter as a hint), never silently retried with it.
The module is exported and compared in eval mode (dropout off, batch-norm statistics frozen).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from framework.errors import ConversionError

from .loading import INSTALL_TORCH, importable_from_cwd, missing_module_error
from .specs import InputSpec

EXPORTERS = ("auto", "dynamo", "legacy")
TORCH_TYPES = {"float", "double", "float16", "int64", "int32", "bool"}
#: Rows used to trace the export: not 1, which torch.export would specialise the batch axis to.
TRACE_ROWS = 2


def require_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ConversionError(f"converting a PyTorch model needs torch; install it with {INSTALL_TORCH}") from None
    return torch


def load(path: Path, torchscript: bool) -> Any:
    torch = require_torch()
    try:
        with importable_from_cwd(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if torchscript:
                return torch.jit.load(str(path), map_location="cpu")
            module = torch.load(path, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as err:
        raise missing_module_error(path, err.name or str(err)) from None
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConversionError(f"torch cannot load {path}: {first}") from None
    if isinstance(module, dict):
        raise ConversionError(
            f"{path} holds a state_dict (weights only), not a module: save the module itself with "
            "torch.save(model, FILE) or torch.jit.save(torch.jit.script(model), FILE)"
        )
    if not isinstance(module, torch.nn.Module):
        raise ConversionError(f"{path} holds a {type(module).__name__}, not a torch.nn.Module")
    return module


def check_inputs(specs: Sequence[InputSpec]) -> None:
    if not specs:
        raise ConversionError(
            "a PyTorch module does not record its input shape: give it with --input-shape 1,3,224,224 "
            "(one per forward() argument, batch first) or --input NAME:TYPE[DIMS]"
        )
    for spec in specs:
        if spec.type not in TORCH_TYPES:
            raise ConversionError(f"input {spec.text()}: PyTorch inputs take {', '.join(sorted(TORCH_TYPES))}")
        if spec.dims is None or any(d is None for d in spec.dims[1:]):
            raise ConversionError(f"input {spec.text()}: give a size for every dimension after the batch")


def choose_exporter(requested: str, torchscript: bool) -> str:
    exporter = ("legacy" if torchscript else "dynamo") if requested == "auto" else requested
    if exporter == "dynamo" and torchscript:
        raise ConversionError("the dynamo exporter cannot export a TorchScript file: use --exporter legacy")
    if exporter == "dynamo":
        try:
            import onnxscript  # noqa: F401
        except ImportError:
            raise ConversionError(
                "the dynamo exporter (torch.onnx.export(dynamo=True)) needs onnxscript: "
                "pip install 'funnx[convert]', or use --exporter legacy"
            ) from None
    return exporter


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters warn about deprecations and missing torchvision ops, and onnxscript logs the
    tracebacks of fallbacks it tried: noise for this one export, whose outcome is checked instead."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _tensors(torch: Any, feeds: dict[str, np.ndarray[Any, Any]], specs: Sequence[InputSpec]) -> tuple[Any, ...]:
    return tuple(torch.from_numpy(np.ascontiguousarray(feeds[spec.name])) for spec in specs)


def _flatten(result: Any) -> list[Any]:
    if isinstance(result, list | tuple):
        return [item for part in result for item in _flatten(part)]
    if isinstance(result, dict):
        return [item for part in result.values() for item in _flatten(part)]
    return [result]


def original_outputs(module: Any, specs: Sequence[InputSpec], feeds: dict[str, np.ndarray[Any, Any]]) -> list[Any]:
    torch = require_torch()
    try:
        with torch.no_grad():
            result = module(*_tensors(torch, feeds, specs))
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConversionError(f"the module fails on inputs {', '.join(s.text() for s in specs)}: {first}") from None
    return [t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t) for t in _flatten(result)]


def export(module: Any, specs: Sequence[InputSpec], trace_feeds: dict[str, np.ndarray[Any, Any]], exporter: str,
           opset: int | None) -> Any:  # fmt: skip
    """The ONNX ModelProto of ``module`` with a symbolic batch axis on every input and output."""
    torch = require_torch()
    import onnx

    module.eval()
    args = _tensors(torch, trace_feeds, specs)
    outputs = original_outputs(module, specs, trace_feeds)
    check_batch_rows(outputs, TRACE_ROWS)
    output_names = ["output"] if len(outputs) == 1 else [f"output_{i}" for i in range(len(outputs))]
    input_names = [spec.name for spec in specs]
    try:
        with _quiet():
            if exporter == "dynamo":
                batch = torch.export.Dim("batch")
                program = torch.onnx.export(
                    module, args, dynamo=True, verbose=False, input_names=input_names, output_names=output_names,
                    dynamic_shapes=tuple({0: batch} for _ in specs), opset_version=opset, external_data=False,
                )  # fmt: skip
                model = program.model_proto
            else:
                buffer = io.BytesIO()
                axes = {name: {0: "batch"} for name in [*input_names, *output_names]}
                torch.onnx.export(
                    module, args, buffer, dynamo=False, input_names=input_names, output_names=output_names,
                    dynamic_axes=axes, opset_version=opset,
                )  # fmt: skip
                model = onnx.load_from_string(buffer.getvalue())
    except Exception as err:
        other = "legacy" if exporter == "dynamo" else "dynamo"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConversionError(
            f"torch.onnx.export ({exporter} exporter) failed: {first} (try --exporter {other})"
        ) from None
    _check_batch_axis(model)
    made = next((entry.version for entry in model.opset_import if entry.domain == ""), None)
    if opset is not None and made != opset:  # the dynamo exporter converts versions on a best-effort basis
        raise ConversionError(
            f"the {exporter} exporter made opset {made}, not the {opset} asked for: leave --opset out"
            + (", or try --exporter legacy for an older opset" if exporter == "dynamo" else "")
        )
    model.metadata_props.add(key="converted_from", value=f"torch {torch.__version__} {type(module).__name__}")
    return model


def _check_batch_axis(model: Any) -> None:
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_param:
            raise ConversionError(
                f"the exported {value.name!r} has a fixed first dimension ({dims[0].dim_value}), so it cannot take "
                "a batch of any size: the module's code depends on the batch size (e.g. x.view(1, -1); use "
                "x.flatten(1) or x.view(x.shape[0], -1))"
            )


def check_batch_rows(outputs: Sequence[Any], rows: int) -> None:
    """Every output must have one row per input row, or the batch axis means nothing."""
    for index, value in enumerate(outputs):
        shape = np.shape(value)
        if not shape or shape[0] != rows:
            raise ConversionError(
                f"output {index} of the module has shape {list(shape)} for {rows} input rows: funnx serves batches, "
                "so every output needs one row per input row (does the code fix the batch size, e.g. x.view(1, -1)?)"
            )

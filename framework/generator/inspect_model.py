"""Read a local model's signature with onnxruntime and build an example request from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from framework.runtime.errors import FunnxError
from framework.runtime.signature import ModelSignature, TensorSpec, read_signature

#: Inputs with more elements than this get a numpy snippet instead of a literal JSON example.
MAX_LITERAL_ELEMENTS = 48


def read_local_signature(path: Path) -> ModelSignature:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FunnxError(f"onnxruntime cannot load {path}: {first_line}") from None
    return read_signature(session)


def _example_shape(spec: TensorSpec) -> tuple[int, ...]:
    assert spec.shape is not None
    return tuple(d if isinstance(d, int) and d >= 0 else 1 for d in spec.shape)


def _example_value(spec: TensorSpec) -> Any:
    shape = _example_shape(spec)
    assert spec.dtype is not None
    if spec.dtype.kind == "O":
        return np.full(shape, "text", dtype=object).tolist()
    return np.zeros(shape, dtype=spec.dtype).tolist()


def _numpy_example(spec: TensorSpec) -> str:
    """Python source building an example value for ``spec`` (for inputs too large to show)."""
    shape = _example_shape(spec)
    if spec.dtype is not None and spec.dtype.kind == "O":
        return f"np.full({shape}, 'text').tolist()"
    return f"np.zeros({shape}, dtype={str(spec.dtype)!r}).tolist()"


def example_lines(signature: ModelSignature, url: str) -> list[str]:
    """Lines (never containing a newline) for a comment showing a request this model accepts."""
    tensors = [
        spec for spec in signature.inputs if spec.is_tensor and spec.dtype is not None and spec.shape is not None
    ]
    if len(tensors) != len(signature.inputs):
        return ["Example request: this model has non-tensor inputs; send them under 'inputs' by name."]
    lines = ["Inputs:  " + "; ".join(spec.describe() for spec in signature.inputs)]
    lines.append("Outputs: " + "; ".join(spec.describe() for spec in signature.outputs))
    elements = sum(int(np.prod(_example_shape(spec))) for spec in tensors)
    if elements <= MAX_LITERAL_ELEMENTS:
        if len(tensors) == 1:
            body: dict[str, Any] = {"data": _example_value(tensors[0])}
        else:
            body = {"inputs": {spec.name: _example_value(spec) for spec in tensors}}
        # json.dumps escapes control characters, so names from the model cannot end the comment line;
        # \u0027 keeps a quote in a name from ending the shell's single-quoted string.
        payload = json.dumps(body, ensure_ascii=True).replace("'", "\\u0027")
        lines += [
            "",
            "Example request:",
            f"  curl -X POST {url} -H 'Content-Type: application/json' \\",
            f"    -d '{payload}'",
        ]
    else:
        lines += ["", "Example request (large input, built with numpy):"]
        lines.append("    import json, urllib.request, numpy as np")
        arrays = ", ".join(f"{json.dumps(spec.name, ensure_ascii=True)}: {_numpy_example(spec)}" for spec in tensors)
        lines.append(f"    body = json.dumps({{'inputs': {{{arrays}}}}}).encode()")
        lines.append(f"    print(urllib.request.urlopen(urllib.request.Request({url!r}, data=body)).read())")
    return lines

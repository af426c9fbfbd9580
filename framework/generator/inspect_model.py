"""Read a local model's signature with onnxruntime and build an example request it accepts.

The example's symbolic dimensions take sizes the model was seen to run with (see
:mod:`framework.runtime.sizes`, shared with the OpenAPI document's examples).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from framework.errors import FunnxError
from framework.runtime.signature import ModelSignature, TensorSpec, read_signature
from framework.runtime.sizes import Sizes, accepted_sizes, example_array, tensor_inputs

from .render import py_literal

#: Inputs with more elements than this get a numpy snippet instead of a literal JSON example.
MAX_LITERAL_ELEMENTS = 48


@dataclass(frozen=True)
class Inspected:
    """A local model file as `funnx new` sees it."""

    signature: ModelSignature
    sizes: Sizes | None  # None: a non-tensor input, no generic example


def inspect(path: Path) -> Inspected:
    """The model's signature and the sizes of its symbolic dimensions that it accepts."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FunnxError(f"onnxruntime cannot load {path}: {first_line}") from None
    signature = read_signature(session)
    tensors = tensor_inputs(signature)
    return Inspected(signature, accepted_sizes(session, signature, tensors) if tensors is not None else None)


def read_local_signature(path: Path) -> ModelSignature:
    return inspect(path).signature


def _example_value(spec: TensorSpec, sizes: Sizes) -> Any:
    return example_array(spec, sizes.shape(spec)).tolist()


def _numpy_example(spec: TensorSpec, sizes: Sizes) -> str:
    """Python source building an example value for ``spec`` (for inputs too large to show)."""
    shape = sizes.shape(spec)
    if spec.dtype is not None and spec.dtype.kind == "O":
        return f"np.full({shape}, 'text').tolist()"
    return f"np.zeros({shape}, dtype={str(spec.dtype)!r}).tolist()"


@dataclass(frozen=True)
class Example:
    """A request the model accepts: the JSON body when small, and Python source building it."""

    body: dict[str, Any] | None
    python: str
    uses_numpy: bool


def example_request(model: Inspected) -> Example | None:
    """None when the model has non-tensor inputs (no generic example exists)."""
    tensors, sizes = tensor_inputs(model.signature), model.sizes
    if tensors is None or sizes is None:
        return None
    if sum(int(np.prod(sizes.shape(spec))) for spec in tensors) <= MAX_LITERAL_ELEMENTS:
        if len(tensors) == 1:
            body: dict[str, Any] = {"data": _example_value(tensors[0], sizes)}
        else:
            body = {"inputs": {spec.name: _example_value(spec, sizes) for spec in tensors}}
        return Example(body, f"json.loads({py_literal(json.dumps(body))})", uses_numpy=False)
    arrays = ", ".join(f"{py_literal(spec.name)}: {_numpy_example(spec, sizes)}" for spec in tensors)
    return Example(None, f"{{'inputs': {{{arrays}}}}}", uses_numpy=True)


def example_lines(model: Inspected, url: str) -> list[str]:
    """Lines for a comment showing the model's signature and a request it accepts."""
    signature = model.signature
    lines = ["Inputs:  " + "; ".join(spec.describe() for spec in signature.inputs)]
    lines.append("Outputs: " + "; ".join(spec.describe() for spec in signature.outputs))
    example = example_request(model)
    if example is None:
        return [*lines, "", "Example request: this model has non-tensor inputs; send them under 'inputs' by name."]
    if example.body is not None:
        # json.dumps escapes control characters, so names from the model cannot end the comment line;
        # \u0027 keeps a quote in a name from ending the shell's single-quoted string.
        payload = json.dumps(example.body, ensure_ascii=True).replace("'", "\\u0027")
        return [
            *lines,
            "",
            "Example request:",
            f"  curl -X POST {url} -H 'Content-Type: application/json' \\",
            f"    -d '{payload}'",
        ]
    return [
        *lines,
        "",
        "Example request (large input, built with numpy):",
        "    import json, urllib.request, numpy as np",
        f"    body = json.dumps({example.python}).encode()",
        f"    print(urllib.request.urlopen(urllib.request.Request({url!r}, data=body)).read())",
    ]

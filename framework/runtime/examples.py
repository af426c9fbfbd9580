"""Example requests for a loaded model, one per HTTP contract, that the model accepts as they are.

The OpenAPI document carries them, so the API page's "Try it out" sends a request that answers 200
as generated. Symbolic dimensions take sizes the model was seen to run with (:mod:`.sizes`, the same
search `funnx new` does: size hints from the model's metadata, then common sizes, the batch kept at
1), searched once per loaded version of the model. Values are zeros (``"text"`` for strings).

No example exists for models with non-tensor inputs (``seq``/``map``), nor on the Open Inference
Protocol for FP16/BF16 inputs, which it carries only as binary data; the document says so instead.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from .datatypes import BINARY_ONLY, wire_name
from .loading import LoadedModel
from .signature import TensorSpec
from .sizes import Sizes, accepted_sizes, example_array, tensor_inputs

#: Inputs with more elements than this in all get no example. An image model's 1x3x224x224 (150,528)
#: fits: the API page shows it in ~3 s and sends it in ~5 s (0.75 MB per example in the document);
#: a 1x3x512x512 one would take ~15 s and add 4 MB per example.
MAX_EXAMPLE_ELEMENTS = 262_144

#: id(loaded model) → its sizes, dropped with the loaded model (LoadedModel is not hashable).
_searched: dict[int, Sizes | None] = {}
_lock = threading.Lock()


def example_sizes(loaded: LoadedModel) -> Sizes | None:
    """Sizes of the model's symbolic dimensions that it runs with; None when it has non-tensor inputs.

    Runs the model on zeros (once per loaded version, up to a few times for models with free sizes)."""
    with _lock:  # one search per version, even when several documents are asked for at once
        if id(loaded) not in _searched:
            tensors = tensor_inputs(loaded.signature)
            found = None if tensors is None else accepted_sizes(loaded.session, loaded.signature, tensors)
            _searched[id(loaded)] = found
            weakref.finalize(loaded, _searched.pop, id(loaded), None)
        return _searched[id(loaded)]


def _shapes(loaded: LoadedModel) -> dict[str, tuple[TensorSpec, tuple[int, ...]]]:
    sizes = example_sizes(loaded)
    return {} if sizes is None else {spec.name: (spec, sizes.shape(spec)) for spec in loaded.signature.inputs}


def _arrays(loaded: LoadedModel) -> dict[str, np.ndarray[Any, Any]] | None:
    shapes = _shapes(loaded)
    if not shapes or sum(int(np.prod(shape)) for _, shape in shapes.values()) > MAX_EXAMPLE_ELEMENTS:
        return None
    return {name: example_array(spec, shape) for name, (spec, shape) in shapes.items()}


def simple_examples(loaded: LoadedModel) -> dict[str, Any] | None:
    """OpenAPI ``examples`` for the simple contract: ``{"data": ...}`` (single-input models) and
    ``{"inputs": {...}}``."""
    arrays = _arrays(loaded)
    if arrays is None:
        return None
    examples: dict[str, Any] = {}
    if len(arrays) == 1:
        (value,) = arrays.values()
        examples["data"] = {"summary": "the input as 'data'", "value": {"data": value.tolist()}}
    named = {name: value.tolist() for name, value in arrays.items()}
    examples["inputs"] = {"summary": "inputs by name", "value": {"inputs": named}}
    return examples


def oip_examples(loaded: LoadedModel) -> dict[str, Any] | None:
    """OpenAPI ``examples`` for an Open Inference Protocol JSON inference request (row-major ``data``)."""
    arrays = _arrays(loaded)
    specs = {spec.name: spec for spec in loaded.signature.inputs}
    if arrays is None or any(wire_name(spec.type) in BINARY_ONLY for spec in specs.values()):
        return None
    tensors = [
        {
            "name": name,
            "datatype": wire_name(specs[name].type),
            "shape": list(value.shape),
            "data": value.ravel().tolist(),
        }
        for name, value in arrays.items()
    ]
    return {"zeros": {"summary": "zeros of shapes the model accepts", "value": {"inputs": tensors}}}


def why_none(loaded: LoadedModel, contract: str) -> str:
    """Why a contract has no example for this model (shown in the document instead)."""
    specs = loaded.signature.inputs
    if not specs:
        return "No example: the model takes no inputs."
    if tensor_inputs(loaded.signature) is None:
        odd = ", ".join(spec.describe() for spec in specs if not spec.is_tensor or spec.shape is None)
        return f"No example: the model has non-tensor inputs ({odd}); send them under 'inputs' by name."
    binary = [spec.name for spec in specs if wire_name(spec.type) in BINARY_ONLY]
    if contract == "oip" and binary:
        return (
            f"No JSON example: input(s) {', '.join(binary)} are FP16/BF16, which the Open Inference Protocol "
            "carries only as binary data (Triton's binary tensor extension, e.g. tritonclient)."
        )
    shapes = ", ".join(f"{spec.name} {list(shape)}" for spec, shape in _shapes(loaded).values())
    return f"No example: the inputs ({shapes}) hold more than {MAX_EXAMPLE_ELEMENTS} values; send them from code."

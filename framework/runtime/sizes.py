"""Sizes for a model's symbolic dimensions that the model actually accepts.

`funnx new` uses them for the example request and generated test it writes; the OpenAPI document for
the examples the API page sends. An example must run as generated. A
symbolic dimension says "some size", not "any size": a CNN with dynamic height and width cannot
take 1x1, a model may need a sequence length it was traced with. So the candidates are tried on
the model itself with onnxruntime: size hints from the model's metadata first (``image_size``,
``max_length`` …), then common sizes, the first dimension (the batch) kept at 1. One symbol always
gets one size, wherever it appears (ONNX semantics).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .signature import ModelSignature, TensorSpec, shared_symbol

#: Sizes tried for non-batch symbols, all symbols at once, in this order.
COMMON_SIZES = (1, 224, 8, 32, 64, 128, 256, 16, 512, 299, 384)
#: Metadata keys whose numeric values are likely sizes (case-insensitive substrings).
HINT_KEYS = ("image_size", "img_size", "input_size", "resolution", "height", "width", "max_length", "seq_len",
             "sequence_length", "max_position")  # fmt: skip
#: Stop probing after this long (big models take seconds per run).
BUDGET_SECONDS = 20.0


@dataclass(frozen=True)
class Sizes:
    """What each symbolic dimension is set to; ``confirmed`` when the model ran with it."""

    by_symbol: dict[str, int]
    confirmed: bool

    def shape(self, spec: TensorSpec) -> tuple[int, ...]:
        assert spec.shape is not None
        return tuple(d if isinstance(d, int) and d >= 0 else self.by_symbol[key(spec, axis)]
                     for axis, d in enumerate(spec.shape))  # fmt: skip


def key(spec: TensorSpec, axis: int) -> str:
    """The symbol a dimension belongs to: its name when that binds axes together (see
    signature.shared_symbol), else one of its own (unnamed dims, ``?``)."""
    assert spec.shape is not None
    return shared_symbol(spec.shape[axis]) or f"{spec.name}#{axis}"


def _symbols(inputs: list[TensorSpec]) -> tuple[list[str], set[str]]:
    """(every symbol in order, those on a first axis: the batch)."""
    ordered: list[str] = []
    batch: set[str] = set()
    for spec in inputs:
        assert spec.shape is not None
        for axis, dim in enumerate(spec.shape):
            if isinstance(dim, int) and dim >= 0:
                continue
            symbol = key(spec, axis)
            if symbol not in ordered:
                ordered.append(symbol)
            if axis == 0:
                batch.add(symbol)
    return ordered, batch


def _hints(metadata: dict[str, Any]) -> list[int]:
    found = []
    for name, value in metadata.get("custom_metadata", {}).items():
        if any(hint in name.lower() for hint in HINT_KEYS):
            found += [int(n) for n in re.findall(r"\d+", str(value)) if 1 < int(n) <= 4096]
    return found


def candidates(signature: ModelSignature, tensors: list[TensorSpec]) -> Iterator[Sizes]:
    symbols, batch = _symbols(tensors)
    others = [s for s in symbols if s not in batch]
    seen: list[int] = []
    for size in [*_hints(signature.metadata), *COMMON_SIZES]:
        if size not in seen:
            seen.append(size)
            yield Sizes({s: 1 if s in batch else size for s in symbols}, confirmed=False)
        if not others:
            return


def example_array(spec: TensorSpec, shape: tuple[int, ...]) -> Any:
    assert spec.dtype is not None
    if spec.dtype.kind == "O":
        return np.full(shape, "text", dtype=object)
    return np.zeros(shape, dtype=spec.dtype)


def tensor_inputs(signature: ModelSignature) -> list[TensorSpec] | None:
    """The inputs when all of them are tensors of known rank (a generic example exists), else None."""
    tensors = [s for s in signature.inputs if s.is_tensor and s.dtype is not None and s.shape is not None]
    return tensors if len(tensors) == len(signature.inputs) else None


def accepted_sizes(session: Any, signature: ModelSignature, tensors: list[TensorSpec]) -> Sizes:
    """The first candidate sizes ``session`` (an onnxruntime session of the model) runs with;
    unconfirmed ones (1 for every symbol) if none does."""
    import onnxruntime as ort

    quiet = ort.RunOptions()
    quiet.log_severity_level = 4  # refusals are expected here: not errors for the function logs
    deadline = time.monotonic() + BUDGET_SECONDS
    for sizes in candidates(signature, tensors):
        feeds = {spec.name: example_array(spec, sizes.shape(spec)) for spec in tensors}
        try:
            session.run(None, feeds, quiet)
        except Exception:
            if time.monotonic() > deadline:
                break
            continue
        return Sizes(sizes.by_symbol, confirmed=True)
    symbols, _ = _symbols(tensors)
    return Sizes(dict.fromkeys(symbols, 1), confirmed=False)

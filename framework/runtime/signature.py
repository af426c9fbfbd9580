"""A model's inputs, outputs and metadata, read from an onnxruntime session.

Everything that validates or encodes requests works from this description of the *loaded* model,
never from what a request claims. Non-tensor types (``seq(...)``, ``map(...)``) have no dtype.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: onnxruntime type string → numpy dtype, for every tensor element type numpy can hold.
ORT_TO_NUMPY: dict[str, np.dtype[Any]] = {
    f"tensor({name})": np.dtype(dtype)
    for name, dtype in {
        "float": np.float32,
        "double": np.float64,
        "float16": np.float16,
        "int8": np.int8,
        "int16": np.int16,
        "int32": np.int32,
        "int64": np.int64,
        "uint8": np.uint8,
        "uint16": np.uint16,
        "uint32": np.uint32,
        "uint64": np.uint64,
        "bool": np.bool_,
        "string": np.object_,
    }.items()
}

Dim = int | str | None
#: A symbolic dimension name that means the same size wherever it appears. Unnamed dimensions,
#: ``?`` and expressions (``batch*2``) are left out: exporters reuse those for unrelated axes.
_SHARED_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def shared_symbol(dim: Dim) -> str | None:
    """The dimension's name when it is one that binds every axis it names to one size (ONNX semantics)."""
    return dim if isinstance(dim, str) and _SHARED_SYMBOL.match(dim) else None


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: ``shape`` holds ints for fixed dims, names or None for symbolic ones."""

    name: str
    type: str
    shape: tuple[Dim, ...] | None
    dtype: np.dtype[Any] | None

    @property
    def is_tensor(self) -> bool:
        return self.type.startswith("tensor(")

    def shape_text(self) -> str:
        """Like ``[batch, 3]``; unknown dims show as ``?``."""
        return "" if self.shape is None else "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"

    def describe(self) -> str:
        shape = f" {self.shape_text()}" if self.shape is not None else ""
        return f"{self.name} ({self.type}{shape})"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "shape": None if self.shape is None else list(self.shape)}


@dataclass(frozen=True)
class ModelSignature:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def input(self, name: str) -> TensorSpec | None:
        return next((spec for spec in self.inputs if spec.name == name), None)

    @property
    def has_dynamic_inputs(self) -> bool:
        """Whether any input dimension is symbolic: the caller then picks sizes the model may not take."""
        return any(spec.shape is None or not all(isinstance(d, int) for d in spec.shape) for spec in self.inputs)

    @property
    def input_names(self) -> list[str]:
        return [spec.name for spec in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [spec.name for spec in self.outputs]


def _spec(arg: Any) -> TensorSpec:
    shape = arg.shape
    dims: tuple[Dim, ...] | None
    if arg.type.startswith("tensor(") and isinstance(shape, list | tuple):
        dims = tuple(d if isinstance(d, int | str) and d != -1 else None for d in shape)
    else:
        dims = None  # ORT reports [] for seq/map values: there is no shape to check
    return TensorSpec(name=arg.name, type=arg.type, shape=dims, dtype=ORT_TO_NUMPY.get(arg.type))


def read_signature(session: Any) -> ModelSignature:
    """Describe an ``onnxruntime.InferenceSession``."""
    meta = session.get_modelmeta()
    metadata = {
        "producer": meta.producer_name,
        "graph_name": meta.graph_name,
        "graph_description": meta.graph_description,
        "domain": meta.domain,
        "description": meta.description,
        # onnxruntime reports "no model_version" as INT64_MAX, which JSON clients cannot even hold
        "version": None if meta.version == 2**63 - 1 else meta.version,
        "custom_metadata": dict(meta.custom_metadata_map),
    }
    return ModelSignature(
        inputs=tuple(_spec(arg) for arg in session.get_inputs()),
        outputs=tuple(_spec(arg) for arg in session.get_outputs()),
        metadata=metadata,
    )

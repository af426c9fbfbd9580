"""Input declarations for ``funnx convert``: the ``--input NAME:TYPE[DIMS]`` syntax and its parsing.

One syntax for both converters, close to how ONNX tools print a signature (``X:float[?,4]``):

* ``NAME`` is the ONNX input name (it may contain ``:``; the last ``:`` separates the type);
* ``TYPE`` is one of :data:`TYPES` (``float`` is 32-bit, as onnxruntime and most servers expect);
* ``[DIMS]`` is optional; a dim is a size, or ``?`` (or a name) for a symbolic one. The first dim is
  the batch and always ends up symbolic. Left out, the converter fills in the shape it inferred.

``--input-shape 1,3,224,224`` (PyTorch) is shorthand for ``input:float[?,3,224,224]``.
Dependency-free (numpy dtypes are named, not imported) so the CLI can validate options at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from framework.errors import ConversionError

#: Element types accepted in ``--input`` → the numpy dtype name used for sample data.
TYPES: dict[str, str] = {
    "float": "float32",
    "double": "float64",
    "float16": "float16",
    "int64": "int64",
    "int32": "int32",
    "bool": "bool",
    "string": "object",
}
ALIASES = {"float32": "float", "float64": "double", "int": "int64", "str": "string", "boolean": "bool"}

Dims = tuple[int | None, ...]

_SPEC = re.compile(r"^(?P<name>.+):(?P<type>[A-Za-z0-9_]+)\s*(?:\[(?P<dims>[^\]]*)\])?$")
_SYMBOL = re.compile(r"^[A-Za-z_?][A-Za-z0-9_]*$|^\?$")


@dataclass(frozen=True)
class InputSpec:
    """One model input: ``dims`` None means "use the inferred shape"; None dims are symbolic."""

    name: str
    type: str
    dims: Dims | None = None

    @property
    def numpy_dtype(self) -> str:
        return TYPES[self.type]

    def with_dims(self, dims: Dims) -> InputSpec:
        return InputSpec(self.name, self.type, dims)

    def text(self) -> str:
        """The ``--input`` syntax for this spec (also how the CLI prints inferred inputs)."""
        if self.dims is None:
            return f"{self.name}:{self.type}"
        return f"{self.name}:{self.type}[{','.join('?' if d is None else str(d) for d in self.dims)}]"


def _dims(text: str, where: str) -> Dims:
    if not text.strip():
        raise ConversionError(f"{where}: give at least one dimension, e.g. [?,4]")
    dims: list[int | None] = []
    for part in (p.strip() for p in text.split(",")):
        if part.isdigit():
            dims.append(int(part))
        elif _SYMBOL.match(part) or part in {"-1", "None"}:
            dims.append(None)
        else:
            raise ConversionError(f"{where}: {part!r} is not a dimension (use a size like 4, or ? for any size)")
    dims[0] = None  # the batch axis: symbolic whatever the user wrote
    return tuple(dims)


def parse_input(text: str) -> InputSpec:
    """Parse one ``--input`` value; the error names the value and shows the syntax."""
    where = f"--input {text!r}"
    match = _SPEC.match(text.strip())
    if not match or not match["name"].strip():
        raise ConversionError(f"{where}: use NAME:TYPE or NAME:TYPE[DIMS], e.g. X:float[?,4] or color:string")
    kind = ALIASES.get(match["type"].lower(), match["type"].lower())
    if kind not in TYPES:
        raise ConversionError(f"{where}: unknown type {match['type']!r}; use one of {', '.join(TYPES)}")
    dims = None if match["dims"] is None else _dims(match["dims"], where)
    return InputSpec(match["name"].strip(), kind, dims)


def parse_input_shape(text: str, index: int, count: int) -> InputSpec:
    """``--input-shape 1,3,224,224`` → a float input named ``input`` (``input_0``... when several)."""
    where = f"--input-shape {text!r}"
    parts = [p.strip() for p in text.replace("x", ",").split(",")]
    if not parts or not all(p.isdigit() or p == "?" for p in parts):
        raise ConversionError(f"{where}: use comma-separated sizes with the batch first, e.g. 1,3,224,224")
    name = "input" if count == 1 else f"input_{index}"
    return InputSpec(name, "float", _dims(",".join(parts), where))


def check_unique(specs: list[InputSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ConversionError(f"input {spec.name!r} is declared twice; give each --input a different name")
        seen.add(spec.name)

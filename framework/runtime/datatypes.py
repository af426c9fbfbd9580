"""Open Inference Protocol datatypes ↔ numpy dtypes ↔ onnxruntime types, and BYTES serialisation.

Binary tensors are little-endian and row-major; BYTES elements are ``<uint32 length><bytes>``
each, as Triton's binary extension defines. BF16 has no numpy dtype onnxruntime's Python API
accepts, so funnx does not serve BF16 inputs (a clear 501).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from framework.errors import BadRequest

#: wire name → numpy dtype (little-endian)
WIRE_TO_NUMPY: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
ORT_TO_WIRE = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
    "tensor(bfloat16)": "BF16",
}
#: no JSON representation (as in Triton): these travel only as binary
BINARY_ONLY = {"FP16", "BF16"}


def wire_name(ort_type: str) -> str:
    """The OIP datatype for an onnxruntime type; non-tensors (seq/map) travel as BYTES of JSON text."""
    return ORT_TO_WIRE.get(ort_type, "BYTES")


_NUMPY_TO_WIRE = {dtype.newbyteorder("="): name for name, dtype in WIRE_TO_NUMPY.items() if name != "BYTES"}


def wire_of(array: np.ndarray[Any, Any]) -> str:
    if array.dtype.kind in "OUS":
        return "BYTES"
    name = _NUMPY_TO_WIRE.get(array.dtype.newbyteorder("="))
    if name is None:
        raise BadRequest(f"numpy dtype {array.dtype} has no Open Inference Protocol datatype")
    return name


def decode_bytes_elements(blob: memoryview, count: int, name: str) -> np.ndarray[Any, Any]:
    """``count`` length-prefixed elements → an object array of str (UTF-8) or bytes (when not UTF-8)."""
    items: list[Any] = []
    offset = 0
    for _ in range(count):
        if offset + 4 > len(blob):
            raise BadRequest(f"input '{name}': BYTES data ends inside an element's length prefix")
        (length,) = struct.unpack_from("<I", blob, offset)
        offset += 4
        if offset + length > len(blob):
            raise BadRequest(f"input '{name}': a BYTES element of {length} bytes runs past the end of its data")
        raw = bytes(blob[offset : offset + length])
        offset += length
        try:
            items.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadRequest(f"input '{name}': BYTES element is not UTF-8 (string tensors hold text)") from None
    if offset != len(blob):
        raise BadRequest(f"input '{name}': {len(blob) - offset} bytes left over after {count} BYTES elements")
    array = np.empty(count, dtype=object)
    array[:] = items
    return array


def encode_bytes_elements(values: np.ndarray[Any, Any]) -> bytes:
    parts = []
    for item in values.ravel():
        raw = item if isinstance(item, bytes) else str(item).encode("utf-8")
        parts.append(struct.pack("<I", len(raw)))
        parts.append(raw)
    return b"".join(parts)

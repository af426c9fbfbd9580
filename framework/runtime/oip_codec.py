"""Open Inference Protocol request and response bodies: JSON tensors and Triton's binary extension.

A request body is a JSON header, optionally followed by raw tensor bytes when the
``Inference-Header-Content-Length`` header gives the JSON's length (never judged by Content-Type).
Binary inputs claim their bytes in order with ``parameters.binary_data_size``; numeric ones become
``np.frombuffer`` views without a copy when aligned. A header value of 0 means the whole body is the
single input's raw bytes. Values are checked against the loaded model by the same code as the simple
contract (:mod:`.tensors`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from framework.errors import BadRequest, NotImplementedByFunnx

from . import jsoncodec
from .datatypes import BINARY_ONLY, WIRE_TO_NUMPY, decode_bytes_elements, encode_bytes_elements, wire_name, wire_of
from .jsoncodec import dumps
from .signature import ModelSignature, TensorSpec
from .tensors import check_shape, coerce, has_bool_literals, refuse_bools, to_jsonable

HEADER_LENGTH = "inference-header-content-length"
#: numpy's limits: 64 dimensions, and sizes in bytes (8 per element at most here) below 2**63.
MAX_RANK = 64
MAX_ELEMENTS = 2**60


@dataclass
class InferRequest:
    id: str | None
    inputs: dict[str, Any]
    outputs: list[str] | None  # None: every output
    binary: dict[str, bool] = field(default_factory=dict)  # per requested output
    binary_default: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)

    def wants_binary(self, output: str) -> bool:
        return self.binary.get(output, self.binary_default)


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return value


def _shape(value: Any, name: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value):
        raise BadRequest(f"input '{name}': 'shape' must be a list of non-negative integers")
    if len(value) > MAX_RANK:
        raise BadRequest(f"input '{name}': 'shape' has {len(value)} dimensions; at most {MAX_RANK} are supported")
    if math.prod(d for d in value if d) >= MAX_ELEMENTS:
        raise BadRequest(f"input '{name}': 'shape' {value} has more elements than a tensor can hold")
    return tuple(value)


def _expected(signature: ModelSignature, name: str) -> TensorSpec | None:
    spec = signature.input(name)
    return spec if spec is not None and spec.is_tensor else None


def parse_infer_request(body: bytes, header_length: str | None, signature: ModelSignature, model: str) -> InferRequest:
    """Decode an inference request against the loaded model's signature."""
    if header_length is None:
        json_part, blobs = body, memoryview(b"")
    else:
        try:
            length = int(header_length)
        except ValueError:
            raise BadRequest(f"Inference-Header-Content-Length must be an integer, not {header_length!r}") from None
        if not 0 <= length <= len(body):
            raise BadRequest(f"Inference-Header-Content-Length {length} is outside the body's {len(body)} bytes")
        if length == 0:
            return _raw_request(memoryview(body), signature, model)
        json_part, blobs = body[:length], memoryview(body)[length:]
    try:
        header = _object(jsoncodec.loads(json_part), "the inference request")
    except (ValueError, RecursionError):
        raise BadRequest("the inference request is not valid JSON") from None
    inputs = header.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("the inference request needs a non-empty 'inputs' list")
    parameters = _object(header.get("parameters", {}), "'parameters'")
    has_bools = has_bool_literals(json_part)  # cheap; see tensors.json_to_array
    feeds: dict[str, Any] = {}
    offset = 0
    for index, raw in enumerate(inputs):
        tensor = _object(raw, f"inputs[{index}]")
        name = tensor.get("name")
        if not isinstance(name, str):
            raise BadRequest(f"inputs[{index}] needs a string 'name'")
        if name in feeds:
            raise BadRequest(f"input '{name}' appears twice")
        array, offset = _input_tensor(tensor, name, blobs, offset, _expected(signature, name), has_bools)
        feeds[name] = array
    if offset != len(blobs):
        raise BadRequest(f"{len(blobs) - offset} bytes of binary data follow the JSON but no input claims them")
    request_id = header.get("id")
    if not isinstance(request_id, str | int | float | None) or isinstance(request_id, bool):
        raise BadRequest("the request's 'id' must be a string")
    request = InferRequest(
        id=str(request_id) if request_id is not None else None,
        inputs=feeds,
        outputs=None,
        binary_default=parameters.get("binary_data_output") is True,
        parameters=parameters,
    )
    _requested_outputs(header.get("outputs"), request, signature, model)
    return request


def _input_tensor(
    tensor: dict[str, Any], name: str, blobs: memoryview, offset: int, spec: TensorSpec | None, has_bools: bool
) -> tuple[Any, int]:
    datatype = tensor.get("datatype")
    shape = _shape(tensor.get("shape"), name)
    params = _object(tensor.get("parameters", {}), f"input '{name}' parameters")
    if any(key.startswith("shared_memory") for key in params):
        raise NotImplementedByFunnx(f"input '{name}': the shared-memory extension is not implemented; send data")
    if datatype == "BF16":
        raise NotImplementedByFunnx(f"input '{name}': BF16 tensors are not supported by funnx")
    if not isinstance(datatype, str) or datatype not in WIRE_TO_NUMPY:
        what = f"unknown datatype {datatype!r}" if isinstance(datatype, str) else "'datatype' must be a string"
        raise BadRequest(f"input '{name}': {what}; use one of {', '.join(WIRE_TO_NUMPY)}")
    if spec is not None and datatype != wire_name(spec.type):
        raise BadRequest(f"input '{name}' has datatype {datatype}; the model expects {wire_name(spec.type)}")
    count = math.prod(shape)
    size = params.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadRequest(f"input '{name}': binary_data_size must be a non-negative integer")
        if offset + size > len(blobs):
            raise BadRequest(f"input '{name}': binary_data_size {size} runs past the {len(blobs)} bytes of binary data")
        array = _from_binary(blobs[offset : offset + size], datatype, shape, count, name)
        offset += size
    elif "data" in tensor:
        if has_bools and datatype not in ("BOOL", "BYTES"):
            refuse_bools(tensor["data"], name, datatype)
        array = _from_json(tensor["data"], datatype, shape, count, name)
    else:
        raise BadRequest(f"input '{name}' has neither 'data' nor parameters.binary_data_size")
    if spec is not None:
        check_shape(array, spec)
    return array, offset


def _from_binary(blob: memoryview, datatype: str, shape: tuple[int, ...], count: int, name: str) -> Any:
    if datatype == "BYTES":
        return decode_bytes_elements(blob, count, name).reshape(shape)
    dtype = WIRE_TO_NUMPY[datatype]
    if len(blob) != count * dtype.itemsize:
        raise BadRequest(
            f"input '{name}': {len(blob)} bytes of binary data, but shape {list(shape)} of {datatype} needs "
            f"{count * dtype.itemsize}"
        )
    array = np.frombuffer(blob, dtype=dtype).reshape(shape)
    return array if array.flags.aligned else array.copy()  # zero-copy unless misaligned in the body


def _from_json(data: Any, datatype: str, shape: tuple[int, ...], count: int, name: str) -> Any:
    if datatype in BINARY_ONLY:
        raise BadRequest(f"input '{name}': {datatype} has no JSON form; send it as binary data")
    dtype = WIRE_TO_NUMPY[datatype]
    try:
        array = np.asarray(data, dtype=object) if datatype == "BYTES" else np.asarray(data)
    except (ValueError, TypeError):
        raise BadRequest(f"input '{name}': 'data' is not a rectangular array") from None
    if array.size != count:
        raise BadRequest(f"input '{name}': 'data' has {array.size} elements but shape {list(shape)} needs {count}")
    declared = TensorSpec(name=name, type=f"{datatype} input", shape=shape, dtype=dtype)
    return coerce(array.reshape(shape), declared)


def _raw_request(body: memoryview, signature: ModelSignature, model: str) -> InferRequest:
    """A body holding one input's raw bytes (Inference-Header-Content-Length: 0)."""
    if len(signature.inputs) != 1 or not signature.inputs[0].is_tensor:
        raise BadRequest(
            f"a raw binary body needs a model with one tensor input; model '{model}' has {len(signature.inputs)}"
        )
    spec = signature.inputs[0]
    datatype = wire_name(spec.type)
    if datatype == "BF16":
        raise NotImplementedByFunnx("BF16 tensors are not supported by funnx")
    dims = list(spec.shape or ())
    unknown = [i for i, d in enumerate(dims) if not isinstance(d, int)]
    if len(unknown) > 1 or (datatype == "BYTES" and dims != [1]):
        raise BadRequest(f"input '{spec.name}' {spec.shape_text()}: its shape cannot be inferred from a raw body")
    if datatype == "BYTES":
        try:
            array: Any = np.array([bytes(body).decode("utf-8")], dtype=object)
        except UnicodeDecodeError:
            raise BadRequest(f"input '{spec.name}' holds text: a raw body for it must be UTF-8") from None
    else:
        itemsize = WIRE_TO_NUMPY[datatype].itemsize
        known = math.prod(d for d in dims if isinstance(d, int)) * itemsize
        if known == 0 or len(body) % known:
            raise BadRequest(f"a raw body of {len(body)} bytes does not fit input '{spec.name}' {spec.shape_text()}")
        if unknown:
            dims[unknown[0]] = len(body) // known
        shape = tuple(int(d) for d in dims if d is not None)
        array = _from_binary(body, datatype, shape, math.prod(shape), spec.name)
    return InferRequest(id=None, inputs={spec.name: array}, outputs=None, binary_default=True)


def _requested_outputs(value: Any, request: InferRequest, signature: ModelSignature, model: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise BadRequest("'outputs' must be a list of {\"name\": ...} objects")
    available = signature.output_names
    names = []
    for index, raw in enumerate(value):
        output = _object(raw, f"outputs[{index}]")
        name = output.get("name")
        if not isinstance(name, str):
            raise BadRequest(f"outputs[{index}] needs a string 'name'")
        if name not in available:
            raise BadRequest(f"model '{model}' has no output {name!r}; it has: {', '.join(available)}")
        params = _object(output.get("parameters", {}), f"output '{name}' parameters")
        if params.get("classification"):
            raise NotImplementedByFunnx("the classification extension is not implemented; request the raw output")
        if any(key.startswith("shared_memory") for key in params):
            raise NotImplementedByFunnx("the shared-memory extension is not implemented")
        if isinstance(params.get("binary_data"), bool):
            request.binary[name] = params["binary_data"]
        names.append(name)
    if len(set(names)) != len(names):
        raise BadRequest("'outputs' names an output twice")
    request.outputs = names or None


def encode_infer_response(
    model: str, version: str | None, request: InferRequest, names: list[str], values: list[Any]
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) for the outputs: JSON, or JSON followed by binary blobs in output order."""
    described: list[dict[str, Any]] = []
    blobs: list[Any] = []
    for name, value in zip(names, values, strict=True):
        entry, blob = _output(name, value, request.wants_binary(name))
        described.append(entry)
        if blob is not None:
            blobs.append(blob)
    payload: dict[str, Any] = {"model_name": model}
    if version is not None:
        payload["model_version"] = version
    if request.id is not None:
        payload["id"] = request.id
    payload["outputs"] = described
    header = dumps(payload)
    if not blobs:
        return header, {"Content-Type": "application/json"}
    return b"".join([header, *blobs]), {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }


def _output(name: str, value: Any, binary: bool) -> tuple[dict[str, Any], Any]:
    if not isinstance(value, np.ndarray):  # seq/map outputs: one JSON text per element
        items = value if isinstance(value, list) else [value]
        value = np.array([json.dumps(to_jsonable(item)) for item in items] or [], dtype=object)
    datatype = wire_of(value)
    entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(value.shape)}
    if binary or datatype in BINARY_ONLY:
        if datatype == "BYTES":
            blob: Any = encode_bytes_elements(value)
        else:
            flat = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).reshape(-1)
            blob = flat.view(np.uint8).data  # the array's own memory, copied once into the body
        entry["parameters"] = {"binary_data_size": len(blob)}
        return entry, blob
    flat = value.ravel()  # numeric arrays go to the JSON encoder as they are
    entry["data"] = [to_jsonable(v) for v in flat.tolist()] if datatype == "BYTES" else np.ascontiguousarray(flat)
    return entry, None

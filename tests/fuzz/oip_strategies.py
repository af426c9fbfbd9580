"""Hypothesis strategies for Open Inference Protocol requests: JSON tensors, Triton binary bodies
(``binary_data_size``, BYTES length prefixes, ``Inference-Header-Content-Length``) and raw single-input
bodies, each field sometimes of the wrong type or value."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from hypothesis import strategies as st

from framework.runtime.datatypes import WIRE_TO_NUMPY
from tests.fuzz.harness import MODELS, Input
from tests.fuzz.strategies import compressed, dumps, json_values, models, tensors


def _odd(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``strategy`` most of the time, else any JSON value (the wrong type for the field)."""
    return st.one_of(strategy, strategy, strategy, json_values(6))


WIRE_NAMES = [*WIRE_TO_NUMPY, "BF16", "fp32", "FLOAT", ""]
SHAPES = st.one_of(
    st.lists(st.integers(-2, 4), max_size=4),
    st.lists(st.sampled_from([0, 1, 2**31, 2**62, 2**63, 2**70]), max_size=4),
    st.integers(30, 70).map(lambda n: [1] * n),
    json_values(4),
)


@st.composite
def oip_inputs(draw: st.DrawFn, item: Input) -> dict[str, Any]:
    """One input tensor of an OIP JSON request (``data`` in JSON), with the odd field gone wrong."""
    shape, nested, flat = draw(tensors(item))
    entry: dict[str, Any] = {"name": item.name, "datatype": item.datatype, "shape": shape}
    entry["data"] = flat if draw(st.booleans()) else nested
    mutation = draw(st.integers(0, 12))
    if mutation == 0:
        entry["datatype"] = draw(st.sampled_from(WIRE_NAMES) | json_values(4))
    elif mutation == 1:
        entry["shape"] = draw(SHAPES)
    elif mutation == 2:
        entry["name"] = draw(st.text(max_size=4) | json_values(4))
    elif mutation == 3:
        del entry[draw(st.sampled_from(sorted(entry)))]
    elif mutation == 4:
        entry["parameters"] = draw(
            st.fixed_dictionaries({}, optional={"binary_data_size": json_values(2), "shared_memory_region": st.text()})
            | json_values(4)
        )
    return entry


def _requested_outputs(outputs: list[str]) -> st.SearchStrategy[Any]:
    output = st.fixed_dictionaries(
        {"name": st.sampled_from([*outputs, "nope"])},
        optional={
            "parameters": st.fixed_dictionaries(
                {}, optional={"binary_data": _odd(st.booleans()), "classification": st.integers(0, 2)}
            )
        },
    )
    return _odd(st.lists(output, max_size=3))


@st.composite
def _envelope(draw: st.DrawFn, model: str, tensors_json: list[dict[str, Any]]) -> dict[str, Any]:
    """The request object around its input tensors: id, parameters, outputs, sometimes wrong."""
    request: dict[str, Any] = {"inputs": tensors_json if draw(st.integers(0, 19)) else draw(json_values(4))}
    if draw(st.integers(0, 4)) == 0:
        request["id"] = draw(_odd(st.text(max_size=8)))
    if draw(st.integers(0, 4)) == 0:
        request["parameters"] = draw(_odd(st.fixed_dictionaries({}, optional={"binary_data_output": st.booleans()})))
    if draw(st.integers(0, 3)) == 0:
        request["outputs"] = draw(_requested_outputs(MODELS[model][1]))
    return request


def _chosen_inputs(draw: st.DrawFn, model: str) -> list[Input]:
    inputs = MODELS[model][0]
    if draw(st.integers(0, 4)):
        return inputs
    extra = Input(draw(st.text(min_size=1, max_size=4)), draw(st.sampled_from(list(WIRE_TO_NUMPY))), (None,))
    return draw(st.lists(st.sampled_from([*inputs, extra]), unique=True))


@st.composite
def oip_json_requests(draw: st.DrawFn) -> tuple[str, Any]:
    """(model, request object) for ``POST /api/v2/models/<model>/infer`` with JSON tensors."""
    model = draw(models())
    tensors_json = [draw(oip_inputs(item)) for item in _chosen_inputs(draw, model)]
    return model, draw(_envelope(model, tensors_json))


def encode_elements(datatype: str, flat: list[Any], raw_bytes: list[bytes] | None = None) -> bytes:
    """Triton's binary form: little-endian values, BYTES as ``<uint32 length><bytes>`` each."""
    if datatype == "BYTES":
        items = raw_bytes if raw_bytes is not None else [str(v).encode("utf-8", "surrogatepass") for v in flat]
        return b"".join(struct.pack("<I", len(item)) + item for item in items)
    with np.errstate(all="ignore"):
        return np.array(flat, dtype=WIRE_TO_NUMPY[datatype]).tobytes()


BAD_SIZES = [-1, -(2**63), 2**64, 1.5, "12", None, True, [], {}]
BAD_LENGTHS = ["", "abc", "1.5", " 12", "0x10", "9" * 30, "9" * 5000, "-0", "+5", "1_0", "\u0661"]


@st.composite
def oip_binary_requests(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    """(model, body, headers): JSON header + blobs claimed by ``binary_data_size``, every count and
    length sometimes wrong, blobs sometimes truncated or padded, BYTES sometimes not UTF-8."""
    model = draw(models())
    entries: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for item in _chosen_inputs(draw, model):
        shape, _, flat = draw(tensors(item, valid_only=True))
        if item.datatype != "FP16" and draw(st.integers(0, 3)) == 0:
            entries.append({"name": item.name, "datatype": item.datatype, "shape": shape, "data": flat})
            continue
        raw = None
        if item.datatype == "BYTES" and draw(st.booleans()):
            raw = draw(st.lists(st.binary(max_size=6), min_size=len(flat), max_size=len(flat)))
        blob = encode_elements(item.datatype, flat, raw)
        size: Any = len(blob)
        corruption = draw(st.integers(0, 11))
        if corruption == 0:
            size = draw(st.integers(-4, len(blob) + 8) | st.sampled_from(BAD_SIZES))
        elif corruption == 1:
            blob = blob[: draw(st.integers(0, len(blob)))]
        elif corruption == 2:
            blob += draw(st.binary(min_size=1, max_size=8))
        elif corruption == 3:
            shape = draw(SHAPES)
        entries.append({"name": item.name, "datatype": item.datatype, "shape": shape})
        entries[-1]["parameters"] = {"binary_data_size": size}
        blobs.append(blob)
    header = dumps(draw(_envelope(model, entries)))
    body = header + b"".join(blobs)
    length: str = str(len(header))
    if draw(st.integers(0, 5)) == 0:
        length = draw(st.integers(-(2**64), len(body) + 10).map(str) | st.sampled_from(BAD_LENGTHS))
    body, headers = draw(compressed(body))
    return model, body, {"Inference-Header-Content-Length": length, **headers}


@st.composite
def raw_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """(model, body) for ``Inference-Header-Content-Length: 0``: one input's raw bytes, of any length."""
    model = draw(models())
    first = MODELS[model][0][0]
    itemsize = 1 if first.datatype == "BYTES" else WIRE_TO_NUMPY[first.datatype].itemsize
    sized = st.integers(0, 8).flatmap(lambda n: st.binary(min_size=n * itemsize, max_size=n * itemsize))
    text = st.text(max_size=8).map(lambda s: s.encode("utf-8", "surrogatepass"))
    return model, draw(st.one_of(sized, st.binary(max_size=40), text))

"""Hypothesis strategies for what clients send: JSON values (NaN, ±Infinity, huge integers, lone
surrogates), tensors (mostly near-valid, sometimes of the wrong kind, shape or rank), simple-contract
requests, compressed bodies, and bodies that are not quite requests (random bytes, deep nesting,
broken near-valid ones)."""

from __future__ import annotations

import gzip
import json
import math
import zlib
from typing import Any

import numpy as np
from hypothesis import strategies as st

from framework.runtime.datatypes import WIRE_TO_NUMPY
from tests.fuzz.harness import MODELS, Input

HUGE_INTS = [2**31, 2**32, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 2**80, -(2**80), 10**400, -(10**400)]
ODD_FLOATS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 65504.0, 65520.0, 3.5e38, -0.0]
ODD_STRINGS = ["\ud800", "a\udfffb", "", "1", "1.5", "true", "\x00", "é", "😀"]


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(HUGE_INTS),
        st.floats(),
        st.sampled_from(ODD_FLOATS),
        st.text(max_size=6),
        st.sampled_from(ODD_STRINGS),
    )


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
        max_leaves=max_leaves,
    )


def dumps(value: Any) -> bytes:
    """JSON as a careless client writes it: NaN/Infinity tokens, huge integers, escaped lone surrogates."""
    return json.dumps(value, allow_nan=True).encode()


def _int_range(datatype: str) -> tuple[int, int]:
    info = np.iinfo(WIRE_TO_NUMPY[datatype])
    return int(info.min), int(info.max)


def valid_elements(datatype: str) -> st.SearchStrategy[Any]:
    """Elements the contracts accept for ``datatype`` (floats include NaN and ±Infinity)."""
    if datatype.startswith("FP"):
        return st.floats(width=32 if datatype == "FP32" else 64) | st.integers(-1000, 1000)
    if datatype == "BOOL":
        return st.booleans()
    if datatype == "BYTES":
        return st.text(max_size=8)
    low, high = _int_range(datatype)
    return st.integers(low, high)


def nest(flat: list[Any], shape: list[int]) -> Any:
    """The row-major nested-list form of ``flat`` for ``shape``."""
    if not shape:
        return flat[0] if flat else None
    if len(shape) == 1:
        return list(flat)
    step = math.prod(shape[1:])
    return [nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


@st.composite
def tensors(draw: st.DrawFn, item: Input, valid_only: bool = False) -> tuple[list[int], Any, list[Any]]:
    """(shape, nested value, flat values) for ``item``: mostly the right rank and sizes, sometimes not."""
    dims: list[int | None] = list(item.dims)
    if draw(st.integers(0, 9)) == 0:
        dims = draw(st.lists(st.none() | st.integers(0, 3), max_size=4))
    shape = [
        draw(st.integers(0, 3)) if d is None else d if draw(st.integers(0, 9)) else draw(st.integers(0, d + 2))
        for d in dims
    ]
    valid = valid_elements(item.datatype)
    elements = valid if valid_only or draw(st.integers(0, 3)) else st.one_of(valid, scalars(), json_values(4))
    flat = draw(st.lists(elements, min_size=math.prod(shape), max_size=math.prod(shape)))
    nested = nest(flat, shape)
    if not valid_only and len(shape) >= 2 and shape[0] and shape[1] and draw(st.integers(0, 9)) == 0:
        nested[0].pop()  # ragged
    return shape, nested, flat


def models() -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(MODELS))


@st.composite
def simple_requests(draw: st.DrawFn) -> tuple[str, Any]:
    """(model, payload) for ``POST /api/<model>``: data or inputs forms, outputs, stray fields."""
    model = draw(models())
    inputs, outputs = MODELS[model]
    form = draw(st.sampled_from(["data", "inputs", "inputs", "both", "neither", "junk"]))
    if form == "junk":
        return model, draw(json_values())
    payload: dict[str, Any] = {}
    if form in ("data", "both"):
        payload["data"] = draw(tensors(inputs[0]))[1]
    if form in ("inputs", "both"):
        chosen = inputs if draw(st.booleans()) else draw(st.lists(st.sampled_from(inputs), unique=True))
        named = {item.name: draw(tensors(item))[1] for item in chosen}
        if draw(st.integers(0, 5)) == 0:
            named[draw(st.text(max_size=5))] = draw(json_values())
        payload["inputs"] = named if draw(st.integers(0, 19)) else draw(json_values())
    if draw(st.integers(0, 3)) == 0:
        names = st.lists(st.sampled_from([*outputs, "nope", ""]), max_size=3)
        payload["outputs"] = draw(names | json_values())
    if draw(st.integers(0, 9)) == 0:
        payload[draw(st.text(max_size=5))] = draw(json_values())
    return model, payload


@st.composite
def compressed(draw: st.DrawFn, body: bytes) -> tuple[bytes, dict[str, str]]:
    """``body`` as sent, mostly plain, sometimes gzip/deflate (valid, truncated, mislabelled)."""
    choice = draw(st.integers(0, 9))
    if choice <= 5:
        return body, {}
    encoding = draw(st.sampled_from(["gzip", "deflate", "raw-deflate", "x-gzip", "br", "identity", "GZIP "]))
    if encoding in ("gzip", "x-gzip", "GZIP "):
        data = gzip.compress(body, compresslevel=1)
    elif encoding == "deflate":
        data = zlib.compress(body, 1)
    elif encoding == "raw-deflate":
        compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
        data, encoding = compressor.compress(body) + compressor.flush(), "deflate"
    else:
        data = body
    if choice == 9:
        data = data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    return data, {"Content-Encoding": encoding}


DEPTHS = st.one_of(st.sampled_from([63, 64, 65, 1000, 1024, 1025, 5000, 100_000]), st.integers(1, 100_000))


def deep(depth: int, template: bytes) -> bytes:
    """``template`` with ``{}`` replaced by a value nested ``depth`` lists deep."""
    return template.replace(b"{}", b"[" * depth + b"1" + b"]" * depth)


def broken(body: bytes) -> st.SearchStrategy[bytes]:
    """``body`` truncated, with a byte changed, or with invalid UTF-8 spliced in."""
    at = st.integers(0, len(body))
    return st.one_of(
        at.map(lambda i: body[:i]),
        st.tuples(at, st.integers(0, 255)).map(lambda t: body[: t[0]] + bytes([t[1]]) + body[t[0] + 1 :]),
        st.tuples(at, st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xef\xbb\xbf"])).map(
            lambda t: body[: t[0]] + t[1] + body[t[0] :]
        ),
    )


ODD_BODIES = [
    b"",
    b" \n",
    b"null",
    b"[]",
    b"1e400",
    b'{"data": [1e400, -1e400]}',
    b'{"data": [NaN, Infinity, -Infinity]}',
    b'{"data": [1, 2, 3], "data": null}',
    b'{"data": ["\\ud800"]}',
    b'{"inputs": {"s": ["\\udfff"]}}',
    b"\xef\xbb\xbf{}",
    b'\x00{\x00"\x00d\x00a\x00t\x00a\x00"\x00:\x00[\x001\x00]\x00}',
    b'{"inputs": {"x": ' + b'{"a": ' * 2000 + b"1" + b"}" * 2000 + b"}}",
]


def odd_bodies(valid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Bodies that are not quite requests: random bytes, any JSON, deep nesting, broken near-valid ones."""
    return st.one_of(
        st.binary(max_size=48),
        json_values().map(dumps),
        st.sampled_from(ODD_BODIES),
        DEPTHS.map(lambda n: deep(n, b'{"data": {}}')),
        DEPTHS.map(lambda n: deep(n, b'{"inputs": {"x": {}, "s": {}, "tags": {}}, "outputs": {}}')),
        DEPTHS.map(
            lambda n: deep(n, b'{"id": {}, "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": {}}]}')
        ),
        DEPTHS.map(
            lambda n: deep(
                n, b'{"inputs": [{"name": {}, "shape": {}, "datatype": {}, "data": [1]}], "outputs": [{"name": {}}]}'
            )
        ),
        valid.flatmap(broken),
    )

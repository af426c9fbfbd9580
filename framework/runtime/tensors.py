"""Turning request values into arrays a model accepts, and model outputs into JSON values.

Coercion rules (documented in docs/http.md): JSON numbers go into float tensors; integers into
integer tensors (floats only when integral, nothing out of the dtype's range); only true/false
into bool tensors, never into numeric ones; only strings into string tensors. A float tensor whose
first element is a number is converted by numpy directly (the fast path), so in such an array
numeric strings later on are read as numbers. Shapes are checked against the model's
fixed dims and rank; symbolic dims accept any size. Outputs are never checked against declared
shapes, because real models often declare them wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from framework.errors import BadRequest

from .signature import ModelSignature, TensorSpec, shared_symbol

_ACCEPTED_KINDS = {"f": "fiu", "i": "iuf", "u": "iuf", "b": "b"}
_LETTER_JUMPS = 32  # has_bool_literals: then the plain search
_KIND_NAMES = {"f": "numbers", "i": "integers", "u": "non-negative integers", "b": "true/false values"}


def json_to_array(value: Any, spec: TensorSpec, *, body_has_bools: bool = True) -> Any:
    """Convert a decoded JSON value (nested lists or a scalar) into an array for ``spec``.

    ``body_has_bools``: the request body holds ``true`` or ``false`` somewhere (a substring test on the
    raw body, which costs next to nothing); only then are numeric inputs searched for them, since
    numpy would silently read them as 1 and 0.
    """
    if not spec.is_tensor or spec.dtype is None:
        return value  # seq/map inputs go to onnxruntime as the Python values they are
    if body_has_bools and spec.dtype.kind in "fiu":
        refuse_bools(value, spec.name, spec.type)
    if spec.dtype.kind == "f" and _first_is_number(value):
        try:  # the common case, converted straight to the model's dtype (no float64 copy)
            array = np.asarray(value, dtype=spec.dtype)
        except OverflowError:  # an integer beyond the float range (JSON allows any length)
            raise _out_of_range(spec) from None
        except (ValueError, TypeError):
            pass  # not a clean numeric array: the general path below says what is wrong
        else:
            # numpy reads null and "nan" as NaN here: a NaN sends the input down the general path,
            # which refuses those and accepts a JSON NaN literal (isnan + any: ~2 µs, a sum in errstate ~9)
            if not np.isnan(array).any():
                check_shape(array, spec)
                return array
    try:
        array = np.asarray(value, dtype=object) if spec.dtype.kind == "O" else np.asarray(value)
    except (ValueError, TypeError):
        raise BadRequest(
            f"input '{spec.name}' is not a rectangular array: every row must have the same length"
        ) from None
    return coerce(array, spec)


def has_bool_literals(body: bytes) -> bool:
    """Whether ``true`` or ``false`` occurs in ``body`` (the ``body_has_bools`` of json_to_array).

    ``b"true" in body`` scans a 16 kB body in ~10 µs per word; numeric JSON holds a "t" or an "f"
    only in its few keys, so jumping between those letters (memchr) answers in ~1 µs. A body with many
    of them (string inputs) falls back to the plain search after a few jumps."""
    for letter, word in ((b"t", b"true"), (b"f", b"false")):
        at = body.find(letter)
        for _ in range(_LETTER_JUMPS):
            if at < 0:
                break
            if body.startswith(word, at):
                return True
            at = body.find(letter, at + 1)
        else:
            if word in body[at:]:
                return True
    return False


def refuse_bools(value: Any, name: str, type_name: str) -> None:
    """BadRequest when a numeric input holds true/false anywhere (mixed with numbers or not)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool):
            raise BadRequest(
                f"input '{name}' ({type_name}) holds true/false values; send numbers (only bool inputs take them)"
            )


def _first_is_number(value: Any) -> bool:
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, int | float) and not isinstance(value, bool)


def coerce(array: np.ndarray[Any, Any], spec: TensorSpec) -> np.ndarray[Any, Any]:
    """Check kind, range and shape of ``array`` against ``spec`` and return it in the model's dtype."""
    target = spec.dtype
    assert target is not None
    if target.kind == "O":
        return _strings(array, spec)
    if array.dtype == target:
        check_shape(array, spec)
        return array
    kind = array.dtype.kind
    if array.size and kind not in _ACCEPTED_KINDS.get(target.kind, ""):
        if kind == "O" and target.kind in "fiu" and all(type(v) is int for v in array.ravel()):
            raise _out_of_range(spec)  # integers numpy cannot hold in 64 bits
        got = "strings" if kind == "U" else f"values of type {array.dtype}" if kind != "O" else "mixed or nested values"
        raise BadRequest(f"input '{spec.name}' expects {_KIND_NAMES[target.kind]} ({spec.type}); got {got}")
    if target.kind in "iu" and array.size:
        if kind == "f" and not (np.all(np.isfinite(array)) and np.all(np.floor(array) == array)):
            raise BadRequest(f"input '{spec.name}' expects integers ({spec.type}); got non-integral numbers")
        info = np.iinfo(target)
        low, high = array.min(), array.max()
        # float(info.max) rounds up to 2**bits, so floats must stay strictly below it
        too_high = high >= float(info.max) + 1 if kind == "f" else high > info.max
        if low < info.min or too_high:
            raise _out_of_range(spec)
    check_shape(array, spec)
    return array.astype(target)


def _out_of_range(spec: TensorSpec) -> BadRequest:
    assert spec.dtype is not None
    if spec.dtype.kind in "iu":
        info = np.iinfo(spec.dtype)
        return BadRequest(f"input '{spec.name}': values must lie in [{info.min}, {info.max}] for {spec.type}")
    return BadRequest(f"input '{spec.name}' holds a number too large for {spec.type}")


def _strings(array: np.ndarray[Any, Any], spec: TensorSpec) -> np.ndarray[Any, Any]:
    """String tensors: every element a str that UTF-8 can encode (no lone surrogates)."""
    if array.dtype.kind == "U":
        array = array.astype(object)
    elif array.dtype.kind != "O" and array.size:
        raise BadRequest(f"input '{spec.name}' expects strings ({spec.type}); got values of type {array.dtype}")
    for item in array.ravel():  # not .flat: numpy iterates at most 32 dimensions
        if not isinstance(item, str):
            raise BadRequest(f"input '{spec.name}' expects strings ({spec.type}); got {type(item).__name__} values")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(
                f"input '{spec.name}' holds a string that is not valid Unicode (a lone surrogate)"
            ) from None
    check_shape(array, spec)
    return array


def check_shape(array: np.ndarray[Any, Any], spec: TensorSpec) -> None:
    dims = spec.shape
    if dims is None:
        return
    if array.ndim != len(dims):
        raise BadRequest(
            f"input '{spec.name}' expects rank {len(dims)} (shape {spec.shape_text()}); got shape {list(array.shape)}"
        )
    for axis, (want, got) in enumerate(zip(dims, array.shape, strict=True)):
        if want != got and isinstance(want, int):
            raise BadRequest(
                f"input '{spec.name}' expects shape {spec.shape_text()}: dimension {axis} must be {want}, got {got}"
            )


def check_feeds(feeds: Mapping[str, Any], signature: ModelSignature, model: str) -> dict[str, Any]:
    """Validate a complete set of inputs (names, dtypes, shapes); casts arrays within the same kind."""
    unknown = [name for name in feeds if signature.input(name) is None]
    if unknown:
        raise BadRequest(
            f"model '{model}' has no input {', '.join(map(repr, unknown))}; it expects: {_listed(signature)}"
        )
    missing = [spec.name for spec in signature.inputs if spec.name not in feeds]
    if missing:
        raise BadRequest(
            f"model '{model}' is missing input {', '.join(map(repr, missing))}; it expects: {_listed(signature)}"
        )
    checked: dict[str, Any] = {}
    for spec in signature.inputs:
        value = feeds[spec.name]
        if spec.is_tensor and spec.dtype is not None:
            value = coerce(np.asarray(value), spec)
        checked[spec.name] = value
    check_shared_dimensions(checked, signature)
    return checked


def _listed(signature: ModelSignature) -> str:
    """The inputs as an error message lists them (built only for the message: it costs a few µs)."""
    return ", ".join(spec.describe() for spec in signature.inputs)


def check_shared_dimensions(feeds: Mapping[str, Any], signature: ModelSignature) -> None:
    """One symbolic dimension name means one size across all inputs (ONNX semantics): a transformer's
    ``input_ids`` and ``attention_mask`` that are both ``[batch, sequence]`` must agree on both."""
    seen: dict[str, tuple[int, str, int]] = {}  # symbol → (size, input, axis)
    for spec in signature.inputs:
        if spec.shape is None or not isinstance(feeds.get(spec.name), np.ndarray):
            continue
        for axis, (dim, size) in enumerate(zip(spec.shape, feeds[spec.name].shape, strict=False)):
            symbol = shared_symbol(dim)
            if symbol is None:
                continue
            if symbol not in seen:
                seen[symbol] = (size, spec.name, axis)
            elif seen[symbol][0] != size:
                first, name, first_axis = seen[symbol]
                raise BadRequest(
                    f"inputs '{name}' (axis {first_axis}: {first}) and '{spec.name}' (axis {axis}: {size}) share "
                    f"dimension '{symbol}' of the model, so their sizes must be equal"
                )


def to_jsonable(value: Any) -> Any:  # noqa: PLR0911  (one return per output type)
    """Model output → JSON-ready Python values; maps (from ``seq(map(...))``) get string keys."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SV":
            return [to_jsonable(v) for v in value.tolist()]
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def finite_or_none(value: Any) -> Any:
    """Replace NaN and ±Infinity (not valid JSON) with None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    return value

"""JSON values → model inputs: the documented coercion rules and shape checks."""

from __future__ import annotations

import numpy as np
import pytest

from framework.errors import BadRequest
from framework.runtime.signature import ORT_TO_NUMPY, TensorSpec
from framework.runtime.tensors import finite_or_none, has_bool_literals, json_to_array, to_jsonable


def spec(type_: str, shape: tuple[int | str | None, ...] | None = ("n",)) -> TensorSpec:
    return TensorSpec(name="x", type=type_, shape=shape, dtype=ORT_TO_NUMPY.get(type_))


def test_numbers_into_float_tensor_take_the_model_dtype() -> None:
    array = json_to_array([1, 2.5, -3], spec("tensor(float)"))
    assert array.dtype == np.float32
    assert array.tolist() == [1.0, 2.5, -3.0]


def test_integral_floats_into_int_tensor_but_not_fractions() -> None:
    assert json_to_array([1.0, 2.0], spec("tensor(int64)")).tolist() == [1, 2]
    with pytest.raises(BadRequest, match="non-integral"):
        json_to_array([1.5], spec("tensor(int64)"))


def test_integer_range_is_checked_for_the_dtype() -> None:
    assert json_to_array([255], spec("tensor(uint8)")).dtype == np.uint8
    with pytest.raises(BadRequest, match=r"must lie in \[0, 255\]"):
        json_to_array([256], spec("tensor(uint8)"))
    with pytest.raises(BadRequest, match=r"must lie in"):
        json_to_array([-1], spec("tensor(uint32)"))


@pytest.mark.parametrize(
    ("value", "type_", "fragment"),
    [
        ([True, False], "tensor(float)", "holds true/false values"),
        ([1.0, True], "tensor(float)", "holds true/false values"),
        ([[1], [False]], "tensor(int64)", "holds true/false values"),
        ([1, 0], "tensor(bool)", "expects true/false"),
        (["a"], "tensor(float)", "got strings"),
        ([1], "tensor(string)", "expects strings"),
        ([None], "tensor(string)", "got NoneType values"),
        (["a", 1], "tensor(string)", "got int values"),
        ([{"a": 1}], "tensor(string)", "got dict values"),
        (["\ud800"], "tensor(string)", "lone surrogate"),
        ([9.223372036854776e18], "tensor(int64)", "must lie in"),
        ([1.8446744073709552e19], "tensor(uint64)", "must lie in"),
        ([2**63], "tensor(int64)", "must lie in"),
        ([[1, 2], [3]], "tensor(float)", "not a rectangular array"),
        ([{"a": 1}], "tensor(float)", "mixed or nested"),
        # found by fuzzing: integers beyond what numpy holds were a 500 (OverflowError) or "mixed values"
        ([2**1100], "tensor(float)", r"holds a number too large for tensor\(float\)"),
        ([1, -(2**1100)], "tensor(float)", "number too large"),
        ([2**70], "tensor(int64)", r"must lie in \[-9223372036854775808, 9223372036854775807\]"),
        ([-(2**70)], "tensor(uint8)", r"must lie in \[0, 255\]"),
        ([2**70], "tensor(bool)", "expects true/false"),
    ],
)
def test_wrong_kinds_are_rejected(value: object, type_: str, fragment: str) -> None:
    with pytest.raises(BadRequest, match=fragment):
        json_to_array(value, spec(type_))


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("type_", ["tensor(float)", "tensor(double)", "tensor(float16)"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([1.0, NAN], [1.0, NAN]),  # a JSON NaN literal (Python's json reads it) is a number
        ([1.0, INF, -INF], [1.0, INF, -INF]),  # inf - inf is NaN in a sum, not in the array
        ([1e300, -1e300, 2.0], None),  # overflows float16/float32 to ±inf: kept as numpy casts it
        ([[6e4, 6e4], [-6e4, -6e4]], None),
        ([1.0, 2.5], [1.0, 2.5]),
    ],
)
def test_non_finite_numbers_take_the_same_path_whatever_the_float_type(
    value: list[object], expected: list[float] | None, type_: str
) -> None:
    """The fast path (a clean numeric array without NaN) and the general one agree on non-finite input."""
    dtype = ORT_TO_NUMPY[type_]
    with np.errstate(over="ignore"):
        array = json_to_array(value, spec(type_, None))
        want = np.asarray(value if expected is None else expected).astype(dtype)
    assert array.dtype == dtype and array.shape == want.shape
    np.testing.assert_array_equal(array, want)


@pytest.mark.parametrize("value", [[1.0, None], [1.0, "nan"], [[1.0, 2.0], [None, 3.0]], [1.0, "NaN", 2.0]])
def test_null_and_nan_strings_are_refused_though_numpy_reads_them_as_nan(value: list[object]) -> None:
    with pytest.raises(BadRequest, match="expects numbers"):
        json_to_array(value, spec("tensor(float)", None))


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [[1.0, 2.5e-05]]}',
        b'{"data": [1.0, true]}',
        b'{"inputs": {"x": [false]}}',
        b'{"data": "truth"}',
        b'{"data": ["t", "tt", "f", "fals", "tru"]}',
        b'{"data": [' + b'"t", ' * 100 + b"true]}",  # more letters than jumps: the plain search decides
        b'{"data": [' + b'"f", ' * 100 + b'"x"]}',
        b'{"data": [' + b'"t", ' * 100 + b'"f", ' * 100 + b"false]}",
        b"true",
        b"",
        b"tru",
    ],
)
def test_the_bool_literal_prefilter_agrees_with_a_plain_search(body: bytes) -> None:
    assert has_bool_literals(body) is (b"true" in body or b"false" in body)


def test_bools_and_strings() -> None:
    assert json_to_array([True, False], spec("tensor(bool)")).dtype == np.bool_
    strings = json_to_array(["é", "b"], spec("tensor(string)"))
    assert strings.dtype == object and strings.tolist() == ["é", "b"]


def test_rank_and_fixed_dims_checked_symbolic_dims_free() -> None:
    fixed = spec("tensor(float)", (3, 2))
    with pytest.raises(BadRequest, match="expects rank 2"):
        json_to_array([1, 2], fixed)
    with pytest.raises(BadRequest, match="dimension 0 must be 3, got 1"):
        json_to_array([[1, 2]], fixed)
    # The same symbol on two axes never forces equal sizes (real models reuse '?' and names).
    free = spec("tensor(float)", ("n", "n"))
    assert json_to_array([[1, 2, 3]], free).shape == (1, 3)
    assert json_to_array([[1], [2]], spec("tensor(float)", (None, None))).shape == (2, 1)


def test_rank_zero_scalar() -> None:
    scalar = json_to_array(7, spec("tensor(int64)", ()))
    assert scalar.shape == () and scalar.item() == 7


def test_outputs_become_json_values_with_string_map_keys() -> None:
    outputs = [np.array([1, 2], dtype=np.int64), [{0: np.float32(0.5), 1: 0.5}], np.float16(1.5), b"bytes"]
    assert to_jsonable(outputs) == [[1, 2], [{"0": 0.5, "1": 0.5}], 1.5, "bytes"]


def test_non_finite_floats_become_null() -> None:
    assert finite_or_none([1.0, float("nan"), {"a": float("inf")}]) == [1.0, None, {"a": None}]


def test_largest_floats_below_the_int64_limit_still_fit() -> None:
    value = 9.223372036854775e18  # the largest float64 below 2**63
    assert json_to_array([value], spec("tensor(int64)")).tolist() == [int(value)]


def test_strings_nested_deeper_than_numpy_iterates_are_a_rank_error() -> None:
    """Found by fuzzing: a string array of more than 32 dimensions broke ``ndarray.flat`` (a 500)."""
    value: object = "a"
    for _ in range(40):
        value = [value]
    with pytest.raises(BadRequest, match="expects rank 1"):
        json_to_array(value, spec("tensor(string)"))

"""Run the converted model in onnxruntime and hold its answers against the original model's.

Outputs are paired by position with what the original returns (label, probabilities; a
regressor's predictions; a module's outputs). Labels (integers, strings, booleans) must match
exactly. Numbers may differ by ``tolerance * max(1, |original|)``: an absolute bound for values up
to 1 (probabilities, scores) and a relative one above (regression targets in the hundreds),
which float32 rounding alone respects. The largest absolute difference is always reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from framework.errors import ConversionError

DEFAULT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class OutputCheck:
    """How one ONNX output compares with the original model's answer on the sample rows."""

    name: str
    exact: bool = False
    max_abs_diff: float = 0.0
    failing: int = 0  # rows whose label differs (exact), or elements over the tolerance
    total: int = 0
    worst_row: int | None = None
    skipped: str = ""  # why the output was not compared

    @property
    def ok(self) -> bool:
        return self.skipped != "" or self.failing == 0

    def describe(self, tolerance: float) -> str:
        if self.skipped:
            return f"{self.name}: not compared ({self.skipped})"
        if self.exact:
            verdict = "all equal" if self.failing == 0 else f"{self.failing} of {self.total} differ"
            where = "" if self.worst_row is None else f" (first at row {self.worst_row})"
            return f"{self.name}: labels {verdict}{where}"
        text = f"{self.name}: largest absolute difference {self.max_abs_diff:.3g}"
        if self.failing:
            text += (
                f" at row {self.worst_row}, over the tolerance {tolerance:g} ({self.failing} of {self.total} values)"
            )
        return text


def run_onnx(model_bytes: bytes, feeds: dict[str, np.ndarray[Any, Any]]) -> tuple[list[str], list[Any]]:
    """Load the converted model and run it on ``feeds``; failures say which step broke."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    except Exception as err:
        raise ConversionError(
            f"onnxruntime {ort.__version__} cannot load the converted model: {_first_line(err)} "
            "(an older onnxruntime? try a lower --opset)"
        ) from None
    names = [output.name for output in session.get_outputs()]
    try:
        return names, session.run(None, feeds)
    except Exception as err:
        raise ConversionError(
            f"the converted model fails in onnxruntime on the sample rows: {_first_line(err)}"
        ) from None


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _as_array(value: Any) -> np.ndarray[Any, Any]:
    """ZipMap's list of {class: probability} dicts becomes a [rows, classes] array."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return np.array([list(row.values()) for row in value], dtype=np.float64)
    return np.asarray(value)


def _is_label(values: np.ndarray[Any, Any]) -> bool:
    return values.dtype.kind in "iubOUS"


def check_output(name: str, actual: Any, expected: Any, tolerance: float) -> OutputCheck:
    got, want = _as_array(actual), _as_array(expected)
    if got.size != want.size:
        return OutputCheck(name, skipped=f"shape {list(got.shape)} here, {list(want.shape)} in the original")
    got = got.reshape(want.shape)
    rows = want.shape[0] if want.ndim else 1
    if _is_label(want) or _is_label(got):
        numeric = got.dtype.kind in "iufb" and want.dtype.kind in "iufb"  # class 1 and 1.0 are the same label
        same = got.astype(np.float64) == want.astype(np.float64) if numeric else got.astype(str) == want.astype(str)
        row_ok = same.reshape(rows, -1).all(axis=1) if want.ndim else same.reshape(1)
        bad = np.flatnonzero(~row_ok)
        return OutputCheck(name, exact=True, failing=int(bad.size), total=rows,
                           worst_row=int(bad[0]) if bad.size else None)  # fmt: skip
    got64, want64 = got.astype(np.float64), want.astype(np.float64)
    diff = np.abs(got64 - want64)
    both_nan = np.isnan(got64) & np.isnan(want64)
    diff = np.where(both_nan, 0.0, np.where(np.isnan(diff), np.inf, diff))
    over = diff > tolerance * np.maximum(1.0, np.abs(np.nan_to_num(want64)))
    worst = int(np.argmax(diff)) if diff.size else 0
    worst_row = int(np.unravel_index(worst, diff.shape)[0]) if diff.ndim and diff.size else 0
    return OutputCheck(name, max_abs_diff=float(diff.max()) if diff.size else 0.0, failing=int(over.sum()),
                       total=int(diff.size), worst_row=worst_row)  # fmt: skip


def compare_outputs(
    names: Sequence[str], actual: Sequence[Any], expected: Sequence[Any], tolerance: float
) -> list[OutputCheck]:
    checks = []
    for index, name in enumerate(names):
        if index >= len(expected):
            checks.append(OutputCheck(name, skipped="the original model has no matching output"))
        else:
            checks.append(check_output(name, actual[index], expected[index], tolerance))
    return checks

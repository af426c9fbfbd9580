"""Sample rows for the before/after check: read from ``--sample`` (.npy, .npz, .csv) or generated.

Rows are kept twice: as read ("natural": float64 floats, str strings), which the original model gets
as it would in the user's own code, and cast to each ONNX input's type, which onnxruntime gets.
So the reported difference is the one a client of the served model sees, input rounding included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from framework.errors import ConversionError

from .specs import InputSpec

#: How many rows are generated when no --sample is given.
GENERATED_ROWS = 32
_SEED = 20240601
_NATURAL: dict[str, type] = {"int64": np.int64, "int32": np.int64, "bool": np.bool_}


@dataclass(frozen=True)
class Sample:
    """A sample file's content: named columns (.csv, .npz) or one unnamed array (.npy)."""

    path: Path
    columns: dict[str, np.ndarray[Any, Any]] | None = None
    array: np.ndarray[Any, Any] | None = None

    def kind_of(self, name: str) -> str | None:
        """'string', 'int64', 'float' or 'bool' for a named column of the file, None if absent."""
        if self.columns is None or name not in self.columns:
            return None
        return _type_of(self.columns[name])


def _type_of(values: np.ndarray[Any, Any]) -> str:
    kind = values.dtype.kind
    return {"O": "string", "U": "string", "S": "string", "i": "int64", "u": "int64", "b": "bool"}.get(kind, "float")


def read_sample(path: Path) -> Sample:
    if not path.is_file():
        raise ConversionError(f"cannot read sample file {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return Sample(path, array=np.load(path, allow_pickle=False))
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return Sample(path, columns={key: archive[key] for key in archive.files})
        if suffix == ".csv":
            return Sample(path, columns=_read_csv(path))
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ConversionError(
                f"{path} holds Python objects (a pickled array); save text columns as a str array "
                "(np.asarray(values, dtype=str)) or use a .csv file"
            ) from None
        raise ConversionError(f"cannot read sample file {path}: {err}") from None
    except OSError as err:
        raise ConversionError(f"cannot read sample file {path}: {err}") from None
    raise ConversionError(f"sample file {path}: use a .npy, .npz or .csv file (with a header row of column names)")


def _read_csv(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    try:
        import pandas as pd
    except ImportError:
        raise ConversionError("reading a .csv sample needs pandas: pip install 'funnx[convert]'") from None
    try:
        frame = pd.read_csv(path)
    except Exception as err:  # pandas raises its own parser errors; the first line says what is wrong
        raise ConversionError(f"cannot read sample file {path}: {str(err).splitlines()[0]}") from None
    if frame.empty:
        raise ConversionError(f"sample file {path} has no data rows")
    columns: dict[str, np.ndarray[Any, Any]] = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype.kind in "fiub":
            columns[str(name)] = series.to_numpy()
        else:  # text (pandas' object or string dtypes): plain Python strings
            columns[str(name)] = np.array([str(v) for v in series], dtype=object)
    return columns


def _rows(values: np.ndarray[Any, Any], rows: int | None) -> np.ndarray[Any, Any]:
    return values if rows is None else values[:rows]


def sample_rows(
    sample: Sample, specs: Sequence[InputSpec], rows: int | None, feature_names: Sequence[str] | None = None
) -> dict[str, np.ndarray[Any, Any]]:
    """The sample as one natural array per input (batch first).

    Matched by input name; else by position (.npy columns, or np.savez's arr_0, arr_1...); a single
    input made of several columns takes the model's feature names, or every column of the file.
    """
    where = str(sample.path)
    if sample.array is not None:
        array = sample.array
        if len(specs) == 1:
            return {specs[0].name: _rows(_batched(array, specs[0], where), rows)}
        if array.ndim == 2 and array.shape[1] == len(specs):
            return {spec.name: _rows(_batched(array[:, i], spec, where), rows) for i, spec in enumerate(specs)}
        names = ", ".join(s.name for s in specs)
        raise ConversionError(
            f"{where} holds one array but the model has {len(specs)} inputs ({names}); use .npz or .csv"
        )
    assert sample.columns is not None
    columns = sample.columns
    if all(spec.name in columns for spec in specs):
        return {spec.name: _rows(_batched(columns[spec.name], spec, where), rows) for spec in specs}
    positional = [f"arr_{i}" for i in range(len(specs))]
    if sorted(columns) == sorted(positional):
        return {
            spec.name: _rows(_batched(columns[key], spec, where), rows)
            for spec, key in zip(specs, positional, strict=True)
        }
    if len(specs) == 1:
        spec = specs[0]
        width = spec.dims[1] if spec.dims is not None and len(spec.dims) == 2 else None
        wanted = list(feature_names or ())
        if not wanted or not all(name in columns for name in wanted):
            wanted = list(columns)
        if width is not None and len(wanted) != width:
            raise ConversionError(
                f"{where} has {len(columns)} columns ({', '.join(columns)}) but input {spec.name!r} takes {width} "
                "features: keep only the feature columns, or name them as the model's feature names"
            )
        stacked = np.column_stack([columns[name] for name in wanted])
        return {spec.name: _rows(_batched(stacked, spec, where), rows)}
    missing = [spec.name for spec in specs if spec.name not in columns]
    raise ConversionError(f"{where} has no column {', '.join(map(repr, missing))} (it has: {', '.join(columns)})")


def _batched(values: np.ndarray[Any, Any], spec: InputSpec, where: str) -> np.ndarray[Any, Any]:
    """Shape ``values`` as the input wants: a 1-D column becomes [rows, 1] for a [?, 1] input."""
    if spec.dims is None:
        return values
    if values.ndim == len(spec.dims) - 1 and values.ndim >= 1 and spec.dims[-1] == 1:
        values = values.reshape(-1, 1)
    if values.ndim != len(spec.dims):
        raise ConversionError(
            f"{where}: input {spec.name!r} takes {spec.text()} but the sample has shape {list(values.shape)}"
        )
    for axis, (want, have) in enumerate(zip(spec.dims, values.shape, strict=True)):
        if axis > 0 and want is not None and want != have:
            raise ConversionError(
                f"{where}: input {spec.name!r} takes {spec.text()} but the sample has shape {list(values.shape)}"
            )
    return values


def generated_rows(
    specs: Sequence[InputSpec], rows: int, choices: Mapping[str, Sequence[Any]] | None = None
) -> dict[str, np.ndarray[Any, Any]]:
    """Random rows of the right types: floats ~ N(0, 1), integers and strings drawn from ``choices``
    (e.g. an encoder's categories) or from small defaults. Seeded, so a conversion is repeatable."""
    rng = np.random.default_rng(_SEED)
    out: dict[str, np.ndarray[Any, Any]] = {}
    for spec in specs:
        if spec.dims is None or any(d is None for d in spec.dims[1:]):
            raise ConversionError(f"input {spec.text()}: give every dimension but the batch, or pass --sample FILE")
        shape = (rows, *(int(d) for d in spec.dims[1:] if d is not None))
        pool = list((choices or {}).get(spec.name, ()))
        if pool:
            picked = rng.integers(0, len(pool), size=shape)
            values = np.array(pool, dtype=object)[picked]
            out[spec.name] = values if spec.type == "string" else values.astype(_NATURAL.get(spec.type, np.float64))
        elif spec.type == "string":
            out[spec.name] = np.array(["a", "b", "c"], dtype=object)[rng.integers(0, 3, size=shape)]
        elif spec.type in {"int64", "int32"}:
            out[spec.name] = rng.integers(0, 5, size=shape)
        elif spec.type == "bool":
            out[spec.name] = rng.integers(0, 2, size=shape).astype(bool)
        else:
            out[spec.name] = rng.normal(size=shape)
    return out


def as_feeds(
    natural: Mapping[str, np.ndarray[Any, Any]], specs: Sequence[InputSpec]
) -> dict[str, np.ndarray[Any, Any]]:
    """Cast each natural array to its input's type, as the serving runtime would."""
    feeds: dict[str, np.ndarray[Any, Any]] = {}
    for spec in specs:
        values = natural[spec.name]
        try:
            if spec.type == "string":
                feeds[spec.name] = np.array([str(v) for v in values.ravel()], dtype=object).reshape(values.shape)
            else:
                feeds[spec.name] = np.ascontiguousarray(values.astype(spec.numpy_dtype))
        except (ValueError, TypeError):
            raise ConversionError(
                f"sample values of input {spec.name!r} are not {spec.type} (e.g. {values.ravel()[0]!r}); "
                f"declare its type with --input {spec.name}:TYPE"
            ) from None
    return feeds

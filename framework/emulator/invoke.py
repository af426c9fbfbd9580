"""``funnx invoke``: call one function in-process with a request body built from a file.

``.json`` files are sent as they are; ``.npy`` holds one array, sent as ``{"data": ...}``; ``.npz``
holds named arrays, sent as ``{"inputs": {...}}``. The reply's ``result`` can be written back as
numpy arrays: one output → ``.npy``, several → ``.npz`` keyed by output name.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from framework.errors import EmulatorError
from framework.runtime import naming
from framework.runtime.signature import ORT_TO_NUMPY

from .client import TestClient
from .routing import compile_route


def request_body(path: Path) -> bytes:
    """The POST body for a data file, by its extension."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return path.read_bytes()
        if suffix == ".npy":
            return json.dumps({"data": np.load(path, allow_pickle=False).tolist()}).encode()
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                return json.dumps({"inputs": {name: arrays[name].tolist() for name in arrays.files}}).encode()
    except (OSError, ValueError) as err:
        raise EmulatorError(f"cannot read {path}: {err}") from None
    raise EmulatorError(f"{path}: use a .json (request body), .npy (one input) or .npz (named inputs) file")


def invoke(
    app_dir: Path, name: str, body: bytes, want_output_names: bool = False
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """POST ``body`` to function ``name``; returns (reply JSON, (name, type) of each output).

    The outputs come from the ``<name>_metadata`` function funnx generates, only when asked for.
    """
    with TestClient(app_dir) as client:
        function = next((f for f in client.host.functions if f.name == name), None)
        if function is None:
            names = ", ".join(f.name for f in client.host.functions)
            raise EmulatorError(f"no function named '{name}'; the app has: {names}")
        if compile_route(function.route).params:
            raise EmulatorError(f"function '{name}' has route parameters ({function.route}); call it over HTTP instead")
        path = client.host.dispatcher.url_path(function)
        reply = client.post(path, data=body, headers={"content-type": "application/json"})
        try:
            payload = reply.json()
        except ValueError:
            payload = None
        if reply.status_code != 200 or not isinstance(payload, dict):
            detail = payload.get("error") if isinstance(payload, dict) else reply.text[:200] or "(empty body)"
            raise EmulatorError(f"'{name}' answered {reply.status_code}: {detail}")
        described = next((f for f in client.host.functions if f.name == naming.metadata_function(name)), None)
        if not want_output_names or described is None:
            return payload, []
        metadata = client.get(client.host.dispatcher.url_path(described))
        outputs = metadata.json().get("outputs", []) if metadata.status_code == 200 else []
        described_outputs = [o for o in outputs if isinstance(o, dict) and "name" in o]
        return payload, [(str(o["name"]), str(o.get("type", ""))) for o in described_outputs]


def result_arrays(payload: dict[str, Any], outputs: list[tuple[str, str]]) -> dict[str, np.ndarray[Any, Any]]:
    """The reply's result as arrays of the model's own output dtypes (JSON alone would make every
    float a float64)."""
    result = payload.get("result")
    output_names = [name for name, _ in outputs]
    if isinstance(result, dict):
        named = result
    elif isinstance(result, list):
        names = output_names if len(output_names) == len(result) else [f"output_{i}" for i in range(len(result))]
        named = dict(zip(names, result, strict=True))
    else:
        named = {"result": result}
    dtypes = {name: ORT_TO_NUMPY.get(type_name) for name, type_name in outputs}
    arrays = {}
    for name, value in named.items():
        dtype = dtypes.get(name)
        try:
            arrays[name] = np.asarray(value, dtype=dtype if dtype is not None and dtype.kind != "O" else None)
        except (ValueError, TypeError):
            arrays[name] = np.asarray(None, dtype=object)
        if arrays[name].dtype == object:
            raise EmulatorError(f"output '{name}' is not a tensor (e.g. a list of maps); use --output-format json")
    return arrays


def numpy_bytes(arrays: dict[str, np.ndarray[Any, Any]]) -> tuple[bytes, str]:
    """(file content, suffix): .npy for one array, .npz for several."""
    buffer = io.BytesIO()
    if len(arrays) == 1:
        np.save(buffer, next(iter(arrays.values())), allow_pickle=False)
        return buffer.getvalue(), ".npy"
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue(), ".npz"

"""Handler overhead: a generated function called in-process with ``func.HttpRequest``, against the
floor for the same request: decode with the fastest codec available + ``session.run`` + encode.

Two contracts per model: the simple JSON one (floor: json.loads → numpy → run → json.dumps) and
the Open Inference Protocol with binary tensors (floor: frombuffer → run → tobytes). Overhead is the
difference of medians, measured alternately in one process.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import azure.functions as func
import numpy as np
import onnxruntime as ort
import orjson

from bench.apps import MODELS, make_app
from bench.timing import compare
from framework.emulator.host import EmulatorHost

CODEC = "orjson"  # the floor uses the fastest JSON library there is


def fast_dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


fast_loads = orjson.loads


def _module(host: EmulatorHost, name: str) -> Any:
    function = next(f for f in host.functions if f.name == name)
    return sys.modules[function.handler.__module__]


def _oip_body(name: str, array: np.ndarray[Any, Any]) -> tuple[bytes, str]:
    header = json.dumps({
        "inputs": [{"name": name, "shape": list(array.shape), "datatype": "FP32",
                    "parameters": {"binary_data_size": array.nbytes}}],
        "parameters": {"binary_data_output": True},
    }).encode()  # fmt: skip
    return header + array.tobytes(), str(len(header))


def run(budget_s: float = 1.0) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="funnx-bench-") as scratch:
        app = make_app(Path(scratch) / "app")
        host = EmulatorHost(app, settings={"FUNNX_MODEL_CACHE_DIR": str(Path(scratch) / "cache")})
        try:
            for name, (_, example) in MODELS.items():
                module = _module(host, name)
                session = ort.InferenceSession(str(app / "models" / f"{name}.onnx"), providers=["CPUExecutionProvider"])
                input_name = session.get_inputs()[0].name
                rows += _simple(name, module, session, input_name, example, budget_s)
                rows += _binary(name, module, session, input_name, example, budget_s)
        finally:
            host.close()
    return rows


def _simple(
    name: str, module: Any, session: Any, input_name: str, example: np.ndarray[Any, Any], budget: float
) -> list[dict[str, Any]]:
    body = json.dumps({"data": example.tolist()}).encode()
    request = func.HttpRequest("POST", f"http://localhost/api/{name}", body=body)

    def funnx() -> None:
        response = module.predict(request)
        assert response.status_code == 200, response.get_body()[:200]

    def floor() -> None:
        data = np.asarray(fast_loads(body)["data"], dtype=np.float32)
        outputs = session.run(None, {input_name: data})
        fast_dumps({"result": [o.tolist() for o in outputs]})

    ours, base = compare(funnx, floor, budget)
    return [_row(name, f"simple JSON ({CODEC} floor)", ours, base)]


def _binary(
    name: str, module: Any, session: Any, input_name: str, example: np.ndarray[Any, Any], budget: float
) -> list[dict[str, Any]]:
    body, length = _oip_body(input_name, example)
    request = func.HttpRequest(
        "POST", f"http://localhost/api/v2/models/{name}/infer", body=body,
        headers={"inference-header-content-length": length}, route_params={"rest": "infer"},
    )  # fmt: skip

    def funnx() -> None:
        response = module.open_inference(request)
        assert response.status_code == 200, response.get_body()[:200]

    def floor() -> None:
        header = fast_loads(body[: int(length)])
        size = header["inputs"][0]["parameters"]["binary_data_size"]
        data = np.frombuffer(body[int(length) : int(length) + size], dtype=np.float32).reshape(
            header["inputs"][0]["shape"]
        )
        outputs = session.run(None, {input_name: data})
        reply = fast_dumps({"outputs": [{"name": "y", "parameters": {"binary_data_size": o.nbytes}} for o in outputs]})
        b"".join([reply, *(o.tobytes() for o in outputs)])

    ours, base = compare(funnx, floor, budget)
    return [_row(name, "OIP binary", ours, base)]


def _row(model: str, contract: str, ours: Any, base: Any) -> dict[str, Any]:
    return {
        "model": model,
        "contract": contract,
        "funnx_median_us": ours.median_us,
        "funnx_p90_us": ours.p90_us,
        "floor_median_us": base.median_us,
        "floor_p90_us": base.p90_us,
        "overhead_us": ours.median_us - base.median_us,
        "ratio": ours.median_us / base.median_us,
    }


if __name__ == "__main__":
    for row in run():
        print(row)

"""Decode and encode cost of tensors: stdlib JSON, funnx's JSON paths, funnx's binary path, against
raw numpy (``np.frombuffer`` / ``tobytes``), all in one process.

Run: ``python -m bench.codecs`` (prints a Markdown table).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.timing import Timing, fmt_us, measure
from framework.runtime import jsoncodec
from framework.runtime.oip_codec import InferRequest, encode_infer_response, parse_infer_request
from framework.runtime.signature import ORT_TO_NUMPY, ModelSignature, TensorSpec
from framework.runtime.tensors import json_to_array

SHAPES = {"1x10": (1, 10), "1x3x224x224": (1, 3, 224, 224), "8x3x224x224": (8, 3, 224, 224)}


def _signature(shape: tuple[int, ...]) -> ModelSignature:
    spec = TensorSpec(
        "x", "tensor(float)", tuple(None if i == 0 else d for i, d in enumerate(shape)), ORT_TO_NUMPY["tensor(float)"]
    )
    return ModelSignature(inputs=(spec,), outputs=(spec,))


def cases(shape: tuple[int, ...]) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """name → (decode, encode) for one tensor of ``shape``."""
    array = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    signature, spec = _signature(shape), _signature(shape).inputs[0]
    raw = array.tobytes()
    stdlib_text = json.dumps(array.tolist())
    simple_body = json.dumps({"data": array.tolist()}).encode()
    oip_json = json.dumps(
        {"inputs": [{"name": "x", "shape": list(shape), "datatype": "FP32", "data": array.ravel().tolist()}]}
    ).encode()
    header = json.dumps(
        {
            "inputs": [
                {"name": "x", "shape": list(shape), "datatype": "FP32", "parameters": {"binary_data_size": len(raw)}}
            ]
        }
    ).encode()
    binary_body = header + raw
    json_request = InferRequest(id=None, inputs={}, outputs=None)
    binary_request = InferRequest(id=None, inputs={}, outputs=None, binary_default=True)
    return {
        "numpy frombuffer/tobytes (floor)": (
            lambda: np.frombuffer(raw, dtype=np.float32).reshape(shape),
            array.tobytes,
        ),
        "stdlib json": (
            lambda: np.asarray(json.loads(stdlib_text), dtype=np.float32),
            lambda: json.dumps(array.tolist()),
        ),
        "funnx simple JSON": (  # what the simple contract runs: jsoncodec (orjson when installed)
            lambda: json_to_array(jsoncodec.loads(simple_body)["data"], spec),
            lambda: jsoncodec.dumps({"result": [array]}),
        ),
        "funnx OIP JSON": (
            lambda: parse_infer_request(oip_json, None, signature, "bench"),
            lambda: encode_infer_response("bench", None, json_request, ["x"], [array]),
        ),
        "funnx OIP binary": (
            lambda: parse_infer_request(binary_body, str(len(header)), signature, "bench"),
            lambda: encode_infer_response("bench", None, binary_request, ["x"], [array]),
        ),
    }


def run(budget_s: float = 0.4) -> list[dict[str, Any]]:
    rows = []
    for label, shape in SHAPES.items():
        timings: dict[str, tuple[Timing, Timing]] = {}
        for name, (decode_call, encode_call) in cases(shape).items():
            runs = 3 if name != "numpy frombuffer/tobytes (floor)" and np.prod(shape) > 1e6 else 5
            timings[name] = (
                measure(decode_call, budget_s, min_runs=runs),
                measure(encode_call, budget_s, min_runs=runs),
            )
        floor = timings["numpy frombuffer/tobytes (floor)"]
        stdlib = timings["stdlib json"]
        for name, (decode, encode) in timings.items():
            rows.append({
                "shape": label, "path": name,
                "decode_us": decode.median_us, "decode_p90_us": decode.p90_us,
                "encode_us": encode.median_us, "encode_p90_us": encode.p90_us,
                "decode_vs_floor": decode.median_us / floor[0].median_us,
                "speedup_vs_stdlib": (stdlib[0].median_us + stdlib[1].median_us)
                / (decode.median_us + encode.median_us),
            })  # fmt: skip
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| tensor | path | decode median µs | decode p90 µs | encode median µs | encode p90 µs "
        "| decode / floor | times faster than stdlib json |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['shape']} | {row['path']} | {fmt_us(row['decode_us'])} | {fmt_us(row['decode_p90_us'])} | "
            f"{fmt_us(row['encode_us'])} | {fmt_us(row['encode_p90_us'])} | {row['decode_vs_floor']:,.1f} | "
            f"{row['speedup_vs_stdlib']:,.1f} |"
        )
    return "\n".join(lines)


def main() -> int:
    print(markdown(run()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""End to end over loopback HTTP: ``funnx start`` against a hand-written FastAPI + uvicorn +
onnxruntime server (bench/fastapi_baseline.py), same model, same payloads, same load.

Each server runs in its own process; the load generator is a bounded set of aiohttp clients on
keep-alive connections in this process, each sending its next request when the last one answered,
for a fixed time per concurrency level. JSON: {"data": ...} to the simple contract vs /predict.
Binary: the input's raw bytes to the OIP endpoint (Inference-Header-Content-Length: 0) vs
/predict-binary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from bench.apps import MODELS, make_app
from framework.emulator.azurite import free_port
from framework.runtime.settings import THREAD_COUNT_SETTING

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def server(command: list[str], port: int, env: dict[str, str]) -> Iterator[None]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"server did not start: {process.stderr.read().decode() if process.stderr else ''}"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=20)


async def load(url: str, body: bytes, headers: dict[str, str], concurrency: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(3):  # warm up (model load, connections)
            async with session.post(url, data=body, headers=headers) as reply:
                await reply.read()
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as reply:
                    await reply.read()
                    if reply.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "median_ms": statistics.median(latencies) * 1000,
        "p90_ms": latencies[int(0.9 * (len(latencies) - 1))] * 1000,
        "errors": errors,
        "requests": len(latencies),
    }


#: funnx variants measured: the emulator's defaults, and PYTHON_THREADPOOL_THREAD_COUNT at the core
#: count (Microsoft's advice for CPU-bound functions: few threads; the Bicep funnx writes sets it).
FUNNX_VARIANTS = {"funnx": {}, "funnx-threads": {THREAD_COUNT_SETTING: str(os.cpu_count() or 2)}}


def run(model: str = "mlp", levels: tuple[int, ...] = (1, 8, 32), seconds: float = 3.0) -> list[dict[str, Any]]:
    example = MODELS[model][1]
    json_body = json.dumps({"data": example.tolist()}).encode()
    raw = example.tobytes()
    rows = []
    with tempfile.TemporaryDirectory(prefix="funnx-bench-") as scratch:
        app = make_app(Path(scratch) / "app", [model])
        env = {**os.environ, "FUNNX_MODEL_CACHE_DIR": str(Path(scratch) / "cache"), "PYTHONUNBUFFERED": "1"}
        funnx_port, base_port = free_port(), free_port()
        funnx_cmd = [
            sys.executable,
            "-m",
            "framework.cli.main",
            "start",
            "--app",
            str(app),
            "--port",
            str(funnx_port),
            "--quiet",
        ]
        base_cmd = [
            sys.executable,
            "-m",
            "bench.fastapi_baseline",
            str(app / "models" / f"{model}.onnx"),
            str(base_port),
        ]
        funnx_paths = {
            "json": (f"/api/{model}", json_body, {"Content-Type": "application/json"}),
            "binary": (f"/api/v2/models/{model}/infer", raw, {"Inference-Header-Content-Length": "0"}),
        }
        targets: dict[str, tuple[list[str], int, dict[str, Any], dict[str, str]]] = {
            name: (funnx_cmd, funnx_port, funnx_paths, extra) for name, extra in FUNNX_VARIANTS.items()
        }
        targets["fastapi"] = (base_cmd, base_port, {
            "json": ("/predict", json_body, {"Content-Type": "application/json"}),
            "binary": ("/predict-binary", raw, {"Content-Type": "application/octet-stream"}),
        }, {})  # fmt: skip
        results: dict[tuple[str, str, int], dict[str, float]] = {}
        with contextlib.ExitStack() as running:  # all servers up at once; each idles while another is loaded
            for command, port, _, extra in targets.values():
                running.enter_context(server(command, port, {**env, **extra}))
            for payload in ("json", "binary"):
                for level in levels:
                    for name, (_, port, payloads, _) in targets.items():  # back to back: same machine state
                        path, body, headers = payloads[payload]
                        url = f"http://127.0.0.1:{port}{path}"
                        results[(name, payload, level)] = asyncio.run(load(url, body, headers, level, seconds))
        for payload in ("json", "binary"):
            for level in levels:
                base = results[("fastapi", payload, level)]
                row: dict[str, Any] = {"payload": payload, "concurrency": level, "fastapi": base}
                for name in FUNNX_VARIANTS:
                    row[name] = results[(name, payload, level)]
                    row[f"{name}_ratio"] = row[name]["rps"] / base["rps"]
                rows.append(row)
    return rows


if __name__ == "__main__":
    for row in run(seconds=float(sys.argv[1]) if len(sys.argv) > 1 else 4.0):
        cells = " | ".join(f"{name} {row[name]['rps']:6.0f} rps" for name in (*FUNNX_VARIANTS, "fastapi"))
        ratios = " ".join(f"{row[name + '_ratio']:.2f}" for name in FUNNX_VARIANTS)
        print(f"{row['payload']:6} c={row['concurrency']:<3} {cells} | ratios {ratios}")

"""The worker's in-process path under load: a generated function called from N threads, no HTTP.

This is what the Azure Functions Python worker does with a sync function: it builds a
``func.HttpRequest`` for each invocation and calls the function on a thread of its pool. Here N
threads each call the generated module's function in a loop (a fresh ``func.HttpRequest`` per call,
as the worker builds one per invocation), so N requests are in the handler at once.

Runs in a child process per configuration (``python -m bench.inprocess``, spec as JSON on stdin):
the model's settings (batching or not) come from that process's environment, read when the model
loads, exactly as app settings are in Azure.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import azure.functions as func

REPO = Path(__file__).resolve().parents[1]


def _module(host: Any, function_name: str) -> Any:
    function = next(f for f in host.functions if f.name == function_name)
    return sys.modules[function.handler.__module__]


def _call(module: Any, request: dict[str, Any]) -> Callable[[], func.HttpResponse]:
    """One call of the generated function ``request["function"]``, building its request like the worker."""
    function = getattr(module, request["function"])
    body = Path(request["body_file"]).read_bytes()

    def call() -> func.HttpResponse:
        http_request = func.HttpRequest(
            "POST", request["url"], headers=request["headers"], route_params=request["route_params"], body=body
        )
        response: func.HttpResponse = function(http_request)
        return response

    return call


def _window(call: Callable[[], func.HttpResponse], threads: int, seconds: float) -> dict[str, Any]:
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = [0.0]

    def worker(index: int) -> None:
        start.wait()
        mine = latencies[index]
        while time.perf_counter() < stop[0]:
            began = time.perf_counter()
            status = call().status_code
            mine.append(time.perf_counter() - began)
            errors[index] += status != 200

    pool = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
    for thread in pool:
        thread.start()
    cpu, began = time.process_time(), time.perf_counter()
    stop[0] = began + seconds
    start.wait()
    for thread in pool:
        thread.join()
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    pooled = sorted(latency for mine in latencies for latency in mine)
    return {
        "rps": len(pooled) / elapsed,
        "p50_ms": statistics.median(pooled) * 1000,
        "p90_ms": pooled[int(0.9 * (len(pooled) - 1))] * 1000,
        "requests": len(pooled),
        "errors": sum(errors),
        "server_cpu_us": cpu / len(pooled) * 1e6,  # the whole process: callers, handler and onnxruntime threads
    }


def _batching(module: Any, model: str) -> Any:
    reply = module.metadata(func.HttpRequest("GET", f"http://localhost/api/{model}", body=b""))
    return json.loads(reply.get_body()).get("batching")


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    from framework.emulator.host import EmulatorHost

    host = EmulatorHost(Path(spec["app"]))
    try:
        module = _module(host, spec["model"])
        results: dict[str, Any] = {}
        for payload, request in spec["requests"].items():
            call = _call(module, request)
            for threads in spec["levels"]:
                _window(call, threads, spec["warmup"])
                results[f"{payload}/{threads}"] = _window(call, threads, spec["seconds"])
        return {"results": results, "batching": _batching(module, spec["model"])}
    finally:
        host.close()


def measure(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Run one configuration in a child process with ``env``; returns its results and batching report."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.inprocess"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"in-process run failed: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    print(json.dumps(_run(json.loads(sys.stdin.read()))))

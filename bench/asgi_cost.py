"""``python -m bench.asgi_cost``: CPU per request of the emulator's ASGI app, without sockets.

The small-model request (MLP 784→256→10, simple JSON, onnxruntime on one thread) is handed to
``AsgiApp`` on uvloop through fake ``receive``/``send`` callables, c at a time, and the process's CPU
time (user + system, every thread) is divided by the requests; the floor's ASGI callable
(bench/floor_server.py) gets the same treatment in the same process, alternating with funnx. No
uvicorn, no client, no socket: what is left is the emulator and the handler, and the gap between
the two lines is exactly what the HTTP benchmark's "by CPU" ratio blames on funnx. CPU time moves
far less than wall time on a shared machine; the best of several repeats is reported.

``--variant NAME=FOLDER`` runs the same measurement in a child process importing ``framework`` from
FOLDER (e.g. a ``git archive`` of another commit), so changes can be compared side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

from bench import payloads
from bench.apps import MODELS, make_app

Receive = Callable[[], Awaitable[dict[str, Any]]]
App = Callable[[dict[str, Any], Receive, Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _scope(path: str, body: bytes) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:7071"), (b"content-type", b"application/json"), (b"accept", b"*/*"),
               (b"content-length", str(len(body)).encode()), (b"user-agent", b"bench")]  # fmt: skip
    return {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": headers, "scheme": "http", "server": ("127.0.0.1", 7071)}  # fmt: skip


async def _one(app: App, scope: dict[str, Any], body: bytes) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _measure(app: App, scope: dict[str, Any], body: bytes, concurrency: int, requests: int) -> float:
    """CPU µs per request with ``concurrency`` requests in flight at once."""

    async def worker(count: int) -> None:
        for _ in range(count):
            if await _one(app, scope, body) != 200:
                raise RuntimeError("the app did not answer 200")

    started = _cpu()
    await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
    return (_cpu() - started) / (requests // concurrency * concurrency) * 1e6


def run(app_dir: Path, levels: list[int], requests: int, repeats: int) -> dict[str, dict[int, float]]:
    """Best CPU µs per request for funnx and the floor at each level."""
    os.environ["FUNNX_MLP_INTRA_OP_THREADS"] = "1"
    import onnxruntime as ort

    from bench import floor_server
    from framework.emulator.asgi import AsgiApp
    from framework.emulator.host import EmulatorHost

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(app_dir / "models" / "mlp.onnx"), options, providers=["CPUExecutionProvider"])
    floor_server.state.update(session=session, input=session.get_inputs()[0].name)
    body = payloads.simple_json(MODELS["mlp"][1]).body
    host = EmulatorHost(app_dir)
    apps: dict[str, tuple[App, dict[str, Any]]] = {
        "funnx": (AsgiApp(host.dispatcher), _scope("/api/mlp", body)),
        "floor": (floor_server.floor, _scope("/", body)),
    }
    best: dict[str, dict[int, float]] = {name: {} for name in apps}
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            for app, scope in apps.values():
                runner.run(_measure(app, scope, body, 1, 200))  # warm: model loaded, threads started
            for _ in range(repeats):
                for level in levels:
                    for name, (app, scope) in apps.items():
                        cost = runner.run(_measure(app, scope, body, level, requests))
                        best[name][level] = min(best[name].get(level, cost), cost)
    finally:
        host.close()
    return best


def _child(folder: Path, app_dir: Path, levels: list[int], requests: int, repeats: int) -> dict[str, Any]:
    """The measurement in a child importing ``framework`` from ``folder`` (-P: not from this checkout)."""
    code = (
        "import json, sys; from pathlib import Path; from bench.asgi_cost import run; "
        "print(json.dumps(run(Path(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))"
    )
    env = {**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{Path(__file__).resolve().parents[1]}"}
    args = [str(app_dir), json.dumps(levels), str(requests), str(repeats)]
    done = subprocess.run(
        [sys.executable, "-P", "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"error: the variant in {folder} failed:\n{done.stderr[-2000:]}")
    return {
        name: {int(level): cost for level, cost in costs.items()} for name, costs in json.loads(done.stdout).items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.asgi_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FOLDER")
    options = parser.parse_args()
    levels = [int(level) for level in options.levels.split(",")]
    with tempfile.TemporaryDirectory(prefix="funnx-asgi-cost-") as scratch:
        app_dir = make_app(Path(scratch) / "app", ["mlp"])
        results = {"this checkout": run(app_dir, levels, options.requests, options.repeats)}
        for item in options.variant:
            name, folder = item.split("=", 1)
            results[name] = _child(Path(folder), app_dir, levels, options.requests, options.repeats)
    print("| server | " + " | ".join(f"c={level} CPU µs/req (floor ÷ funnx)" for level in levels) + " |")
    print("| --- |" + " ---: |" * len(levels))
    for name, measured in results.items():
        floor = measured["floor"]
        cells = [f"{measured['funnx'][level]:.0f} ({floor[level] / measured['funnx'][level]:.2f})" for level in levels]
        print(f"| funnx, {name} | " + " | ".join(cells) + " |")
        print("| floor, same process | " + " | ".join(f"{floor[level]:.0f}" for level in levels) + " |")


if __name__ == "__main__":
    main()

"""``python -m bench.profile``: where the small-model HTTP path spends its interpreter time, by layer.

Serves the MLP 784→256→10 like the batching section (``funnx start``, or the floor / FastAPI inline
servers for comparison; onnxruntime on one intra-op thread), loads it with the bench's client at
``--concurrency``, and meanwhile attaches py-spy to the server (``--gil``: only samples of the thread
holding the GIL, i.e. the interpreter's serialised work that bounds throughput; ``--nonblocking``: the
server is not paused). Each sample is charged to the layer of its innermost Python frame (a C call
such as ``orjson.loads`` or ``session.run`` is charged to the Python line that made it), and the
table gives each layer's share and µs per request. Functions of interest are also given inclusive.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import batching, loadgen, payloads
from bench.apps import MODELS, make_app
from bench.servers import Server, running
from framework.emulator.azurite import free_port
from framework.runtime.naming import model_setting

RATE = 250  # samples per second
#: (layer, patterns in the innermost frame's "function (file:line)"), first match wins.
LAYERS = [
    ("startup and model load (left out)", ("importlib", "<module>", "framework/cli/", "runtime/loading.py")),
    ("onnxruntime session.run (its Python wrapper)", ("onnxruntime/",)),
    ("JSON codecs (runtime/jsoncodec.py: orjson)", ("runtime/jsoncodec.py",)),
    ("tensor checks (runtime/tensors.py, signature.py)", ("runtime/tensors.py", "runtime/signature.py")),
    (
        "simple contract handler (runtime/simple.py, model.py, compression.py, generated module)",
        ("runtime/simple.py", "runtime/model.py", "runtime/compression.py", "functions_app/"),
    ),
    ("responses (runtime/responses.py)", ("runtime/responses.py",)),
    ("azure.functions HttpRequest / HttpResponse", ("azure/functions/", "functions/_http.py", "functions/http.py")),
    ("numpy calls from tensor checks (sum, errstate)", ("numpy/",)),
    (
        "dispatcher (emulator/dispatch.py, routing.py, its async context manager)",
        ("emulator/dispatch.py", "emulator/routing.py", "contextlib.py", "parse.py"),
    ),
    ("ASGI adapter (emulator/asgi.py)", ("emulator/asgi.py",)),
    ("settings lookups (runtime/settings.py, os.environ)", ("runtime/settings.py", "os.py", "<frozen os>")),
    (
        "thread-pool hop (emulator/workers.py; concurrent.futures, threading, queue)",
        ("emulator/workers.py", "concurrent/futures/", "threading.py", "queue.py"),
    ),
    (
        "worker invoker (emulator/direct_invoker.py, invocation.py; werkzeug headers)",
        ("emulator/direct_invoker.py", "emulator/invocation.py", "werkzeug/"),
    ),
    ("HTTP limits protocol (emulator/protocol.py)", ("emulator/protocol.py",)),
    ("uvicorn (httptools protocol, ASGI cycle)", ("uvicorn/",)),
    ("event loop (asyncio, uvloop, task bookkeeping)", ("asyncio/", "uvloop/", "_weakrefset.py")),
    ("FastAPI / Starlette / pydantic", ("fastapi/", "starlette/", "pydantic")),
    ("logging, uuid", ("logging/", "uuid.py")),
    ("the baseline server's own code (orjson calls included)", ("floor_server.py", "fastapi_baseline.py")),
]
#: Functions whose inclusive time is of interest (a regular expression on the frame text).
INCLUSIVE = {
    "AsgiApp.__call__ (whole request on the loop, minus the hop)": r"AsgiApp\.__call__ ",
    "Dispatcher._build_request (func.HttpRequest)": r"_build_request ",
    "dispatch _convert (HttpResponse → status/headers/body)": r"_convert \(.*dispatch",
    "WorkerPool._work (the function on its worker thread)": r"WorkerPool\._work ",
    "simple.predict (the handler)": r"predict \(.*runtime/simple\.py",
    "OnnxModel.run (session.run + bookkeeping)": r"OnnxModel\.run |run \(.*runtime/model\.py",
}


def layer_of(frame: str) -> str:
    for layer, patterns in LAYERS:
        if any(pattern in frame for pattern in patterns):
            return layer
    return "other"


def server_for(target: str, app: Path) -> Server:
    port = free_port()
    model = str(app / "models" / "mlp.onnx")
    env = batching.base_env(app.parent)
    if target == "funnx":
        command = [
            sys.executable,
            "-m",
            "framework.cli.main",
            "start",
            "--app",
            str(app),
            "--port",
            str(port),
            "--quiet",
        ]
        threads = {model_setting("mlp", "intra_op_threads"): str(batching.SMALL_INTRA_OP_THREADS)}
        return Server("funnx", command, port, {**env, **threads}, {"small": "/api/mlp"})
    module, path = {"floor": ("bench.floor_server", "/"), "fastapi": ("bench.fastapi_baseline", "/predict-inline")}[
        target
    ]
    command = [sys.executable, "-m", module, model, str(port), str(batching.SMALL_INTRA_OP_THREADS)]
    return Server(target, command, port, env, {"small": path})


def profile(target: str, concurrency: int, seconds: float, raw: Path) -> str:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("error: py-spy is not installed; run `bash scripts/setup.sh` (it is a dev dependency)")
    body = payloads.simple_json(MODELS["mlp"][1])
    with tempfile.TemporaryDirectory(prefix="funnx-profile-") as scratch:
        app = make_app(Path(scratch) / "app", ["mlp"])
        server = server_for(target, app)
        point = {"url": server.url + server.paths["small"], "body": body.body, "headers": body.headers,
                 "concurrency": concurrency, "seconds": 1.0, "warmup": 1.0}  # fmt: skip
        with running(server) as pid:
            loadgen.measure([point], pid)  # warm: model loaded, connections and threads up
            record = [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(RATE),
                      "--gil", "--nonblocking", "--format", "raw", "--output", str(raw)]  # fmt: skip
            sampler = subprocess.Popen(record, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.3)  # py-spy attaches
            [result] = loadgen.measure([{**point, "seconds": seconds - 0.5, "warmup": 0.0}], pid)
            _, errors = sampler.communicate(timeout=60)
            if sampler.returncode != 0:
                raise SystemExit(f"error: py-spy failed: {errors.decode(errors='replace').strip()[-500:]}")
    return report(raw, result, target, concurrency, seconds)


def report(raw: Path, result: dict[str, float], target: str, concurrency: int, seconds: float) -> str:
    by_layer: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        by_layer[layer_of(frames[-1])] += int(count)
        if layer_of(frames[-1]).endswith("(left out)"):
            continue
        for name, pattern in INCLUSIVE.items():
            if any(re.search(pattern, frame) for frame in frames):
                inclusive[name] += int(count)
    excluded = sum(count for layer, count in by_layer.items() if layer.endswith("(left out)"))
    total = sum(by_layer.values()) - excluded
    per_request_us = 1e6 / RATE / (result["rps"] * (seconds - 0.5))

    def rows(counter: collections.Counter[str]) -> list[str]:
        return [
            f"| {name} | {count / total * 100:.1f}% | {count * per_request_us:.1f} |"
            for name, count in counter.most_common()
            if not name.endswith("(left out)")
        ]

    busy = total / (RATE * seconds) * 100
    lines = [
        f"{target}, c={concurrency}: {result['rps']:,.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
        f"server CPU {result['server_cpu_us']:.0f} µs/req; GIL held {busy:.0f}% of the time "
        f"({total} samples at {RATE} Hz, {excluded} start-up samples left out)",
        "",
        "| layer (innermost frame) | share of GIL time | µs per request |",
        "| --- | ---: | ---: |",
        *rows(by_layer),
        f"| total | 100% | {total * per_request_us:.1f} |",
        "",
        "| inclusive | share of GIL time | µs per request |",
        "| --- | ---: | ---: |",
        *rows(inclusive),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", default="funnx", choices=["funnx", "floor", "fastapi"])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw samples here (flamegraph input)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        raw = options.raw or Path(folder) / "samples.raw"
        print(profile(options.target, options.concurrency, options.seconds, raw))


if __name__ == "__main__":
    main()

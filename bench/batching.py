"""``python -m bench batching``: what adaptive batching buys, and what the unbatched path costs.

Five parts, every server run alone (2 cores) and loaded by the one load generator (bench/loadgen.py):

1. A 25M-parameter MLP (1024→4096→4096→1000, ~100 MB) behind ``funnx start`` over loopback, with
   binary OIP (tritonclient's bytes), simple JSON and OIP JSON, at c = 1, 8, 32: unbatched, and
   batched (the same app with ``FUNNX_<MODEL>_MAX_BATCH_SIZE`` / ``_MAX_BATCH_DELAY_MS`` set). Whether
   the settings took effect is read from the ``batching`` key of ``GET /api/<model>``.
2. The same model through the worker's in-process path: the generated function on N threads.
3. MLServer (its own virtualenv) with adaptive batching serving the same model, OIP JSON.
4. The small MLP (784→256→10) unbatched: funnx against the Python floor (bench/floor_server.py)
   and FastAPI running ``session.run`` inline; plus the client's ceiling against a trivial server.
5. Parts 4 (at c=8) and 3 (at c=32) again with an httpx client, the client issue #15's baseline
   figures were measured with, to compare with them.

Each measurement is repeated in ``rounds`` rounds (each server started afresh per round); the
report gives the median over rounds, so a noisy neighbour on the machine moves one round, not the row.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import statistics
import sys
import tempfile
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import inprocess, loadgen, mlserver_env, payloads
from bench.apps import MODELS, make_app
from bench.batching_report import HTTPX_LARGE_LEVEL, HTTPX_SMALL_LEVEL
from bench.servers import Server, running
from framework.emulator.azurite import free_port
from framework.runtime.naming import model_setting
from tests.models import mlp

LARGE, SMALL = "mlp25m", "mlp"
LARGE_SIZES = (1024, 4096, 4096, 1000)
MAX_BATCH_SIZE, MAX_BATCH_DELAY_MS = 32, 2
#: The small-model servers all run onnxruntime with one intra-op thread: with the default (every core,
#: spinning between runs) the session's threads fight the client and the interpreter for 2 cores and
#: each server's throughput halves and swings with the machine's load, hiding what is measured there:
#: the Python serving path. The large model keeps onnxruntime's defaults (what users get).
SMALL_INTRA_OP_THREADS = 1
BATCH_OPTIONS = {"max_batch_size": str(MAX_BATCH_SIZE), "max_batch_delay_ms": str(MAX_BATCH_DELAY_MS)}


@dataclass(frozen=True)
class Plan:
    """How much to measure. ``mlserver``: "auto" creates its virtualenv when missing, "existing"
    uses it only when present, "off" leaves MLServer out."""

    seconds: float = 1.5
    warmup: float = 0.5
    rounds: int = 5
    levels: tuple[int, ...] = (1, 8, 32)
    large_sizes: tuple[int, ...] = LARGE_SIZES
    mlserver: str = "auto"
    #: Which parts run: "client" (ceiling), "large" (HTTP and MLServer), "in-process", "small", and
    #: "httpx" (the small-model and MLServer comparisons again with the client of the issue's baselines).
    parts: frozenset[str] = frozenset({"client", "large", "in-process", "small", "httpx"})


def batch_settings(model: str) -> dict[str, str]:
    """The app settings that turn batching on for ``model``."""
    return {model_setting(model, option): value for option, value in BATCH_OPTIONS.items()}


def base_env(scratch: Path) -> dict[str, str]:
    """The servers' environment: this one without FUNNX_* settings, and a private model cache."""
    unset = {name: value for name, value in os.environ.items() if not name.startswith("FUNNX_")}
    return {**unset, "FUNNX_MODEL_CACHE_DIR": str(scratch / "cache"), "PYTHONUNBUFFERED": "1"}


def describe_batching(report: Any) -> tuple[bool | None, str]:
    """(did batches hold more than one request, a sentence) from a metadata ``batching`` value."""
    if report is None:
        return None, "batching not available (the model's metadata has no 'batching' key): rows measure unbatched"
    mean = None
    if isinstance(report, dict):
        sizes = report.get("batch_sizes")
        if isinstance(report.get("mean_batch_size"), int | float):
            mean = float(report["mean_batch_size"])
        elif isinstance(report.get("requests"), int) and isinstance(report.get("batches"), int) and report["batches"]:
            mean = report["requests"] / report["batches"]
        elif isinstance(sizes, dict) and sizes:  # histogram: size → count
            counts = {int(size): int(count) for size, count in sizes.items()}
            mean = sum(size * count for size, count in counts.items()) / max(sum(counts.values()), 1)
        elif isinstance(sizes, list) and sizes:
            mean = statistics.fmean(float(size) for size in sizes)
    if mean is None:
        return None, f"batching reported, batch sizes not understood: {report}"
    verdict = "batches formed" if mean > 1 else "no request shared a batch"
    return mean > 1, f"{verdict}: mean batch size {mean:.2f} ({report})"


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    rps = [sample["rps"] for sample in samples]
    summary = {
        "rps": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_ms": statistics.median(sample["p50_ms"] for sample in samples),
        "p90_ms": statistics.median(sample["p90_ms"] for sample in samples),
        "requests": sum(sample["requests"] for sample in samples),
        "errors": sum(sample["errors"] for sample in samples),
    }
    for share in ("client_cpu", "server_cpu_us"):
        if samples[0].get(share) is not None:
            summary[share] = statistics.median(sample[share] for sample in samples)
    return summary


class Section:
    """One run of the section: the app, the payloads, the servers, and the samples collected."""

    def __init__(self, plan: Plan, scratch: Path) -> None:
        self.plan = plan
        self.scratch = scratch
        build_large = functools.partial(mlp, sizes=plan.large_sizes)
        large = bool(plan.parts & {"large", "in-process"})  # a 100 MB model: built only when measured
        self.app = make_app(scratch / "app", [SMALL, LARGE] if large else [SMALL], extra={LARGE: build_large})
        self.large_path = self.app / "models" / f"{LARGE}.onnx"
        example = MODELS[SMALL][1]
        large_example = np.random.default_rng(2).standard_normal((1, plan.large_sizes[0]), dtype=np.float32)
        self.payloads = {
            "small": payloads.simple_json(example),
            "binary": payloads.oip_binary("x", "y", large_example),
            "json": payloads.simple_json(large_example),
            "oip-json": payloads.oip_json("x", large_example),
        }
        self.env = base_env(scratch)
        self.samples: dict[tuple[str, str, str, int], list[dict[str, Any]]] = defaultdict(list)
        self.batching: dict[str, Any] = {}
        self.mlserver: dict[str, Any] = {}

    # -- servers ----------------------------------------------------------------------------
    def funnx(self, name: str, extra_env: dict[str, str], paths: dict[str, str]) -> Server:
        port = free_port()
        command = [sys.executable, "-m", "framework.cli.main", "start", "--app", str(self.app), "--port", str(port)]
        return Server(name, [*command, "--quiet"], port, {**self.env, **extra_env}, paths)

    def mlserver_server(self) -> Server | None:
        if self.mlserver.get("skipped"):
            return None
        mode = self.plan.mlserver
        interpreter = {"auto": mlserver_env.ensure, "existing": mlserver_env.existing}.get(mode, lambda: None)()
        if interpreter is None:
            reason = "left out (--no-mlserver)" if mode == "off" else f"left out: no {mlserver_env.VENV.name} yet"
            self.mlserver = {"skipped": reason}
            return None
        self.mlserver = {"version": mlserver_env.version(interpreter)}
        ports = (free_port(), free_port(), free_port())
        folder = mlserver_env.repository(
            self.scratch / "mlserver", LARGE, self.large_path, ports, MAX_BATCH_SIZE, MAX_BATCH_DELAY_MS / 1000
        )
        env = {**mlserver_env.environment(), "FUNNX_MODEL_CACHE_DIR": ""}
        command = mlserver_env.command(interpreter, folder)
        paths = {"oip-json": f"/v2/models/{LARGE}/infer"}
        return Server("MLServer", command, ports[0], env, paths, ready_path=f"/v2/models/{LARGE}/ready")

    def plain(self, name: str, module: str, path: str, *args: str) -> Server:
        """``python -m module ARGS PORT [SMALL_INTRA_OP_THREADS]`` serving the small payload at ``path``."""
        port = free_port()
        command = [sys.executable, "-m", module, *args, str(port), str(SMALL_INTRA_OP_THREADS)]
        return Server(name, command, port, self.env, {"small": path})

    # -- measuring --------------------------------------------------------------------------
    def load(self, group: str, server: Server, levels: tuple[int, ...] = (), client: str = "aiohttp") -> None:
        """Load every path of ``server`` at ``levels`` (the plan's by default) with ``client``."""
        keys, points = [], []
        for payload, path in server.paths.items():
            for level in levels or self.plan.levels:
                keys.append((group, server.name, payload, level))
                points.append({"url": server.url + path, "body": self.payloads[payload].body,
                               "headers": self.payloads[payload].headers, "concurrency": level,
                               "seconds": self.plan.seconds, "warmup": self.plan.warmup, "client": client})  # fmt: skip
        with running(server) as process_group:
            for key, sample in zip(keys, loadgen.measure(points, process_group), strict=True):
                self.samples[key].append(sample)
            if server.name.startswith("funnx") and group == "large":
                self.batching[f"HTTP, {server.name}"] = _metadata_batching(server.url + f"/api/{LARGE}")

    def in_process(self, name: str, extra_env: dict[str, str]) -> None:
        requests = {}
        for payload, function, url, route in (
            ("binary", "open_inference", f"http://localhost/api/v2/models/{LARGE}/infer", {"rest": "infer"}),
            ("json", "predict", f"http://localhost/api/{LARGE}", {}),
        ):
            body_file = self.scratch / f"{payload}.body"
            body_file.write_bytes(self.payloads[payload].body)
            headers = {key.lower(): value for key, value in self.payloads[payload].headers.items()}
            requests[payload] = {"function": function, "url": url, "headers": headers, "route_params": route,
                                 "body_file": str(body_file)}  # fmt: skip
        spec = {"app": str(self.app), "model": LARGE, "requests": requests, "levels": list(self.plan.levels),
                "seconds": self.plan.seconds, "warmup": self.plan.warmup}  # fmt: skip
        measured = inprocess.measure(spec, {**self.env, **extra_env})
        for key, sample in measured["results"].items():
            payload, level = key.split("/")
            self.samples[("in-process", name, payload, int(level))].append(sample)
        self.batching[f"in-process, {name}"] = measured["batching"]

    def run_round(self, index: int = 0) -> None:
        """One round (``index`` from 0). The unbatched and batched servers take turns going first
        (batched first in the 2nd, 4th… round). With a fixed order, the batched server always started
        right after the unbatched one had gone, and its first point (OIP binary at c=1) came out
        1.17-1.21x slower in three runs; taking turns, 1.00x."""
        levels_paths = {"binary": f"/api/v2/models/{LARGE}/infer", "json": f"/api/{LARGE}",
                        "oip-json": f"/api/v2/models/{LARGE}/infer"}  # fmt: skip
        parts = self.plan.parts
        variants = [("funnx", {}), ("funnx batched", batch_settings(LARGE))]
        if index % 2:
            variants.reverse()
        if "client" in parts:
            self.load("client", self.plain("trivial server", "bench.floor_server", "/", "--trivial"))
        if "large" in parts:
            for name, env in variants:
                self.load("large", self.funnx(name, env, levels_paths))
            mlserver = self.mlserver_server()
            if mlserver is not None:
                self.load("large", mlserver)
        if "in-process" in parts:
            for name, env in variants:
                self.in_process(name, env)
        if "small" in parts:
            self.small_round()
        if "httpx" in parts:
            self.httpx_round(variants)

    def httpx_round(self, variants: list[tuple[str, dict[str, str]]]) -> None:
        """The two comparisons whose baselines issue #15 measured with an httpx client, with that client:
        the small model at c=8 and the large one against MLServer at c=32 (OIP JSON)."""
        for server in self.small_servers():
            self.load("httpx", server, levels=(HTTPX_SMALL_LEVEL,), client="httpx")
        oip_json = {"oip-json": f"/api/v2/models/{LARGE}/infer"}
        for name, env in variants:
            self.load("httpx", self.funnx(name, env, oip_json), levels=(HTTPX_LARGE_LEVEL,), client="httpx")
        mlserver = self.mlserver_server()
        if mlserver is not None:
            self.load("httpx", mlserver, levels=(HTTPX_LARGE_LEVEL,), client="httpx")

    def small_round(self) -> None:
        for server in self.small_servers():
            self.load("small", server)

    def small_servers(self) -> list[Server]:
        """The floor, FastAPI inline and funnx serving the small model, on their own ports."""
        small_model = str(self.app / "models" / f"{SMALL}.onnx")
        threads = {model_setting(SMALL, "intra_op_threads"): str(SMALL_INTRA_OP_THREADS)}
        return [
            self.plain("floor", "bench.floor_server", "/", small_model),
            self.plain("FastAPI inline", "bench.fastapi_baseline", "/predict-inline", small_model),
            self.funnx("funnx", threads, {"small": f"/api/{SMALL}"}),
        ]

    def results(self) -> dict[str, Any]:
        rows = [
            {"group": group, "server": server, "payload": payload, "concurrency": level, **_summary(samples)}
            for (group, server, payload, level), samples in self.samples.items()
        ]
        sizes = self.plan.large_sizes
        parameters = sum(inputs * outputs for inputs, outputs in itertools.pairwise(sizes))
        return {
            "rows": rows,
            "batching": {where: describe_batching(report) for where, report in self.batching.items()},
            "mlserver": self.mlserver,
            "model": {
                "sizes": list(sizes),
                "parameters": parameters,
                "mb": self.large_path.stat().st_size / 1e6 if self.large_path.exists() else 0.0,
            },
            "settings": batch_settings(LARGE),
            "plan": {"seconds": self.plan.seconds, "rounds": self.plan.rounds, "levels": list(self.plan.levels)},
        }


def _metadata_batching(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return json.loads(reply.read()).get("batching")


def run(plan: Plan | None = None) -> dict[str, Any]:
    plan = plan or Plan()
    with tempfile.TemporaryDirectory(prefix="funnx-bench-") as scratch:
        section = Section(plan, Path(scratch))
        load = []
        for index in range(plan.rounds):
            load.append(os.getloadavg()[0])
            print(f"bench: batching round {index + 1}/{plan.rounds} (load {load[-1]:.1f})", file=sys.stderr, flush=True)
            section.run_round(index)
        results = {**section.results(), "load": [*load, os.getloadavg()[0]]}
    for where, (_, sentence) in results["batching"].items():
        print(f"bench: batching settings, {where}: {sentence}", file=sys.stderr, flush=True)
    return results

"""``python -m bench.invokers`` (Python 3.13+): what going through azure-functions-runtime costs per
request, against the emulator's own invoker, in-process (no sockets, no TestClient thread hop).

One app, two hosts (``runtime`` and ``direct`` worker), the same requests awaited alternately on
one event loop through the dispatcher: a trivial sync function, a trivial async one, and the
simple contract of the tiny add-one model. Overhead is the difference of medians.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench.apps import make_app
from bench.timing import Timing, _summary, fmt_us
from framework.emulator.dispatch import RawRequest
from framework.emulator.host import RUNTIME_PYTHON, EmulatorHost

TRIVIAL = """
import azure.functions as func

bp = func.Blueprint()


@bp.route(route="ping", auth_level=func.AuthLevel.ANONYMOUS)
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("pong")


@bp.route(route="aping", auth_level=func.AuthLevel.ANONYMOUS)
async def aping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("pong")
"""

REQUESTS = {
    "trivial sync function": RawRequest("GET", "/api/ping"),
    "trivial async function": RawRequest("GET", "/api/aping"),
    "tiny model, simple contract": RawRequest(
        "POST", "/api/tiny", headers=[("content-type", "application/json")], body=b'{"data": [1, 2, 3, 4]}'
    ),
}


async def _alternate(runtime: EmulatorHost, direct: EmulatorHost, raw: RawRequest, count: int) -> tuple[Timing, Timing]:
    samples: dict[str, list[float]] = {"runtime": [], "direct": []}
    for _ in range(count):
        for name, host in (("runtime", runtime), ("direct", direct)):
            started = time.perf_counter_ns()
            response = await host.dispatcher.handle(raw)
            samples[name].append((time.perf_counter_ns() - started) / 1000)
            assert response.status == 200, response
    return _summary(samples["runtime"]), _summary(samples["direct"])


def run(count: int = 5000) -> list[tuple[str, Timing, Timing]]:
    with tempfile.TemporaryDirectory(prefix="funnx-bench-") as scratch:
        app = make_app(Path(scratch) / "app", ["tiny"])
        (app / "functions_app" / "trivial.py").write_text(TRIVIAL)
        runtime = EmulatorHost(app, worker="runtime")
        direct = EmulatorHost(app, worker="direct")
        try:
            return [(name, *asyncio.run(_alternate(runtime, direct, raw, count))) for name, raw in REQUESTS.items()]
        finally:
            runtime.close()
            direct.close()


def main() -> int:
    if sys.version_info < RUNTIME_PYTHON:
        print("azure-functions-runtime needs Python 3.13+; run this with .venv-3.13/bin/python -m bench.invokers")
        return 1
    print("| request | direct median (p90) µs | runtime median (p90) µs | overhead µs |")
    print("|---|---:|---:|---:|")
    for name, runtime, direct in run():
        overhead = runtime.median_us - direct.median_us
        print(
            f"| {name} | {fmt_us(direct.median_us)} ({fmt_us(direct.p90_us)}) "
            f"| {fmt_us(runtime.median_us)} ({fmt_us(runtime.p90_us)}) | {fmt_us(overhead)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

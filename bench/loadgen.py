"""The one load generator of the batching section: aiohttp on keep-alive connections, in its own process.

A run is a list of points (URL, body, concurrency); at each point ``concurrency`` workers share one
connection pool of that size, each sending its next request as soon as the last one answered (a
closed loop, so throughput and latency are two views of one run), first for a warm-up, then for the
measured window. The client runs in a child process (``python -m bench.loadgen``, spec as JSON on
stdin, results as JSON on stdout), so its CPU time is not taken from the server's interpreter.

Two CPU figures come with each point: the client's CPU per second of wall time (near 1.0 means the
client, not the server, may be the bottleneck) and the server's CPU time per request, read from
/proc for the server's whole process group during the window. The latter barely moves when other
work shares the machine, which throughput does not: it is the fairest cost comparison here.

Every request is the same bytes; no ``Accept-Encoding`` is sent (tritonclient and curl do not ask for
compressed replies by default), so no server spends time compressing.

A point's ``client`` is "aiohttp" (the default) or "httpx": the client issue #15's baseline figures
were measured with. httpx costs several times aiohttp's CPU per request and tops out near 1,000 req/s
at c=8 and 200-300 at c=32 here, so its rows mostly measure the client; they are reported to compare
with those figures, never alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx

REPO = Path(__file__).resolve().parents[1]
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def group_cpu(group: int | None) -> float:
    """CPU seconds (user + system) used so far by the live processes of process group ``group``."""
    if group is None:
        return 0.0
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        if int(fields[2]) == group:  # after the name: state, ppid, pgrp, …, utime (11), stime (12)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / TICKS_PER_SECOND


Send = Callable[[], Awaitable[tuple[int, bytes]]]


@contextlib.asynccontextmanager
async def _sender(point: dict[str, Any], body: bytes) -> AsyncIterator[Send]:
    """One request of ``point`` per call (status, body), on a keep-alive pool of ``concurrency`` connections."""
    method, url, headers, size = point["method"], point["url"], point["headers"], point["concurrency"]
    if point.get("client", "aiohttp") == "httpx":
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:

            async def send_httpx() -> tuple[int, bytes]:
                reply = await client.request(method, url, content=body, headers=headers)
                return reply.status_code, reply.content

            yield send_httpx
        return
    connector = aiohttp.TCPConnector(limit=size)
    skipped = ("Accept-Encoding", "User-Agent")
    async with aiohttp.ClientSession(connector=connector, skip_auto_headers=skipped) as session:

        async def send_aiohttp() -> tuple[int, bytes]:
            async with session.request(method, url, data=body, headers=headers) as reply:
                return reply.status, await reply.read()

        yield send_aiohttp


async def _window(send: Send, point: dict[str, Any], seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    failures: list[str] = []
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            status, content = await send()
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures.append(f"{status} {content[:200]!r}")

    cpu, began = _own_cpu(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(point["concurrency"])))
    return {"latencies": latencies, "failures": failures, "elapsed": time.perf_counter() - began,
            "cpu": _own_cpu() - cpu}  # fmt: skip


async def _point(point: dict[str, Any], group: int | None) -> dict[str, Any]:
    body = Path(point["body_file"]).read_bytes()
    async with _sender(point, body) as send:
        status, first = await send()
        if status != 200:  # a wrong URL or payload would otherwise be measured as fast errors
            raise SystemExit(f"loadgen: {point['url']} answered {status}: {first[:300]!r}")
        await _window(send, point, point["warmup"])
        server_cpu = group_cpu(group)
        window = await _window(send, point, point["seconds"])
        server_cpu = group_cpu(group) - server_cpu
    latencies = sorted(window["latencies"])
    count = len(latencies)
    return {
        "rps": count / window["elapsed"],
        "p50_ms": statistics.median(latencies) * 1000,
        "p90_ms": latencies[int(0.9 * (count - 1))] * 1000,
        "requests": count,
        "errors": len(window["failures"]),
        "first_error": window["failures"][0] if window["failures"] else None,
        "client_cpu": window["cpu"] / window["elapsed"],
        "server_cpu_us": server_cpu / count * 1e6 if group is not None else None,
    }


async def _run(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [await _point(point, point.get("server_group", spec.get("server_group"))) for point in spec["points"]]


def measure(points: list[dict[str, Any]], server_group: int | None = None) -> list[dict[str, Any]]:
    """Load each point in turn from a child process; one result per point.

    A point: ``url``, ``body`` (bytes), ``headers``, ``concurrency``, ``seconds``, ``warmup`` (seconds
    of load before the window), optional ``method`` (POST) and ``client`` ("aiohttp" or "httpx"). A
    result: requests/s, p50/p90 latency, non-200 count, client CPU share, and the server's CPU µs per
    request when ``server_group`` (the server's process group id) is given (a point's own
    ``server_group`` wins: servers loaded in turn).
    """
    with tempfile.TemporaryDirectory(prefix="funnx-bench-bodies-") as folder:
        specs = []
        for index, point in enumerate(points):
            body_file = Path(folder) / f"{index}.body"
            body_file.write_bytes(point["body"])
            spec = {key: value for key, value in point.items() if key != "body"}
            specs.append({"method": "POST", **spec, "body_file": str(body_file)})
        done = subprocess.run(
            [sys.executable, "-m", "bench.loadgen"],
            input=json.dumps({"points": specs, "server_group": server_group}),
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.strip()[-800:]}")
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def main() -> None:
    spec = json.loads(sys.stdin.read())
    try:
        import uvloop  # the same event loop uvicorn picks for the servers, when installed
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        results = asyncio.run(_run(spec))
    else:
        results = uvloop.run(_run(spec))
    print(json.dumps(results))


if __name__ == "__main__":
    main()

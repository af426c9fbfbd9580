"""The one load generator of the batching section: aiohttp on keep-alive connections, in its own process.

``concurrency`` workers share one connection pool of that size; each sends its next request as soon
as the last one answered (a closed loop, so throughput and latency are two views of one run). The
client runs in a child process (``python -m bench.loadgen``, spec as JSON on stdin, result as JSON
on stdout), so its CPU time is not taken from the server's interpreter; it reports the CPU it used
per second of wall time, so a reader can tell when a row is bound by the client rather than the server.

Every request is the same bytes; no ``Accept-Encoding`` is sent (tritonclient and curl do not ask for
compressed replies by default), so no server spends time compressing.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
#: Seconds of load before measuring: opens every connection, loads the model, fills caches.
WARMUP_SECONDS = 1.0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _window(session: aiohttp.ClientSession, spec: dict[str, Any], body: bytes, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    failures: list[str] = []
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            async with session.request(spec["method"], spec["url"], data=body, headers=spec["headers"]) as reply:
                content = await reply.read()
            latencies.append(time.perf_counter() - started)
            if reply.status != 200:
                failures.append(f"{reply.status} {content[:200]!r}")

    cpu, began = _cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(spec["concurrency"])))
    elapsed, cpu = time.perf_counter() - began, _cpu_seconds() - cpu
    return {"latencies": latencies, "failures": failures, "elapsed": elapsed, "cpu": cpu}


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    body = Path(spec["body_file"]).read_bytes() if spec.get("body_file") else b""
    connector = aiohttp.TCPConnector(limit=spec["concurrency"])
    skipped = ("Accept-Encoding", "User-Agent")
    async with aiohttp.ClientSession(connector=connector, skip_auto_headers=skipped) as session:
        async with session.request(spec["method"], spec["url"], data=body, headers=spec["headers"]) as reply:
            first = await reply.read()
            if reply.status != 200:  # a wrong URL or payload would otherwise be measured as fast errors
                raise SystemExit(f"loadgen: {spec['url']} answered {reply.status}: {first[:300]!r}")
        await _window(session, spec, body, spec.get("warmup", WARMUP_SECONDS))
        windows = [await _window(session, spec, body, spec["seconds"]) for _ in range(spec["windows"])]
    latencies = sorted(latency for window in windows for latency in window["latencies"])
    failures = [failure for window in windows for failure in window["failures"]]
    elapsed = sum(window["elapsed"] for window in windows)
    return {
        "rps": statistics.median(len(w["latencies"]) / w["elapsed"] for w in windows),
        "rps_windows": [len(w["latencies"]) / w["elapsed"] for w in windows],
        "p50_ms": statistics.median(latencies) * 1000,
        "p90_ms": latencies[int(0.9 * (len(latencies) - 1))] * 1000,
        "requests": len(latencies),
        "errors": len(failures),
        "first_error": failures[0] if failures else None,
        "client_cpu": sum(window["cpu"] for window in windows) / elapsed,
    }


def measure(
    url: str,
    body: bytes,
    headers: dict[str, str],
    concurrency: int,
    seconds: float,
    windows: int = 3,
    method: str = "POST",
    warmup: float = WARMUP_SECONDS,
) -> dict[str, Any]:
    """Load ``url`` from a child process: ``windows`` windows of ``seconds`` after a warm-up.

    Returns the median requests/s over the windows, p50/p90 latency over all requests, the count of
    non-200 answers, and the client's CPU use (1.0 = one core busy: the client may be the bottleneck).
    """
    with tempfile.NamedTemporaryFile(prefix="funnx-bench-body-") as file:
        file.write(body)
        file.flush()
        spec = {
            "url": url,
            "method": method,
            "headers": headers,
            "body_file": file.name,
            "concurrency": concurrency,
            "seconds": seconds,
            "windows": windows,
            "warmup": warmup,
        }
        done = subprocess.run(
            [sys.executable, "-m", "bench.loadgen"],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed against {url}: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    spec = json.loads(sys.stdin.read())
    try:
        import uvloop  # the same event loop uvicorn picks for the servers, when installed
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        result = asyncio.run(_run(spec))
    else:
        result = uvloop.run(_run(spec))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Hostile clients against ``funnx start`` over loopback, and what each costs the emulator.

    python -m bench.attacks [headers] [bodies] [idle] [normal]

- headers: one request with 300,000 copies of a header, while a probe sends GETs on another
  connection; the probe's worst latency is how long the event loop stalled.
- bodies: 12 parallel 100 MiB POSTs to a route that does not exist; the server's peak RSS.
- idle: 20,000 connections that send nothing (two client processes); the server's open file
  descriptors, and whether a normal request still gets through.
- normal: requests/s of small GETs and 4 KiB POST echoes at concurrency 8, and the server's CPU
  time per request (for a steadier figure, see bench/instructions.py).

The server is ``python -m framework.cli.main start`` in its own process (uvloop, httptools: what
users run); run this module with another funnx on PYTHONPATH to measure that one instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

APP = """
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="ping", methods=["GET"])
def ping(req: func.HttpRequest) -> str:
    return "pong"


@app.route(route="echo", methods=["POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), mimetype="application/octet-stream")
"""

MIB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def emulator(folder: Path) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    """``funnx start`` on a free port: (port, process, file receiving its stderr)."""
    app = folder / "app"
    app.mkdir()
    (app / "function_app.py").write_text(APP)
    (app / "host.json").write_text(json.dumps({"version": "2.0"}))
    port = _free_port()
    log = folder / "server.log"
    command = [sys.executable, "-m", "framework.cli.main", "start", "--app", str(app), "--port", str(port), "--quiet"]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {log.read_text()}") from None
                time.sleep(0.05)
        yield port, process, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _status_line(sock: socket.socket) -> str:
    """The response's status line, or what happened instead."""
    received = b""
    try:
        while b"\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                return f"closed ({received[:40]!r})"
            received += chunk
    except OSError as err:
        return f"{type(err).__name__}"
    return received.split(b"\r\n", 1)[0].decode("latin-1")


class Probe:
    """GET /api/ping back to back on one keep-alive connection; the worst latency seen."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.worst = 0.0
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            sock.settimeout(600)
            request = b"GET /api/ping HTTP/1.1\r\nHost: probe\r\n\r\n"
            while not self._stop.is_set():
                started = time.perf_counter()
                sock.sendall(request)
                received = b""
                while not received.endswith(b"pong"):
                    received += sock.recv(4096)
                self.worst = max(self.worst, time.perf_counter() - started)
                self.count += 1
                time.sleep(0.005)

    def __enter__(self) -> Probe:
        self._thread.start()
        time.sleep(0.3)
        self.worst = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=600)


def headers_attack(port: int, copies: int = 300_000) -> dict[str, Any]:
    head = b"GET /api/ping HTTP/1.1\r\nHost: attacker\r\n" + b"x-rep: v\r\n" * copies + b"\r\n"
    with Probe(port) as probe:
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(600)
            sent = "all sent"
            try:
                sock.sendall(head)
            except OSError as err:
                sent = f"send stopped: {type(err).__name__}"
            status = _status_line(sock)
        answered = time.perf_counter() - started
        time.sleep(0.5)
    worst_ms = round(probe.worst * 1000, 1)
    return {"status": status, "send": sent, "answer_s": round(answered, 3), "probe_worst_ms": worst_ms}


def _upload(port: int, path: str, size: int, payload: memoryview, results: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(120)
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(_status_line(sock)), daemon=True)
        reader.start()
        sent = 0
        try:
            while sent < size:
                sent += sock.send(payload[: min(len(payload), size - sent)])
        except OSError as err:
            answer.append(f"(send stopped after {sent // MIB} MiB: {type(err).__name__})")
        reader.join(timeout=120)
        results.append(" ".join(answer))


def bodies_attack(port: int, pid: int, clients: int = 12, size: int = 100 * MIB) -> dict[str, Any]:
    payload = memoryview(b"x" * MIB)
    before = _status_kib(pid, "VmRSS")
    results: list[str] = []
    started = time.perf_counter()
    upload = (port, "/api/nowhere", size, payload, results)
    threads = [threading.Thread(target=_upload, args=upload) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "elapsed_s": round(time.perf_counter() - started, 2),
        "rss_before_mib": before // 1024,
        "peak_rss_mib": _status_kib(pid, "VmHWM") // 1024,
        "answers": sorted(set(results)),
    }


IDLE_CLIENT = """
import socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(count):
    try:
        held.append(socket.create_connection(("127.0.0.1", port), timeout=3))
    except OSError:
        pass
print(len(held), flush=True)
time.sleep(3600)
"""


def _open_fds(pid: int) -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def idle_attack(port: int, pid: int, log: Path, connections: int = 20_000, processes: int = 2) -> dict[str, Any]:
    fds_before = _open_fds(pid)
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", IDLE_CLIENT, str(port), str(connections // processes)], stdout=subprocess.PIPE
        )
        for _ in range(processes)
    ]
    try:
        opened = sum(int(client.stdout.readline()) for client in clients if client.stdout)
        time.sleep(2)
        fds_during = _open_fds(pid)
        rss_during = _status_kib(pid, "VmRSS") // 1024
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.settimeout(10)
                sock.sendall(b"GET /api/ping HTTP/1.1\r\nHost: x\r\n\r\n")
                normal = _status_line(sock)
        except OSError as err:
            normal = type(err).__name__
        normal_s = time.perf_counter() - started
    finally:
        for client in clients:
            client.kill()
            client.wait()
    server_log = log.read_text(errors="replace")
    return {
        "client_connections_opened": opened,
        "server_fds_before": fds_before,
        "server_fds_during": fds_during,
        "server_rss_during_mib": rss_during,
        "fd_limit": _soft_fd_limit(pid),
        "normal_request": normal,
        "normal_request_s": round(normal_s, 3),
        "emfile_in_log": server_log.count("Too many open files"),
        "log_tail": server_log.strip().splitlines()[-3:],
    }


def _soft_fd_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return -1


async def _load(url: str, body: bytes | None, concurrency: int, seconds: float, pid: int) -> dict[str, float]:
    """Requests/s, and the server's CPU time per request (steadier than requests/s on a shared machine)."""
    done = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def call() -> None:
            method = session.post if body is not None else session.get
            async with method(url, data=body) as reply:
                await reply.read()
                assert reply.status == 200, reply.status

        for _ in range(concurrency):
            await call()
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                await call()
                done += 1

        began, cpu_before = time.perf_counter(), _cpu_seconds(pid)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - began, _cpu_seconds(pid) - cpu_before
    return {"rps": round(done / elapsed), "server_cpu_us_per_request": round(cpu / done * 1e6)}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def normal_load(port: int, pid: int, seconds: float = 5.0, concurrency: int = 8) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}/api"
    return {
        "get": asyncio.run(_load(f"{base}/ping", None, concurrency, seconds, pid)),
        "post_4kib": asyncio.run(_load(f"{base}/echo", b"x" * 4096, concurrency, seconds, pid)),
    }


SECTIONS = ("headers", "bodies", "idle", "normal")


def main(argv: list[str]) -> int:
    chosen = argv or list(SECTIONS)
    for name in chosen:
        if name not in SECTIONS:
            print(f"error: unknown section {name!r}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
            return 2
    for name in chosen:  # a fresh server for each, so peak RSS and file descriptors are its own
        with tempfile.TemporaryDirectory(prefix="funnx-attacks-") as scratch, emulator(Path(scratch)) as running:
            port, process, log = running
            if name == "headers":
                result = headers_attack(port)
            elif name == "bodies":
                result = bodies_attack(port, process.pid)
            elif name == "idle":
                result = idle_attack(port, process.pid, log)
            else:
                result = normal_load(port, process.pid)
            print(json.dumps({name: result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

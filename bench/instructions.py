"""CPU instructions ``funnx start`` spends per request, counted by valgrind's callgrind.

    python -m bench.instructions [REQUESTS]

Requests/s on a shared machine swing by 2x between runs; instruction counts do not, so they show
what a change costs on the normal path (a GET, a 4 KiB POST) to within about 1%. Kernel time is
not counted. Needs valgrind (``callgrind_control`` on PATH); the server runs about 50x slower.
Run it with another funnx checkout as the working directory to measure that one instead.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.attacks import APP

REQUESTS = {
    "get": [b"GET /api/ping HTTP/1.1\r\nHost: bench\r\n\r\n"],
    "post_4kib": [b"POST /api/echo HTTP/1.1\r\nHost: bench\r\nContent-Length: 4096\r\n\r\n" + b"x" * 4096],
}


def _answered(sock: socket.socket, request: list[bytes], count: int) -> None:
    """Send ``request`` ``count`` times, each after the previous answer (Content-Length framed)."""
    for _ in range(count):
        for part in request:
            sock.sendall(part)
        received = b""
        while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n", 1)[1]) < _length(received):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            received += chunk


def _length(received: bytes) -> int:
    head = received.split(b"\r\n\r\n", 1)[0].lower()
    return int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])


def _total(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"no totals in {dump}")


def measure(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="funnx-instructions-") as scratch:
        app = Path(scratch) / "app"
        app.mkdir()
        (app / "function_app.py").write_text(APP)
        (app / "host.json").write_text(json.dumps({"version": "2.0"}))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        out = Path(scratch) / "callgrind.out"
        server = [sys.executable, "-m", "framework.cli.main", "start", "--app", str(app), "--port", str(port)]
        process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *server, "--quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 600
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the server did not start under valgrind") from None
                    time.sleep(0.2)

            def dump() -> Path:
                """Counters since the last dump, in a new file (callgrind_control -d zeroes them)."""
                before = set(Path(scratch).glob("callgrind.out*"))
                subprocess.run(["callgrind_control", "-d", str(process.pid)], check=True, capture_output=True)
                return (set(Path(scratch).glob("callgrind.out*")) - before).pop()

            per_request: dict[str, float] = {}
            for name, request in REQUESTS.items():
                with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
                    _answered(sock, request, 50)  # warm: imports, caches, the connection
                    dump()
                    _answered(sock, request, count)
                    per_request[name] = _total(dump()) / count
            return per_request
        finally:
            process.terminate()
            process.wait(timeout=120)


def main(argv: list[str]) -> int:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("error: valgrind is not installed; install it (e.g. apt-get install valgrind) and retry", file=sys.stderr)
        return 2
    count = int(argv[0]) if argv else 300
    result = measure(count)
    print(json.dumps({name: f"{value / 1000:.1f}k instructions/request" for name, value in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Server processes for the batching section: start one, wait until it answers, stop it and its children.

Each server is a subprocess on a free loopback port; its output goes to a temporary file (a pipe
nobody reads would block a chatty server) that is shown when it fails to start. Ready means a GET
of ``ready_path`` answered 200 (or, without one, that the port accepts connections).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START_SECONDS = 120  # MLServer starts a worker process and loads the model before it is ready


@dataclass(frozen=True)
class Server:
    """How to run one server: ``command`` listens on ``port``; requests go to ``paths`` by payload."""

    name: str
    command: list[str]
    port: int
    env: dict[str, str]
    paths: dict[str, str] = field(default_factory=dict)
    ready_path: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def running(server: Server) -> Iterator[int]:
    """Run ``server`` until the block ends; yields its process group id (its CPU is read from it)."""
    with tempfile.TemporaryFile(prefix=f"funnx-bench-{server.name}-") as log:
        process = subprocess.Popen(
            server.command, stdout=log, stderr=subprocess.STDOUT, env=server.env, cwd=REPO, start_new_session=True
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            while not (_answers(server.url + server.ready_path) if server.ready_path else _listening(server.port)):
                if _exited(process) or time.monotonic() > deadline:
                    log.seek(0)
                    output = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"{server.name} did not start ({' '.join(server.command)}):\n{output}")
                time.sleep(0.1)
            yield process.pid  # started with start_new_session: the pid is the group id
        finally:
            _stop(process)


def _exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the process ended, without reaping it (so its process group id stays reserved)."""
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL to what is left of the server's own process group (MLServer's workers),
    then reap: the group id cannot be reused by an unrelated process while the leader is unreaped."""
    if not _exited(process):
        process.terminate()
        deadline = time.monotonic() + 20
        while not _exited(process) and time.monotonic() < deadline:
            time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):  # started with start_new_session: only this server's processes
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()

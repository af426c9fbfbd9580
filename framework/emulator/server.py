"""Serve an app over HTTP with uvicorn, like ``func start``: banner, function URLs, host-style logs.

:class:`BackgroundServer` runs the same server on a thread (port 0 = a free port), for tests and
benchmarks that need real loopback HTTP.

Connections get the host's limits (limits.py) from uvicorn's httptools protocol, extended in
protocol.py; uvicorn's own knobs do not reach far enough: ``limit_concurrency`` answers 503 to
requests but keeps every idle connection open, ``h11_max_incomplete_event_size`` applies only to
the slower h11 parser, and ``timeout_keep_alive`` starts only after a first response.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
import threading
from typing import Any, TextIO

import uvicorn

from framework.errors import EmulatorError

from .asgi import AsgiApp
from .host import EmulatorHost
from .limits import HttpLimits
from .protocol import guarded_protocol

log = logging.getLogger("funnx.host")

#: How long a stop waits for requests in flight before closing their connections.
GRACEFUL_SHUTDOWN_SECONDS = 5


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only then; without
    # it (any loop but uvloop) Nagle + delayed ACKs hold each keep-alive response back ~40 ms
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as err:
        sock.close()
        reason = err.strerror if isinstance(err, OSError) else str(err)
        raise EmulatorError(
            f"cannot listen on {host}:{port}: {reason}; pick another --port (0 = any free port)"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(host: EmulatorHost, limits: HttpLimits | None) -> uvicorn.Config:
    limits = limits or HttpLimits()
    return uvicorn.Config(
        AsgiApp(host.dispatcher),
        http=guarded_protocol(limits),
        timeout_keep_alive=limits.keep_alive_timeout,
        lifespan="off",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def banner(host: EmulatorHost, base_url: str, out: TextIO) -> None:
    out.write(f"\nfunnx emulator serving {host.app_dir}\n")
    if host.keys is None:
        out.write("Function keys are not enforced (like `func start`); every auth level is open locally.\n")
    else:
        out.write("Function keys are enforced like in Azure (x-functions-key header or ?code=); see `funnx keys`.\n")
    if host.cors is not None:
        credentials = ", with credentials" if host.cors.credentials else ""
        out.write(f"CORS allowed for: {', '.join(host.cors.origins)}{credentials}\n")
    out.write("\nFunctions:\n\n")
    for function in host.functions:
        methods = f"[{','.join(function.methods)}] " if function.methods else ""
        out.write(f"\t{function.name}: {methods}{base_url}{host.dispatcher.url_path(function)}\n\n")
    out.flush()


def serve(
    host: EmulatorHost,
    address: str = "127.0.0.1",
    port: int = 7071,
    out: TextIO = sys.stdout,
    limits: HttpLimits | None = None,
) -> None:
    """Serve until interrupted (Ctrl+C or SIGTERM)."""
    previous = _stop_on_sigterm()  # before the banner: a supervisor may signal as soon as it sees it
    sock = None
    try:
        sock = _bind(address, port)
        bound = sock.getsockname()[1]
        shown = "localhost" if address in ("127.0.0.1", "0.0.0.0") else address
        banner(host, f"http://{shown}:{bound}", out)
        out.write(f"Listening on http://{address}:{bound} (Ctrl+C to stop)\n")
        out.flush()
        uvicorn.Server(_config(host, limits)).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl+C or SIGTERM, re-raised by uvicorn after a graceful shutdown: a normal stop
        pass
    finally:
        if sock is not None:
            sock.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    out.write("Stopped.\n")


def _stop_on_sigterm() -> Any:
    """Treat SIGTERM like Ctrl+C, so the caller's clean-up (Azurite, thread pool) runs either way."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


class BackgroundServer:
    """The emulator on a daemon thread, listening on loopback; ``url`` is its base URL. ``limits``
    (default: the host's) lets tests shorten timeouts and lower the connection cap."""

    def __init__(self, host: EmulatorHost, port: int = 0, limits: HttpLimits | None = None) -> None:
        self.host = host
        self._sock = _bind("127.0.0.1", port)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(_config(host, limits))
        self._thread = threading.Thread(target=self._run, name="funnx-emulator", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> BackgroundServer:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator thread stopped during start-up")
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

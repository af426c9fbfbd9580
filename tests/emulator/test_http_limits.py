"""The host's HTTP limits (Kestrel's) on the emulator, over real loopback sockets: header count and
size, request line, the headers, keep-alive and body-rate timeouts, the body limit applied after the
route and the key while streaming, and the cap on open connections. Timeouts are shortened here
(``LIMITS``); counts and sizes are the real ones."""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from framework.emulator import TestClient
from framework.emulator.dispatch import RawRequest
from framework.emulator.host import EmulatorHost
from framework.emulator.limits import HttpLimits, default_max_connections
from framework.emulator.server import BackgroundServer
from framework.runtime.settings import reread

FUNCTION_APP = """
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="ping", methods=["GET"])
def ping(req: func.HttpRequest) -> str:
    return "pong"


@app.route(route="echo", methods=["POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), mimetype="application/octet-stream")


@app.route(route="header", methods=["GET"])
def header(req: func.HttpRequest) -> str:
    return req.headers.get("x-rep", "")


@app.route(route="keyed", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def keyed(req: func.HttpRequest) -> str:
    return str(len(req.get_body()))


@app.route(route="slow", methods=["GET"])
def slow(req: func.HttpRequest) -> str:
    time.sleep(float(req.params["seconds"]))
    return "done"
"""

BODY_LIMIT = 1 << 20
KEYS = {"masterKey": "master-key", "hostKeys": {"default": "host-key"}, "functionKeys": {}}
LIMITS = HttpLimits(
    request_headers_timeout=0.5,
    keep_alive_timeout=1,
    min_body_rate=2000,
    min_body_rate_grace=0.5,
    body_drain_timeout=0.5,
    max_connections=8,
)
#: How long a test waits for something that should come at once (or after one of the short timeouts).
PATIENCE = 15


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHost]:
    app = tmp_path_factory.mktemp("limits") / "app"
    (app / ".funnx").mkdir(parents=True)
    (app / "function_app.py").write_text(FUNCTION_APP)
    (app / "host.json").write_text(json.dumps({"version": "2.0"}))
    settings = {"IsEncrypted": False, "Values": {"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": str(BODY_LIMIT)}}
    (app / "local.settings.json").write_text(json.dumps(settings))
    (app / ".funnx" / "keys.json").write_text(json.dumps(KEYS))
    emulator = EmulatorHost(app, enforce_keys=True)
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def server(host: EmulatorHost) -> Iterator[BackgroundServer]:
    with BackgroundServer(host, limits=LIMITS) as running:
        yield running


def connect(server: BackgroundServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The next response on ``sock``, read with the standard library's parser."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes the connection (within PATIENCE), discarding anything it sends."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def send_all(sock: socket.socket, *parts: bytes | memoryview, pause: float = 0) -> None:
    """Send ``parts`` one by one, until the server stops taking them (it may answer and close first)."""
    try:
        for part in parts:
            sock.sendall(part)
            time.sleep(pause)
    except OSError:
        pass


def head(path: str, *headers: str, method: str = "GET") -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: test", *headers, "", ""]).encode()


def error_of(body: bytes) -> str:
    message = json.loads(body)["error"]
    assert isinstance(message, str)
    return message


# Headers and request line


def test_a_101st_header_is_refused_with_431(server: BackgroundServer) -> None:
    extra = [f"X-H{i}: v" for i in range(98)]  # with Host and X-Rep: 100 headers
    with connect(server) as sock:
        sock.sendall(head("/api/header", *extra, "X-Rep: ok"))
        assert answer(sock)[::2] == (200, b"ok")
    with connect(server) as sock:
        sock.sendall(head("/api/header", *extra, "X-Rep: ok", "X-One-Too-Many: v"))
        status, headers, body = answer(sock)
        assert (status, headers["content-type"]) == (431, "application/json")
        assert "more than 100 headers" in error_of(body)
        assert closed_by_server(sock)


def test_headers_over_32_kib_are_refused_with_431(server: BackgroundServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/api/header", headers={"x-rep": "a" * 31_000}).status_code == 200
        refused = client.get("/api/header", headers={"x-rep": "a" * 33_000})
    assert refused.status_code == 431
    assert "over 32768 bytes" in refused.json()["error"]


def test_a_header_line_that_never_ends_is_refused_with_431(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /api/ping HTTP/1.1\r\nHost: test\r\nX-Endless: ")
        send_all(sock, *[b"a" * 4096] * 32, pause=0.002)  # 128 KiB with no line end, in separate reads
        assert answer(sock)[0] == 431


def test_300000_copies_of_a_header_get_431_and_others_are_still_served(server: BackgroundServer) -> None:
    flood = head("/api/header", *["X-Rep: v"] * 300_000)
    with connect(server) as sock:
        send_all(sock, flood)
        assert answer(sock)[0] == 431
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/api/ping").text == "pong"


def test_a_url_over_8_kib_is_refused_with_414(server: BackgroundServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/api/ping", params={"q": "a" * 8000}).status_code == 200
        refused = client.get("/api/ping", params={"q": "a" * 8200})
    assert refused.status_code == 414
    assert "URL is over 8192 bytes" in refused.json()["error"]


def test_repeated_headers_are_joined_in_order(server: BackgroundServer, host: EmulatorHost) -> None:
    copies = [("x-rep", "a"), ("X-Rep", "b"), ("x-rep", "c")]
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/api/header", headers=copies).text == "a,b,c"  # joined with "," like the host
    request = RawRequest("GET", "/api/header", headers=copies)
    assert asyncio.run(host.dispatcher.handle(request)).body == b"a,b,c"


@pytest.mark.timeout(10)  # joining each copy onto the value so far took minutes for these
def test_repeated_headers_join_in_linear_time(host: EmulatorHost) -> None:
    request = RawRequest("GET", "/api/header", headers=[("X-Rep", "v")] * 1_000_000)
    reply = asyncio.run(host.dispatcher.handle(request))
    assert reply.body == b",".join([b"v"] * 1_000_000)


# Timeouts


def test_headers_that_stop_coming_get_408_and_a_closed_connection(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /api/ping HTTP/1.1\r\nHost: test\r\nX-Half")
        status, _, body = answer(sock)
        assert status == 408
        assert "did not arrive within 0.5 s" in error_of(body)
        assert closed_by_server(sock)


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(server: BackgroundServer) -> None:
    with connect(server) as silent:  # never sends a byte
        assert closed_by_server(silent)
    with connect(server) as used:
        used.sendall(head("/api/ping"))
        assert answer(used)[::2] == (200, b"pong")
        assert closed_by_server(used)


def test_a_body_that_stops_gets_408_and_a_closed_connection(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(head("/api/echo", "Content-Length: 100000", method="POST") + b"x" * 100)
        status, headers, body = answer(sock)
        assert (status, headers["connection"]) == (408, "close")
        assert "slower than 2000 bytes/s" in error_of(body)
        assert closed_by_server(sock)


def test_a_trickled_body_gets_408(server: BackgroundServer) -> None:
    refused = threading.Event()
    with connect(server) as sock:
        sock.sendall(head("/api/echo", "Content-Length: 100000", method="POST"))

        def trickle() -> None:  # 20 bytes every 50 ms: 400 bytes/s
            while not refused.is_set():
                try:
                    sock.sendall(b"x" * 20)
                except OSError:
                    return
                time.sleep(0.05)

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        try:
            assert answer(sock)[0] == 408
        finally:
            refused.set()
            sender.join()


# The body limit: after the route and the key, while streaming


def test_an_unknown_route_gets_404_without_its_body_being_sent(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(head("/api/nowhere", "Content-Length: 104857600", method="POST"))
        assert answer(sock)[0] == 404
        assert closed_by_server(sock)  # the body never comes: closed after the drain timeout


def test_a_bad_key_gets_401_without_the_body_being_sent(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(head("/api/keyed?code=wrong", "Content-Length: 104857600", method="POST"))
        assert answer(sock)[0] == 401
    with connect(server) as sock:
        sock.sendall(head("/api/keyed?code=host-key", "Content-Length: 5", method="POST") + b"12345")
        assert answer(sock)[::2] == (200, b"5")


def test_a_declared_body_over_the_limit_gets_413_at_once(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(head("/api/echo", f"Content-Length: {BODY_LIMIT + 1}", method="POST"))
        status, headers, body = answer(sock)
        assert (status, headers["connection"]) == (413, "close")
        assert "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT" in error_of(body)


def test_a_streamed_body_gets_413_once_past_the_limit(server: BackgroundServer) -> None:
    chunk = b"x" * 65536
    with connect(server) as sock:
        sock.sendall(head("/api/echo", "Transfer-Encoding: chunked", method="POST"))
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        send_all(sock, *[framed] * (BODY_LIMIT // len(chunk) + 2))  # past the limit, and no last chunk
        assert answer(sock)[0] == 413


def test_a_body_to_an_unknown_route_is_not_buffered(server: BackgroundServer, monkeypatch: pytest.MonkeyPatch) -> None:
    size = 32 << 20
    payload = memoryview(bytes(1 << 20))
    tracemalloc.start()
    try:
        with monkeypatch.context() as env:
            env.setenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", str(100 << 20))  # the host's default: the body fits
            reread()  # the runtime keeps the body limit once read
            with connect(server) as sock:
                sock.sendall(head("/api/nowhere", f"Content-Length: {size}", method="POST"))
                send_all(sock, *[payload] * (size >> 20))
                assert answer(sock)[0] == 404
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        reread()
    assert peak < 8 << 20, f"{peak} bytes allocated for a 32 MiB body nobody reads"


def test_a_connection_is_reused_after_a_drained_404(server: BackgroundServer) -> None:
    with connect(server) as sock:
        sock.sendall(head("/api/nowhere", "Content-Length: 50000", method="POST") + b"x" * 50000)
        assert answer(sock)[0] == 404
        sock.sendall(head("/api/ping"))
        assert answer(sock)[::2] == (200, b"pong")


def test_in_process_the_key_is_checked_before_the_body_limit(host: EmulatorHost) -> None:
    too_big = b"x" * (BODY_LIMIT + 1)
    with TestClient(host=host) as client:
        assert client.post("/api/nowhere", data=too_big).status_code == 404
        assert client.post("/api/keyed?code=wrong", data=too_big).status_code == 401
        refused = client.post("/api/keyed?code=host-key", data=too_big)
        assert refused.status_code == 413
        assert "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT" in refused.json()["error"]
        assert client.post("/api/keyed?code=host-key", data=b"abc").text == "3"


# The cap on open connections


@pytest.fixture
def capped(host: EmulatorHost) -> Iterator[BackgroundServer]:
    """A server whose idle connections stay open unless the cap closes them."""
    with BackgroundServer(host, limits=dataclasses.replace(LIMITS, keep_alive_timeout=60)) as running:
        yield running


def test_at_the_connection_cap_a_new_connection_replaces_an_idle_one(capped: BackgroundServer) -> None:
    opened = [connect(capped) for _ in range(LIMITS.max_connections)]
    try:
        for sock in opened:  # each accepted, answered, and now waiting for its next request
            sock.sendall(head("/api/ping"))
            assert answer(sock)[0] == 200
        for _ in range(16):  # each newcomer is served, and stays: another connection makes room
            newcomer = connect(capped)
            opened.append(newcomer)
            newcomer.sendall(head("/api/ping"))
            assert answer(newcomer)[::2] == (200, b"pong")
        for sock in opened:
            sock.settimeout(0.2)
        assert sum(closed_by_server(sock) for sock in opened) == 16
    finally:
        for sock in opened:
            sock.close()


def test_at_the_connection_cap_with_every_connection_busy_a_new_one_is_closed(capped: BackgroundServer) -> None:
    server = capped

    def slow_request() -> int:
        with connect(server) as sock:
            sock.sendall(head("/api/slow?seconds=2"))
            return answer(sock)[0]

    with ThreadPoolExecutor(LIMITS.max_connections) as pool:
        busy = [pool.submit(slow_request) for _ in range(LIMITS.max_connections)]
        time.sleep(0.5)  # all eight are running
        with connect(server) as newcomer:
            newcomer.sendall(head("/api/ping"))
            assert closed_by_server(newcomer)
        assert [future.result() for future in busy] == [200] * LIMITS.max_connections


def test_default_limits_are_kestrels() -> None:
    limits = HttpLimits()
    assert (limits.max_request_line, limits.max_header_count, limits.max_headers_total) == (8192, 100, 32768)
    assert (limits.request_headers_timeout, limits.keep_alive_timeout) == (30, 130)
    assert (limits.min_body_rate, limits.min_body_rate_grace, limits.body_drain_timeout) == (240, 5, 5)
    assert 16 <= limits.max_connections == default_max_connections()


def test_the_connection_cap_leaves_a_quarter_of_the_file_descriptors(monkeypatch: pytest.MonkeyPatch) -> None:
    resource = pytest.importorskip("resource")
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 4096))
    assert default_max_connections() == 768

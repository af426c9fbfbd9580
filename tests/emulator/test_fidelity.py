"""The emulator against the host's behaviour: one table of requests, sent over loopback HTTP and
through the in-process client, must give the same status, headers that matter and body."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from framework.emulator import TestClient
from framework.emulator.host import EmulatorHost
from framework.emulator.server import BackgroundServer
from tests.emulator.fidelity_app import FUNCTION_APP, HOST_JSON, KEYS, LOCAL_SETTINGS

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
COMPARED_HEADERS = (
    "content-type", "x-content-type-options", "access-control-allow-origin", "access-control-allow-methods",
    "access-control-allow-headers", "access-control-allow-credentials", "x-function-scaleout",
)  # fmt: skip

# (method, path, headers, body) → expected status and, optionally, expected body
TABLE: list[tuple[str, str, dict[str, str], bytes, int, bytes | None]] = [
    ("GET", "/api/items/42?q=1", {}, b"", 200, b'{"id": "42", "query": {"q": "1"}}'),
    ("GET", "/API/Items/abc", {}, b"", 200, b"name=abc"),
    ("GET", "/api/items/4.5", {}, b"", 404, b""),
    ("POST", "/api/items/42", {}, b"", 404, b""),  # wrong method: 404, not 405
    ("GET", "/api/files/a/b/c.onnx", {}, b"", 200, b"path=a/b/c.onnx"),
    ("GET", "/api/files/a%2Fb", {}, b"", 200, b"path=a%2Fb"),
    ("GET", "/api/opt", {}, b"", 200, b"{}"),
    ("GET", "/api/opt/v2", {}, b"", 200, b'{"version": "v2"}'),
    ("GET", "/api/nothing/here", {}, b"", 404, b""),
    ("GET", "/items/42", {}, b"", 404, b""),  # the route prefix is required
    ("GET", "/api/ctx", {"traceparent": TRACEPARENT}, b"", 401, b""),
    ("GET", "/api/ctx?code=wrong", {}, b"", 401, b""),
    (
        "GET", "/api/ctx?code=ctx-key", {"traceparent": TRACEPARENT}, b"", 200,
        json.dumps({
            "function": "ctx", "has_invocation_id": True, "traceparent": TRACEPARENT,
            "directory_is_app": True, "retries": 0,
        }).encode(),
    ),
    ("GET", "/api/ctx?code=admin-function-key", {}, b"", 401, b""),  # another function's key
    ("GET", "/api/ctx?code=master-key", {"x-functions-key": ""}, b"", 401, b""),  # an empty header still wins
    ("GET", "/api/ctx?code=master-key&code=zz", {"traceparent": TRACEPARENT}, b"", 200, None),  # first code
    ("GET", "/api/rank/5", {}, b"", 200, b"constrained"),  # constrained beats plain, '?' ignored
    ("GET", "/api/rank/five", {}, b"", 200, b"plain"),
    ("GET", "/api/own-header", {}, b"", 200, b"mine"),
    ("GET", "/api/ctx?code=ctx-key", {"x-functions-key": "wrong"}, b"", 401, b""),  # the header wins
    ("GET", "/api/ctx", {"x-functions-key": "host-key", "traceparent": TRACEPARENT}, b"", 200, None),
    ("GET", "/api/ctx?code=master-key", {"traceparent": TRACEPARENT}, b"", 200, None),
    ("GET", "/api/admin-only?code=admin-function-key", {}, b"", 401, b""),  # admin needs the master key
    ("GET", "/api/admin-only?code=host-key", {}, b"", 401, b""),
    ("GET", "/api/admin-only?code=master-key", {}, b"", 200, b"admin ok"),
    ("POST", "/api/echo", {"content-type": "application/octet-stream"}, b"\x00\x01binary", 200, b"\x00\x01binary"),
    ("POST", "/api/echo", {}, b"x" * 1001, 413, None),  # FUNCTIONS_REQUEST_BODY_SIZE_LIMIT=1000
    ("GET", "/api/boom", {}, b"", 500, b""),
    ("GET", "/api/items/1", {"origin": "https://allowed.example"}, b"", 200, None),
    ("GET", "/api/items/1", {"origin": "https://evil.example"}, b"", 200, None),
    (
        "OPTIONS", "/api/echo",
        {"origin": "https://allowed.example", "access-control-request-method": "POST",
         "access-control-request-headers": "content-type"},
        b"", 204, b"",
    ),
]  # fmt: skip


@pytest.fixture
def fidelity_app(tmp_path: Path) -> Path:
    app = tmp_path / "fidelity"
    app.mkdir()
    (app / "function_app.py").write_text(FUNCTION_APP)
    (app / "host.json").write_text(json.dumps(HOST_JSON))
    (app / "local.settings.json").write_text(json.dumps(LOCAL_SETTINGS))
    (app / ".funnx").mkdir()
    (app / ".funnx" / "keys.json").write_text(json.dumps(KEYS))
    return app


def _view(status: int, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
    return status, {h: headers[h] for h in COMPARED_HEADERS if h in headers}, body


@pytest.fixture
def both_ways(fidelity_app: Path) -> Iterator[tuple[TestClient, httpx.Client]]:
    host = EmulatorHost(fidelity_app, enforce_keys=True)
    try:
        with (
            BackgroundServer(host) as server,
            TestClient(host=host) as client,
            httpx.Client(base_url=server.url) as http,
        ):
            yield client, http
    finally:
        host.close()


def test_table_of_requests_same_over_http_and_in_process(both_ways: tuple[TestClient, httpx.Client]) -> None:
    client, http = both_ways
    for method, path, headers, body, status, expected_body in TABLE:
        local = client.request(method, path, headers=headers, data=body)
        remote = http.request(method, path, headers=headers, content=body)
        assert _view(local.status_code, local.headers, local.body) == _view(
            remote.status_code, dict(remote.headers), remote.content
        ), (method, path)
        assert local.status_code == status, (method, path, local.body)
        if expected_body is not None:
            assert local.body == expected_body, (method, path)
        expected_header = "mine" if path == "/api/own-header" else "nosniff"  # the function's own value wins
        assert local.headers["x-content-type-options"] == expected_header
        assert [v for k, v in remote.headers.multi_items() if k == "x-content-type-options"] == [expected_header]


def test_cors_headers_only_for_allowed_origins(both_ways: tuple[TestClient, httpx.Client]) -> None:
    client, _ = both_ways
    allowed = client.get("/api/items/1", headers={"origin": "https://allowed.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://allowed.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    refused = client.get("/api/items/1", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in refused.headers
    preflight = client.request(
        "OPTIONS", "/api/echo",
        headers={"origin": "https://allowed.example", "access-control-request-method": "post"},
    )  # fmt: skip
    assert (preflight.status_code, preflight.headers["access-control-allow-methods"]) == (204, "POST")


def test_body_limit_is_a_json_413(both_ways: tuple[TestClient, httpx.Client]) -> None:
    client, _ = both_ways
    reply = client.post("/api/echo", data=b"x" * 1001)
    assert reply.status_code == 413
    assert "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT" in reply.json()["error"]


@pytest.mark.parametrize("way", ["in-process", "loopback"])
def test_concurrency_limits_from_host_json(both_ways: tuple[TestClient, httpx.Client], way: str) -> None:
    """maxConcurrentRequests=2 runs at most two at once; maxOutstandingRequests=4 answers 429 beyond."""
    client, http = both_ways

    def call(_: int) -> tuple[int, str | None]:
        if way == "in-process":
            reply = client.get("/api/slow?seconds=0.4")
            return reply.status_code, reply.headers.get("x-function-scaleout")
        answer = http.get("/api/slow?seconds=0.4", timeout=30)
        return answer.status_code, answer.headers.get("x-function-scaleout")

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(call, range(10)))
    statuses = sorted(status for status, _ in results)
    assert statuses.count(200) >= 4 and statuses.count(429) >= 1 and set(statuses) == {200, 429}
    assert all(scaleout == "1" for status, scaleout in results if status == 429)
    assert client.get("/api/peak").text == "2"


def test_only_selected_functions_are_served(fidelity_app: Path) -> None:
    with TestClient(fidelity_app, functions=["item", "echo"]) as client:
        assert client.get("/api/items/1").status_code == 200
        assert client.get("/api/files/x").status_code == 404
        assert [f.name for f in client.host.functions] == ["item", "echo"]


def test_keys_not_enforced_by_default(fidelity_app: Path) -> None:
    with TestClient(fidelity_app) as client:
        assert client.get("/api/admin-only").status_code == 200


def test_concurrency_limit_shared_by_server_and_in_process_client(both_ways: tuple[TestClient, httpx.Client]) -> None:
    """One host behind both the loopback server and TestClient (as funnx_app does) never deadlocks."""
    client, http = both_ways

    def call(index: int) -> int:
        if index % 2:
            return client.get("/api/slow?seconds=0.2").status_code
        return http.get("/api/slow?seconds=0.2", timeout=30).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(call, range(4))) == [200, 200, 200, 200]


def test_keep_alive_requests_over_loopback_are_not_held_back(both_ways: tuple[TestClient, httpx.Client]) -> None:
    """Regression: BackgroundServer's connections lacked TCP_NODELAY (its socket had proto 0), so on the
    asyncio loop every response after a connection's first waited ~40 ms for a delayed ACK."""
    _, http = both_ways
    assert http.get("/api/items/1").status_code == 200  # the connection is open
    started = time.perf_counter()
    for _ in range(20):
        assert http.get("/api/items/1").status_code == 200
    assert time.perf_counter() - started < 0.6  # ~0.8 s with the delay; ~10 ms without


def test_a_key_header_with_surrounding_whitespace_is_accepted(fidelity_app: Path) -> None:
    """Kestrel trims header values, so the host sees the key without the spaces a client left around it."""
    host = EmulatorHost(fidelity_app, enforce_keys=True)
    try:
        assert host.keys is not None
        with TestClient(host=host) as client:
            key = host.keys.master
            assert client.get("/api/admin-only", headers={"x-functions-key": f" {key}\t "}).status_code == 200
            assert client.get("/api/admin-only", headers={"x-functions-key": f"{key}x"}).status_code == 401
    finally:
        host.close()

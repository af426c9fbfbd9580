"""Fuzzing over real loopback HTTP (uvicorn): methods, paths, headers and query strings, Triton binary
bodies with their headers; plus the fixed transport cases (bombs, oversized bodies, wrong methods)."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
import zlib
from typing import Any

import pytest

from tests.fuzz.harness import ALLOWED, BODY_LIMIT, BUDGETS, REQUEST_SECONDS, FuzzApp, check_reply, fuzz, strict_json
from tests.fuzz.http_strategies import transport_cases
from tests.fuzz.oip_strategies import oip_binary_requests
from tests.fuzz.strategies import deep

# float inputs beyond float32/float16 become ±inf, as numpy converts them (and warns)
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")


@pytest.mark.parametrize("budget", BUDGETS)
def test_methods_paths_headers_and_queries(app: FuzzApp, budget: str) -> None:
    def check(case: tuple[str, str, dict[str, Any], str | None, bytes]) -> None:
        method, path, headers, query, body = case
        check_reply(app.loopback(method, path, body, headers, query))

    fuzz("loopback: methods, paths, headers, queries", budget, (400, 1500), transport_cases(), check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_binary_tensors_over_http(app: FuzzApp, budget: str) -> None:
    def check(case: tuple[str, bytes, dict[str, str]]) -> None:
        model, body, headers = case
        check_reply(app.loopback("POST", f"/api/v2/models/{model}/infer", body, headers), ALLOWED - {404, 405})

    fuzz("loopback: binary tensors", budget, (200, 1000), oip_binary_requests(), check)


def _bomb(size: int) -> bytes:
    """``size`` zero bytes, gzipped in 1 MiB steps (about 1000:1)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(size >> 20)) + compressor.flush()


def test_a_gzip_bomb_is_refused_without_inflating_it(app: FuzzApp) -> None:
    """256 MiB of zeros in a ~250 KB gzip body: 413 at once; decompression stops past the body limit."""
    bomb = _bomb(256 << 20)
    assert len(bomb) < BODY_LIMIT
    headers = {"Content-Encoding": "gzip", "Inference-Header-Content-Length": "0"}
    for path in ("/api/v2/models/add/infer", "/api/add"):
        reply = app.loopback("POST", path, bomb, headers)
        assert reply.status == 413, str(reply)
        assert "decompressed body is over" in strict_json(reply.body)["error"]
        assert reply.seconds < 1.0, str(reply)
        tracemalloc.start()
        try:
            assert app.inproc("POST", path, bomb, headers).status == 413
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 4 * BODY_LIMIT + len(bomb), f"{peak} bytes allocated to refuse a bomb"


def test_a_body_over_the_limit_is_413_over_http(app: FuzzApp) -> None:
    for path in ("/api/add", "/api/v2/models/add/infer"):
        reply = app.loopback("POST", path, b" " * (BODY_LIMIT + 1))
        assert reply.status == 413 and "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT" in strict_json(reply.body)["error"]


@pytest.mark.parametrize("depth", [64, 1000, 1025, 100_000])
def test_deep_nesting_is_a_400(app: FuzzApp, depth: int) -> None:
    started = time.perf_counter()
    for path, template in [
        ("/api/add", b'{"data": {}}'),
        ("/api/text", b'{"data": {}}'),
        (
            "/api/v2/models/add/infer",
            b'{"id": {}, "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": {}}]}',
        ),
        ("/api/v2/models/text/infer", b'{"inputs": [{"name": "s", "shape": [1], "datatype": "BYTES", "data": {}}]}'),
        ("/api/v2/models/add/infer", b'{"inputs": [{"name": "x", "shape": [1], "datatype": {}, "data": [1]}]}'),
        (
            "/api/v2/models/add/infer",
            b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": {}}]}',
        ),
    ]:
        reply = app.loopback("POST", path, deep(depth, template))
        assert reply.status == 400, str(reply)
        assert strict_json(reply.body)["error"]
    assert time.perf_counter() - started < REQUEST_SECONDS


# What the README promises for methods and routes: no function for the route and method is the host's
# empty 404; a model's OIP endpoint reached with the wrong one of its methods is a JSON 405 naming the
# right one; an unknown model or version is a JSON 404.
METHODS = [
    ("PUT", "/api/add", 404, False),
    ("DELETE", "/api/add", 404, False),
    ("HEAD", "/api/add", 404, False),
    ("OPTIONS", "/api/add", 404, False),
    ("PATCH", "/api/v2/models/add/infer", 404, False),
    ("POST", "/api/openapi.json", 404, False),
    ("GET", "/api/nope", 404, False),
    ("GET", "/api/v2/models/add/infer", 405, True),
    ("POST", "/api/v2/models/add", 405, True),
    ("POST", "/api/v2/models/add/ready", 405, True),
    ("POST", "/api/v2/health/live", 405, True),
    ("POST", "/api/v2/models/nope/infer", 404, True),
    ("GET", "/api/v2/models/add/versions/3", 404, True),
]


@pytest.mark.parametrize(("method", "path", "status", "json_error"), METHODS)
def test_wrong_methods_and_unknown_routes(app: FuzzApp, method: str, path: str, status: int, json_error: bool) -> None:
    reply = app.loopback(method, path, b"{}")
    assert reply.status == status, str(reply)
    assert bool(reply.body) is json_error, str(reply)
    check_reply(reply)
    if status == 405:
        assert reply.headers["allow"] in ("GET", "POST")


def test_gzip_responses_decode(app: FuzzApp) -> None:
    """A large JSON reply is gzipped when accepted, and the decoded body is the same reply."""
    body = json.dumps({"inputs": [{"name": "x", "shape": [500], "datatype": "FP32", "data": [1.5] * 500}]}).encode()
    reply = app.inproc(
        "POST", "/api/v2/models/add/infer", gzip.compress(body), {"Content-Encoding": "gzip", "Accept-Encoding": "gzip"}
    )
    assert reply.status == 200 and reply.headers["content-encoding"] == "gzip"
    assert strict_json(reply.body)["outputs"][0]["data"] == [2.5] * 500

"""The fuzzing harness: an app with a model for every kind of input, served in-process (TestClient) and
over loopback HTTP (BackgroundServer + httpx); the invariant every reply must keep; the known-good
requests that must still be answered correctly after a run; and the CI / long budgets.

The invariant: a reply is 200 (the input happened to be valid), a JSON ``{"error": ...}`` with a 4xx
status, an empty 404 (no route, as the Functions host answers) or a 501 for an unimplemented protocol
extension; never another 5xx, never a traceback, never invalid JSON (NaN), never slower than
``REQUEST_SECONDS``.
"""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework.emulator import TestClient
from framework.emulator.host import EmulatorHost

#: Any request taking longer than this is a hang.
REQUEST_SECONDS = 5.0
#: The fuzzed app's body limit (small, so bombs and oversized bodies are cheap to send).
BODY_LIMIT = 1_000_000

Dims = tuple[int | None, ...]  # None: a symbolic dimension


@dataclass(frozen=True)
class Input:
    name: str
    datatype: str  # the OIP wire name
    dims: Dims


#: The fuzzed models: float, int, bool, string (BYTES), fp16 and uint8 inputs, one and several inputs,
#: fixed and symbolic dimensions (shared across inputs, and an image's height and width), a rank-0
#: input and a non-tensor (seq(map)) output.
MODELS: dict[str, tuple[list[Input], list[str]]] = {
    "add": ([Input("x", "FP32", (None,))], ["y"]),
    "mixed": (
        [
            Input("x", "FP32", (None, 3)),
            Input("scale", "INT64", ()),
            Input("mask", "BOOL", (None,)),
            Input("tags", "BYTES", (None,)),
        ],
        ["y", "count", "tags_out"],
    ),
    "typed": ([Input("a", "INT32", (None,)), Input("h", "FP16", (None,))], ["a2", "h2"]),
    "iris": ([Input("float_input", "FP32", (3, 2))], ["label", "probabilities"]),
    "text": ([Input("s", "BYTES", (1,))], ["y"]),
    "pix": ([Input("p", "UINT8", (2, None))], ["y"]),
    # inputs sharing named dimensions (a transformer's [batch, sequence]): sizes that disagree are 400s
    "bert": ([Input(n, "INT64", (None, None)) for n in ("input_ids", "attention_mask", "token_type_ids")], ["summed"]),
    # an image model with dynamic height and width that cannot take small images: 400s, never 500s
    "cnn": ([Input("image", "FP32", (None, 3, None, None))], ["features"]),
}


@dataclass(frozen=True)
class Reply:
    method: str
    path: str
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes  # Content-Encoding already undone
    seconds: float

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} {dict(self.headers)} {self.body[:400]!r}"


@dataclass
class Stats:
    """What a session sent, for the summary line."""

    examples: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    slowest: float = 0.0

    def record(self, reply: Reply) -> None:
        self.statuses[reply.status] += 1
        self.slowest = max(self.slowest, reply.seconds)


STATS = Stats()


def _decoded(body: bytes, encoding: str | None) -> bytes:
    if encoding in ("gzip", "deflate"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    return body


class FuzzApp:
    """One loaded app, reachable in-process and over loopback, every request bounded in time."""

    def __init__(self, host: EmulatorHost, url: str) -> None:
        self.host = host
        self.url = url
        self.client = TestClient(host=host)
        self.http = httpx.Client(base_url=url, timeout=REQUEST_SECONDS)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fuzz-request")

    def inproc(self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None) -> Reply:
        """Through TestClient (the dispatch core without sockets): fast, for body fuzzing."""
        started = time.perf_counter()
        future = self._pool.submit(self.client.request, method, path, data=body, headers=headers)
        try:
            response = future.result(timeout=REQUEST_SECONDS)
        except FutureTimeout:
            raise AssertionError(
                f"no reply within {REQUEST_SECONDS} s (a hang): {method} {path} {body[:200]!r}"
            ) from None
        seconds = time.perf_counter() - started
        body_out = _decoded(response.body, response.headers.get("content-encoding"))
        reply = Reply(method, path, response.status_code, response.headers, body_out, seconds)
        STATS.record(reply)
        return reply

    def loopback(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str | bytes] | None = None,
        params: str | None = None,
    ) -> Reply:
        """Over real HTTP to the uvicorn server: for header, method and transport-level cases."""
        url = f"{path}?{params}" if params is not None else path
        # HTTP has no leading or trailing blanks in header values; anything past ASCII goes as UTF-8
        sent = {k.encode(): (v.encode() if isinstance(v, str) else v).strip() for k, v in (headers or {}).items()}
        started = time.perf_counter()
        try:
            response = self.http.request(method, url, content=body, headers=sent)
        except httpx.TimeoutException:
            raise AssertionError(
                f"no reply within {REQUEST_SECONDS} s (a hang): {method} {url} {body[:200]!r}"
            ) from None
        seconds = time.perf_counter() - started
        reply = Reply(method, url, response.status_code, dict(response.headers), response.content, seconds)
        STATS.record(reply)
        return reply

    def close(self) -> None:
        self.http.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


def strict_json(body: bytes) -> Any:
    """Parse as RFC 8259 JSON: NaN and Infinity are not JSON."""

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in a reply: not valid JSON")

    return json.loads(body, parse_constant=refuse)


def oip_binary(reply: Reply) -> tuple[dict[str, Any], list[bytes]]:
    """Split a binary OIP reply into its JSON header and one blob per binary output."""
    length = int(reply.headers["inference-header-content-length"])
    header = strict_json(reply.body[:length])
    blobs, offset = [], length
    for output in header["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if size is not None:
            blobs.append(reply.body[offset : offset + size])
            offset += size
    assert offset == len(reply.body), f"binary sizes do not add up to the body: {reply}"
    return header, blobs


#: Statuses a fuzzed request may get. 501 is the documented answer for unimplemented extensions.
ALLOWED = frozenset({200, 400, 404, 405, 413, 501})


def check_reply(reply: Reply, allowed: frozenset[int] = ALLOWED) -> None:
    """The invariant every reply keeps (see the module docstring)."""
    assert reply.seconds < REQUEST_SECONDS, f"took {reply.seconds:.1f} s: {reply}"
    assert reply.status in allowed, f"unexpected status: {reply}"
    if reply.method == "HEAD" or (reply.status == 404 and not reply.body):
        return  # no function has this route and method: the host's empty 404
    content_type = reply.headers.get("content-type", "")
    if reply.status == 200:
        if content_type == "application/octet-stream":
            oip_binary(reply)
        else:
            assert content_type == "application/json", f"200 without JSON: {reply}"
            assert isinstance(strict_json(reply.body), dict), str(reply)
        return
    assert content_type == "application/json", f"error without a JSON body: {reply}"
    payload = strict_json(reply.body)
    assert isinstance(payload, dict), str(reply)
    message = payload.get("error")
    assert isinstance(message, str) and message.strip(), f"no error message: {reply}"
    assert "Traceback" not in message and " object at 0x" not in message, f"internals in the message: {reply}"
    if reply.status == 405:
        assert reply.headers.get("allow"), f"405 without Allow: {reply}"
    if reply.status == 501:
        assert "not implemented" in message or "not supported" in message, str(reply)


def _simple(app_send: Callable[..., Reply], route: str, payload: Any) -> Any:
    reply = app_send("POST", f"/api/{route}", json.dumps(payload).encode())
    assert reply.status == 200, str(reply)
    return strict_json(reply.body)["result"]


def assert_still_serving(app: FuzzApp) -> None:
    """Known-good requests on every model, both contracts, both channels, give the right answers."""
    for send in (app.inproc, app.loopback):
        assert _simple(send, "add", {"data": [1, 2.5, -3]}) == [[2.0, 3.5, -2.0]]
        mixed = {"x": [[1, 2, 3], [4, 5, 6]], "scale": 2, "mask": [True, False], "tags": ["a", "ü"]}
        assert _simple(send, "mixed", {"inputs": mixed}) == {
            "y": [[2.0, 4.0, 6.0], [8.0, 10.0, 12.0]],
            "count": 1,
            "tags_out": ["a", "ü"],
        }
        assert _simple(send, "iris", {"data": [[5.1, 3.5], [6.2, 2.9], [7.7, 3.0]], "outputs": ["label"]}) == [
            [0, 0, 0]
        ]
        assert _simple(send, "text", {"data": ["héllo"]}) == [["héllo"]]
        assert _simple(send, "pix", {"data": [[0, 255], [7, 8]]}) == [[[0, 255], [7, 8]]]
        header = json.dumps(
            {
                "inputs": [
                    {"name": "a", "shape": [2], "datatype": "INT32", "data": [1, -2]},
                    {"name": "h", "shape": [2], "datatype": "FP16", "parameters": {"binary_data_size": 4}},
                ]
            }
        ).encode()
        body = header + np.array([0.5, -1.5], dtype="<f2").tobytes()
        reply = send("POST", "/api/v2/models/typed/infer", body, {"Inference-Header-Content-Length": str(len(header))})
        assert reply.status == 200, str(reply)
        meta, blobs = oip_binary(reply)
        assert meta["outputs"][0]["data"] == [2, -4]
        assert np.frombuffer(blobs[0], dtype="<f2").tolist() == [1.0, -3.0]
        reply = send(
            "POST",
            "/api/v2/models/add/infer",
            np.array([1, 2], dtype="<f4").tobytes(),
            {"Inference-Header-Content-Length": "0"},
        )
        assert np.frombuffer(oip_binary(reply)[1][0], dtype="<f4").tolist() == [2.0, 3.0], str(reply)


# -- budgets ------------------------------------------------------------------------------------------

#: Each fuzz test runs twice: a fast, reproducible subset in CI and a long run (``pytest -m long``).
BUDGETS = [pytest.param("ci", id="ci"), pytest.param("long", id="long", marks=pytest.mark.long)]

T = TypeVar("T")


def fuzz(
    name: str, budget: str, examples: tuple[int, int], strategy: st.SearchStrategy[T], check: Callable[[T], None]
) -> None:
    """Run ``check`` on ``examples[0]`` (CI) or ``examples[1]`` (long) examples drawn from ``strategy``.

    Derandomized: the same examples on every run, so a CI failure reproduces locally.
    """

    @settings(
        max_examples=examples[0] if budget == "ci" else examples[1],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )
    @given(strategy)
    def run(case: T) -> None:
        STATS.examples[name] += 1
        check(case)

    run()

"""What a client gets: every (app, worker) pair must answer each request exactly as recorded here.

Status, every header the host passes on (in order; content-length is checked against the body) and
the body. Inference times in simple-contract replies vary, so a top-level ``"time"`` is compared as
"a non-negative number". On 3.13 the ``direct`` and ``runtime`` workers meet the same table, so the
emulator's own path (the only one on 3.11/3.12) answers what Azure's worker code answers.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from framework.emulator import ClientResponse, TestClient
from framework.emulator.host import EmulatorHost
from tests.conformance.conftest import WORKERS

JSON = ("content-type", "application/json")
TEXT = ("content-type", "text/plain; charset=utf-8")
VERSION = ("x-model-version", "local")
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TIME = object()  # stands for the inference time: any non-negative number


def oip_binary(header: dict[str, Any], tensors: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """A request in Triton's binary tensor extension: JSON header, then the raw tensor bytes."""
    encoded = json.dumps(header).encode()
    return [("inference-header-content-length", str(len(encoded)))], encoded + tensors


BINARY_HEADERS, BINARY_BODY = oip_binary(
    {"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}],
     "outputs": [{"name": "y", "parameters": {"binary_data": True}}]},
    np.array([0.5, -1], dtype=np.float32).tobytes(),
)  # fmt: skip
OIP_INFER = json.dumps({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1, 2]}]}).encode()
BINARY_REPLY_HEADER = (
    b'{"model_name":"adder","outputs":[{"name":"y","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]}'
)


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    status: int
    headers: list[tuple[str, str]]  # expected, in order, without content-length
    body: bytes | dict[str, Any]  # raw bytes, or a JSON object (TIME for a varying number)
    send_headers: list[tuple[str, str]] = field(default_factory=list)
    send: bytes = b""


CASES: dict[str, Case] = {
    # the simple contract
    "simple predict": Case(
        "POST", "/api/adder", 200, [VERSION, JSON], {"result": [[2.0, 3.0, 4.0]], "time": TIME},
        [JSON], b'{"data": [1, 2, 3]}',
    ),
    "simple named inputs": Case(
        "POST", "/api/adder", 200, [VERSION, JSON], {"result": {"y": [2.5]}, "time": TIME},
        [JSON], b'{"inputs": {"x": [1.5]}}',
    ),
    "simple gzip body": Case(
        "POST", "/api/adder", 200, [VERSION, JSON], {"result": [[1.5]], "time": TIME},
        [JSON, ("content-encoding", "gzip")], gzip.compress(b'{"data": [0.5]}'),
    ),
    "simple metadata": Case("GET", "/api/adder", 200, [VERSION, JSON], {}),  # body checked in the test
    "simple bad json": Case(
        "POST", "/api/adder", 400, [JSON],
        {"error": 'request body is not valid JSON at line 1 column 2: send {"data": <array>} for the first input '
                  'or {"inputs": {"<name>": <array>, ...}}'},
        [JSON], b"{oops",
    ),
    "simple unknown encoding": Case(
        "POST", "/api/adder", 400, [JSON],
        {"error": "Content-Encoding 'br' is not supported; use gzip or deflate"},
        [JSON, ("content-encoding", "br")], b'{"data": [1]}',
    ),
    "simple wrong method": Case("PUT", "/api/adder", 404, [], b""),
    # the Open Inference Protocol
    "oip ready": Case("GET", "/api/v2/health/ready", 200, [JSON], {"ready": True}),
    "oip model metadata": Case(
        "GET", "/api/v2/models/adder", 200, [JSON],
        {"name": "adder", "versions": [], "platform": "onnxruntime_onnx",
         "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1]}],
         "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1]}]},
    ),
    "oip json infer": Case(
        "POST", "/api/v2/models/adder/infer", 200, [JSON, VERSION],
        {"model_name": "adder", "outputs": [{"name": "y", "datatype": "FP32", "shape": [2], "data": [2.0, 3.0]}]},
        [JSON], OIP_INFER,
    ),
    "oip gzip json infer": Case(
        "POST", "/api/v2/models/adder/infer", 200, [JSON, VERSION],
        {"model_name": "adder", "outputs": [{"name": "y", "datatype": "FP32", "shape": [2], "data": [2.0, 3.0]}]},
        [JSON, ("content-encoding", "gzip")], gzip.compress(OIP_INFER),
    ),
    "oip binary infer": Case(
        "POST", "/api/v2/models/adder/infer", 200,
        [("content-type", "application/octet-stream"),
         ("inference-header-content-length", str(len(BINARY_REPLY_HEADER))), VERSION],
        BINARY_REPLY_HEADER + np.array([1.5, 0], dtype=np.float32).tobytes(),
        BINARY_HEADERS, BINARY_BODY,
    ),
    "oip raw binary infer": Case(
        "POST", "/api/v2/models/adder/infer", 200,
        [("content-type", "application/octet-stream"), ("inference-header-content-length", "114"), VERSION],
        b'{"model_name":"adder","outputs":[{"name":"y","datatype":"FP32","shape":[3],'
        b'"parameters":{"binary_data_size":12}}]}' + np.array([2, 3, 4], dtype=np.float32).tobytes(),
        [("inference-header-content-length", "0")], np.array([1, 2, 3], dtype=np.float32).tobytes(),
    ),
    "oip wrong datatype": Case(
        "POST", "/api/v2/models/adder/infer", 400, [JSON],
        {"error": "input 'x' has datatype FP64; the model expects FP32"},
        [JSON], OIP_INFER.replace(b"FP32", b"FP64"),
    ),
    "oip unknown model": Case(
        "POST", "/api/v2/models/nope/infer", 404, [JSON],
        {"error": "model 'nope' not found; models served without a key: adder"},
        [JSON], b'{"inputs": []}',
    ),
    # what the host hands a function, and what it makes of the reply
    "empty query values are dropped": Case(
        "GET", "/api/probe/echo?x=&y=1&y=2&z=%20&w&v=&v=3&u=&u=", 200, [JSON],
        {"method": "GET", "params": {"y": "1,2", "z": " ", "v": ",3", "u": ","}, "route": {}, "headers": {},
         "content_type": None, "body": "",
         "url": "http://localhost:7071/api/probe/echo?x=&y=1&y=2&z=%20&w&v=&v=3&u=&u="},
    ),
    "repeated headers are joined with commas": Case(
        "POST", "/api/probe/echo/tail", 200, [JSON],
        {"method": "POST", "params": {}, "route": {"tail": "tail"}, "content_type": "text/plain",
         "headers": {"x-rep": "a,b, c", "x-empty": ""}, "body": "é",
         "url": "http://localhost:7071/api/probe/echo/tail"},
        [("X-Rep", "a"), ("x-rep", "b, c"), ("X-Empty", ""), ("content-type", "text/plain")], "é".encode("latin-1"),
    ),
    "get_json on a bad body": Case(
        "POST", "/api/probe/json", 400, [TEXT], b"HTTP request does not contain valid JSON data", [JSON], b"{oops"
    ),
    "get_json": Case("POST", "/api/probe/json", 200, [JSON], {"a": [1, None]}, [JSON], b'{"a": [1, null]}'),
    "a str return value": Case("GET", "/api/probe/text", 200, [TEXT], "plain text, é".encode()),
    "status, headers and cookies": Case(
        "GET", "/api/probe/reply", 201,
        [("x-one", "1"), ("x-multi", "second"), ("content-type", "application/x-probe"),
         ("set-cookie", "session=abc; path=/api; samesite=lax; httponly"),
         ("set-cookie", "theme=dark; max-age=60; path=/; secure")],
        b"\x00made",
    ),
    "context": Case(
        "GET", "/api/probe/context", 200, [JSON],
        {"function": "probe_context", "invocation_id": 36, "traceparent": TRACEPARENT,
         "directory": "functions_app", "retries": 0},
        [("traceparent", TRACEPARENT)],
    ),
    "one route, GET function": Case("GET", "/api/probe/same", 200, [TEXT], b"GET handler"),
    "one route, POST function": Case(
        "POST", "/api/probe/same", 200, [("content-type", "application/octet-stream")], b"\x00\x01", send=b"\x00\x01"
    ),
    "one route, no DELETE function": Case("DELETE", "/api/probe/same", 404, [], b""),
    "a function raises": Case("GET", "/api/probe/boom", 500, [], b""),
    "a function returns a dict": Case("GET", "/api/probe/dict", 500, [], b""),
    "a function returns None": Case("GET", "/api/probe/none", 500, [], b""),
    "a str trigger parameter": Case("GET", "/api/probe/str-trigger", 500, [], b""),
    "no such route": Case("GET", "/api/nothing", 404, [], b""),
}  # fmt: skip


@pytest.fixture(scope="module", params=[(app, worker) for app in ("generated", "warmup") for worker in WORKERS])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    app, worker = request.param
    host = EmulatorHost(request.getfixturevalue(app), worker=worker)
    try:
        with TestClient(host=host) as test_client:
            yield test_client
    finally:
        host.close()


def _matches(expected: Any, actual: Any) -> bool:
    if expected is TIME:
        return isinstance(actual, float) and actual >= 0
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(_matches(value, actual[key]) for key, value in expected.items())
        )
    return bool(expected == actual) and type(expected) is type(actual)


def _check(case: Case, reply: ClientResponse) -> None:
    assert reply.status_code == case.status, reply
    lines = [(name, value) for name, value in reply.header_list if name != "content-length"]
    assert lines == case.headers
    assert dict(reply.header_list)["content-length"] == str(len(reply.body))
    if isinstance(case.body, bytes):
        assert reply.body == case.body
    elif case.body:
        assert _matches(case.body, json.loads(reply.body)), reply.body


@pytest.mark.parametrize("name", list(CASES))
def test_response(client: TestClient, name: str) -> None:
    case = CASES[name]
    _check(case, client.request(case.method, case.path, headers=case.send_headers, data=case.send))


def test_simple_metadata_body(client: TestClient, generated: Path) -> None:
    reply = client.get("/api/adder")
    metadata = json.loads(reply.body)
    assert metadata["name"] == "adder" and metadata["served_version"] == "local"
    assert metadata["inputs"] == [{"name": "x", "type": "tensor(float)", "shape": ["n"]}]
    assert metadata["outputs"] == [{"name": "y", "type": "tensor(float)", "shape": ["n"]}]

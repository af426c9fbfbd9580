"""The Open Inference Protocol with tritonclient as the client, unmodified, over loopback HTTP."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from framework.emulator import TestClient
from framework.emulator.host import EmulatorHost
from framework.emulator.server import BackgroundServer
from tests.conftest import run_cli
from tests.models import add_one, int32_and_fp16, iris_path, mixed_inputs, run_direct


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    app = tmp_path_factory.mktemp("oip") / "app"
    assert run_cli("init", app).exit_code == 0
    models = {
        "mixed": mixed_inputs(app / "models" / "mixed.onnx"),
        "typed": int32_and_fp16(app / "models" / "typed.onnx"),
        "iris": iris_path(),
        "add": add_one(app / "models" / "add.onnx"),
    }
    for name, model in models.items():
        assert run_cli("new", name, "--model", model, "--app", app).exit_code == 0
    host = EmulatorHost(app, settings={"FUNNX_MODEL_CACHE_DIR": str(app / ".cache")})
    try:
        with BackgroundServer(host) as server:
            yield server.url, app
    finally:
        host.close()


@pytest.fixture
def client(served: tuple[str, Path]) -> Iterator[triton.InferenceServerClient]:
    url, _ = served
    with triton.InferenceServerClient(url=url.removeprefix("http://") + "/api") as triton_client:
        yield triton_client


MIXED: dict[str, np.ndarray] = {
    "x": np.arange(6, dtype=np.float32).reshape(2, 3),
    "scale": np.array(3, dtype=np.int64),
    "mask": np.array([True, False]),
    "tags": np.array(["héllo", "wörld"], dtype=object),
}


def mixed_inputs_for(binary: bool) -> list[triton.InferInput]:
    inputs = []
    for name, value in MIXED.items():
        datatype = {"x": "FP32", "scale": "INT64", "mask": "BOOL", "tags": "BYTES"}[name]
        tensor = triton.InferInput(name, list(value.shape), datatype)
        tensor.set_data_from_numpy(value, binary_data=binary)
        inputs.append(tensor)
    return inputs


def test_health_and_metadata(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("mixed")
    assert not client.is_model_ready("nope")
    server = client.get_server_metadata()
    assert server["name"] == "funnx" and "binary_tensor_data" in server["extensions"]
    metadata = client.get_model_metadata("mixed")
    assert metadata["platform"] == "onnxruntime_onnx"
    assert metadata["inputs"] == [
        {"name": "x", "datatype": "FP32", "shape": [-1, 3]},
        {"name": "scale", "datatype": "INT64", "shape": []},
        {"name": "mask", "datatype": "BOOL", "shape": [-1]},
        {"name": "tags", "datatype": "BYTES", "shape": [-1]},
    ]


@pytest.mark.parametrize("binary", [True, False])
def test_infer_mixed_dtypes_matches_onnxruntime(
    served: tuple[str, Path], client: triton.InferenceServerClient, binary: bool
) -> None:
    _, app = served
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("y", "count", "tags_out")]
    result = client.infer("mixed", mixed_inputs_for(binary), outputs=outputs, request_id="req-1")
    expected = run_direct(app / "models" / "mixed.onnx", MIXED)
    np.testing.assert_array_equal(result.as_numpy("y"), expected[0])
    assert result.as_numpy("count").shape == () and result.as_numpy("count") == 1
    tags = [t.decode() if isinstance(t, bytes) else t for t in result.as_numpy("tags_out")]
    assert tags == ["héllo", "wörld"]
    assert result.get_response()["id"] == "req-1"


def test_requested_subset_of_outputs_only(client: triton.InferenceServerClient) -> None:
    result = client.infer("mixed", mixed_inputs_for(True), outputs=[triton.InferRequestedOutput("count")])
    assert [o["name"] for o in result.get_response()["outputs"]] == ["count"]
    assert result.as_numpy("y") is None


def test_int32_and_fp16_binary(client: triton.InferenceServerClient) -> None:
    a = triton.InferInput("a", [3], "INT32")
    a.set_data_from_numpy(np.array([1, -2, 3], dtype=np.int32))
    h = triton.InferInput("h", [3], "FP16")
    h.set_data_from_numpy(np.array([0.5, 1.5, -2.25], dtype=np.float16))
    result = client.infer("typed", [a, h])
    assert result.as_numpy("a2").tolist() == [2, -4, 6] and result.as_numpy("a2").dtype == np.int32
    assert result.as_numpy("h2").tolist() == [1.0, 3.0, -4.5] and result.as_numpy("h2").dtype == np.float16


def test_gzip_both_ways(client: triton.InferenceServerClient) -> None:
    result = client.infer(
        "mixed", mixed_inputs_for(True), request_compression_algorithm="gzip", response_compression_algorithm="gzip"
    )
    assert result.as_numpy("count") == 1


def test_non_tensor_outputs_are_bytes_of_json(client: triton.InferenceServerClient) -> None:
    rows = triton.InferInput("float_input", [3, 2], "FP32")
    rows.set_data_from_numpy(np.array([[5.1, 3.5], [6.2, 2.9], [7.7, 3.0]], dtype=np.float32))
    result = client.infer("iris", [rows])
    assert result.as_numpy("label").tolist() == [0, 0, 0]
    probabilities = [json.loads(p) for p in result.as_numpy("probabilities")]
    assert set(probabilities[0]) == {"0", "1", "2"} and abs(sum(probabilities[0].values()) - 1) < 1e-5


def test_errors_reach_tritonclient_with_the_message(client: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException, match=r"^\[404\] model 'nope' not found$") as missing:
        client.infer("nope", mixed_inputs_for(True))
    assert missing.value.status() == "404"
    with pytest.raises(InferenceServerException, match="has no version '7'"):
        client.get_model_metadata("mixed", model_version="7")
    wrong = triton.InferInput("x", [2, 3], "FP64")
    wrong.set_data_from_numpy(np.zeros((2, 3)))
    with pytest.raises(InferenceServerException, match="has datatype FP64; the model expects FP32"):
        client.infer("mixed", [wrong, *mixed_inputs_for(True)[1:]])


def _post(url: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/api{path}", content=body, headers=headers or {}, timeout=30)


def test_raw_binary_body_for_a_single_input_model(served: tuple[str, Path]) -> None:
    url, _ = served
    reply = _post(
        url,
        "/v2/models/add/infer",
        np.array([1, 2, 3], dtype=np.float32).tobytes(),
        {"Inference-Header-Content-Length": "0"},
    )
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/octet-stream"
    size = int(reply.headers["inference-header-content-length"])
    header = json.loads(reply.content[:size])
    assert header["outputs"][0]["parameters"]["binary_data_size"] == 12
    assert np.frombuffer(reply.content[size:], dtype="<f4").tolist() == [2.0, 3.0, 4.0]


@pytest.mark.parametrize(("elements", "compressed"), [(3, False), (1000, True)])
def test_responses_are_gzipped_only_when_large_enough_to_gain(
    served: tuple[str, Path], elements: int, compressed: bool
) -> None:
    """Below 1 KiB gzip costs more time than it saves, so the body goes as it is even if accepted."""
    url, _ = served
    data = np.arange(elements, dtype=np.float32)
    headers = {"Inference-Header-Content-Length": "0", "Accept-Encoding": "gzip"}
    reply = _post(url, "/v2/models/add/infer", data.tobytes(), headers)
    assert reply.status_code == 200
    assert (reply.headers.get("content-encoding") == "gzip") is compressed
    size = int(reply.headers["inference-header-content-length"])
    assert np.frombuffer(reply.content[size:], dtype="<f4").tolist() == (data + 1).tolist()


def _json_infer(inputs: list[dict[str, object]], **extra: object) -> bytes:
    return json.dumps({"inputs": inputs, **extra}).encode()


X: dict[str, object] = {"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}
REST: list[dict[str, object]] = [
    {"name": "scale", "shape": [], "datatype": "INT64", "data": [2]},
    {"name": "mask", "shape": [1], "datatype": "BOOL", "data": [True]},
    {"name": "tags", "shape": [1], "datatype": "BYTES", "data": ["t"]},
]
BINARY_X = _json_infer(
    [{"name": "x", "shape": [1, 3], "datatype": "FP32", "parameters": {"binary_data_size": 12}}, *REST]
)
EMPTY_HUGE = _json_infer(
    [{"name": "x", "shape": [0, 2**62], "datatype": "FP32", "parameters": {"binary_data_size": 0}}, *REST]
)
ERRORS = [
    (_json_infer([{**X, "data": [[1, 2], [3, 4]]}, *REST]), {}, 400, "'data' has 4 elements but shape [1, 3] needs 3"),
    (_json_infer([{**X, "datatype": "FP16"}, *REST]), {}, 400, "datatype FP16; the model expects FP32"),
    (_json_infer([X, *REST[:2]]), {}, 400, "missing input 'tags'"),
    (
        _json_infer([X, *REST, {"name": "z", "shape": [1], "datatype": "FP32", "data": [1]}]),
        {},
        400,
        "has no input 'z'",
    ),
    (_json_infer([{**X, "shape": [3]}, *REST]), {}, 400, "expects rank 2"),
    (_json_infer([X, *REST], outputs=[{"name": "y", "parameters": {"classification": 2}}]), {}, 501, "classification"),
    (_json_infer([X, *REST]), {"Inference-Header-Content-Length": "-1"}, 400, "is outside the body"),
    (_json_infer([X, *REST]), {"Inference-Header-Content-Length": "ten"}, 400, "must be an integer"),
    (BINARY_X + b"\0" * 8, {"Inference-Header-Content-Length": str(len(BINARY_X))}, 400, "runs past"),
    (BINARY_X + b"\0" * 16, {"Inference-Header-Content-Length": str(len(BINARY_X))}, 400, "no input claims them"),
    (b"{not json", {}, 400, "not valid JSON"),
    (gzip.compress(b"{" * 10)[:-4], {"Content-Encoding": "gzip"}, 400, "the gzip body is truncated"),
    (gzip.compress(b" " * 3_000_000), {"Content-Encoding": "gzip"}, 413, "decompressed body is over 1000000 bytes"),
    # found by fuzzing (each was a 500)
    (_json_infer([{**X, "datatype": ["FP32"]}, *REST]), {}, 400, "input 'x': 'datatype' must be a string; use one of"),
    (_json_infer([{**X, "shape": [1] * 70, "data": [1]}, *REST]), {}, 400, "has 70 dimensions; at most 64"),
    (
        EMPTY_HUGE,
        {"Inference-Header-Content-Length": str(len(EMPTY_HUGE))},
        400,
        "more elements than a tensor can hold",
    ),
    (_json_infer([X, *REST[:2], {**REST[2], "shape": [1] * 40}]), {}, 400, "input 'tags' expects rank 1"),
    (_json_infer([X, *REST], id=[["nested"]]), {}, 400, "the request's 'id' must be a string"),
    (b'{"id": ' + b"[" * 1000 + b"]" * 1000 + b", " + _json_infer([X, *REST])[1:], {}, 400, "'id' must be a string"),
    (_json_infer([X, *REST], outputs=[{"name": ["y"]}]), {}, 400, "outputs[0] needs a string 'name'"),
]


def test_protocol_errors_are_json_with_the_right_status(served: tuple[str, Path]) -> None:
    _, app = served
    with TestClient(app, settings={"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "1000000"}) as local:
        for body, headers, status, fragment in ERRORS:
            reply = local.post("/api/v2/models/mixed/infer", data=body, headers=headers)
            assert reply.status_code == status, (fragment, reply.body[:300])
            assert fragment in reply.json()["error"], reply.json()
        unknown = local.post("/api/v2/models/unknown/infer", data=b"{}")
        assert unknown.status_code == 404 and "model 'unknown' not found" in unknown.json()["error"]
        wrong_method = local.get("/api/v2/models/mixed/infer")
        assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"


def test_openapi_document_is_served_and_valid(served: tuple[str, Path]) -> None:
    from openapi_spec_validator import validate

    url, app = served
    document = httpx.get(f"{url}/api/openapi.json").json()
    validate(document)
    for name in ("mixed", "typed", "iris", "add"):
        assert f"/{name}" in document["paths"] and f"/v2/models/{name}/infer" in document["paths"]
    x_schema = document["paths"]["/mixed"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert x_schema["properties"]["inputs"]["properties"]["x"]["items"] == {
        "type": "array",
        "items": {"type": "number"},
        "minItems": 3,
        "maxItems": 3,
    }
    written = run_cli("openapi", "--app", app, "-o", app / "openapi.json")
    assert written.exit_code == 0, written.output
    assert json.loads((app / "openapi.json").read_text()) == document


def test_openapi_request_schemas_are_as_strict_as_the_handler(served: tuple[str, Path]) -> None:
    """Found by schemathesis: bodies the document allowed were refused (stray fields, repeated or empty
    outputs, out-of-range integers, an empty outer list that loses the inner dimensions, no inputs)."""
    url, _ = served
    document = httpx.get(f"{url}/api/openapi.json").json()
    body = "requestBody"
    named = document["paths"]["/mixed"]["post"][body]["content"]["application/json"]["schema"]["oneOf"][0]
    assert named["additionalProperties"] is False and named["properties"]["inputs"]["additionalProperties"] is False
    assert named["properties"]["outputs"]["minItems"] == 1 and named["properties"]["outputs"]["uniqueItems"] is True
    inputs = named["properties"]["inputs"]["properties"]
    assert (inputs["scale"]["minimum"], inputs["scale"]["maximum"]) == (-(2**63), 2**63 - 1)
    assert inputs["x"]["minItems"] == 1 and "minItems" not in inputs["mask"]  # [batch, 3] vs [batch]
    data = document["paths"]["/add"]["post"][body]["content"]["application/json"]["schema"]["oneOf"][0]
    assert data["required"] == ["data"] and data["additionalProperties"] is False
    assert document["components"]["schemas"]["InferenceRequest"]["properties"]["inputs"]["minItems"] == 1

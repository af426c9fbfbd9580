"""The simple HTTP contract through a generated app and the in-process client."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from framework.emulator import TestClient
from tests.conftest import run_cli
from tests.models import add_one, embedding, iris_path, mixed_inputs, run_direct

IRIS_ROWS = [[5.1, 3.5], [6.2, 2.9], [7.7, 3.0]]


@pytest.fixture
def client(app_dir: Path) -> Iterator[TestClient]:
    models = {
        "iris": iris_path(),
        "mixed": mixed_inputs(app_dir / "models" / "mixed.onnx"),
        "emb": embedding(app_dir / "models" / "emb.onnx"),
        "add": add_one(app_dir / "models" / "add.onnx"),
    }
    for name, path in models.items():
        assert run_cli("new", name, "--model", path, "--app", app_dir).exit_code == 0
    with TestClient(app_dir) as test_client:
        yield test_client


def test_data_form_matches_onnxruntime(client: TestClient) -> None:
    reply = client.post("/api/iris", json={"data": IRIS_ROWS})
    assert reply.status_code == 200, reply.json()
    assert reply.headers["content-type"] == "application/json"
    label, probabilities = run_direct(iris_path(), {"float_input": np.array(IRIS_ROWS, dtype=np.float32)})
    body = reply.json()
    assert body["result"][0] == label.tolist()  # type: ignore[attr-defined]
    # seq(map(int64, float)) → a list of objects with string keys
    assert body["result"][1] == [{str(k): v for k, v in row.items()} for row in probabilities]  # type: ignore[attr-defined]
    assert isinstance(body["time"], float) and 0 <= body["time"] < 5


def test_named_inputs_of_mixed_dtypes_return_outputs_by_name(client: TestClient, app_dir: Path) -> None:
    inputs = {"x": [[1, 2, 3], [4, 5, 6]], "scale": 2, "mask": [True, True], "tags": ["a", "ü"]}
    reply = client.post("/api/mixed", json={"inputs": inputs})
    assert reply.status_code == 200, reply.json()
    expected = run_direct(
        app_dir / "models" / "mixed.onnx",
        {
            "x": np.array(inputs["x"], dtype=np.float32),
            "scale": np.array(2, dtype=np.int64),
            "mask": np.array([True, True]),
            "tags": np.array(["a", "ü"], dtype=object),
        },
    )
    assert reply.json()["result"] == {
        "y": expected[0].tolist(),  # type: ignore[attr-defined]
        "count": 2,
        "tags_out": ["a", "ü"],
    }


def test_requested_outputs_only(client: TestClient) -> None:
    inputs = {"x": [[1, 2, 3]], "scale": 3, "mask": [False], "tags": ["t"]}
    reply = client.post("/api/mixed", json={"inputs": inputs, "outputs": ["count"]})
    assert reply.json()["result"] == {"count": 0}
    reply = client.post("/api/iris", json={"data": IRIS_ROWS, "outputs": ["label"]})
    assert reply.json()["result"] == [[0, 0, 0]]


def test_metadata_describes_the_loaded_model(client: TestClient) -> None:
    reply = client.get("/api/mixed")
    assert reply.status_code == 200
    meta = reply.json()
    assert meta["name"] == "mixed" and meta["producer"] == "funnx-tests"
    assert meta["version"] is None  # no model_version in the file (onnxruntime says INT64_MAX)
    assert meta["metadata"] == {"owner": "tests", "purpose": "mixed dtypes"}
    assert meta["inputs"][0] == {"name": "x", "type": "tensor(float)", "shape": ["batch", 3]}
    assert meta["inputs"][1] == {"name": "scale", "type": "tensor(int64)", "shape": []}
    assert [o["name"] for o in meta["outputs"]] == ["y", "count", "tags_out"]
    assert client.get("/api/iris").json()["outputs"][1] == {
        "name": "probabilities",
        "type": "seq(map(int64,tensor(float)))",
        "shape": None,
    }


@pytest.mark.parametrize(
    ("route", "body", "fragment"),
    [
        ("iris", b"{not json", "not valid JSON at line 1 column 2"),
        ("iris", b"", "request body is empty"),
        ("iris", b"[1, 2]", "must be a JSON object"),
        ("iris", b'{"datta": []}', "unknown field 'datta'"),
        ("iris", b'{"data": [], "inputs": {}}', "exactly one of 'data' or 'inputs'"),
        ("iris", b'{"data": [[1, 2]]}', "dimension 0 must be 3, got 1"),
        ("iris", b'{"data": [1, 2, 3]}', "expects rank 2"),
        ("iris", b'{"data": [["a", "b"], ["c", "d"], ["e", "f"]]}', "got strings"),
        (
            "iris",
            b'{"data": [[1, 2], [3, 4], [5, 6]], "outputs": ["nope"]}',
            "has no output 'nope'; it has: label, probabilities",
        ),
        ("mixed", b'{"data": [[1, 2, 3]]}', "has 4 inputs"),
        (
            "mixed",
            b'{"inputs": {"x": [[1, 2, 3]]}}',
            "missing input 'scale', 'mask', 'tags'; it expects: x (tensor(float) [batch, 3])",
        ),
        (
            "mixed",
            b'{"inputs": {"x": [[1,2,3]], "scale": 1, "mask": [true], "tags": ["a"], "z": 1}}',
            "has no input 'z'",
        ),
        ("mixed", b'{"inputs": {"x": [[1,2,3]], "scale": 1.5, "mask": [true], "tags": ["a"]}}', "non-integral"),
        ("emb", b'{"data": [[0, 9]]}', "rejected the input: Non-zero status code returned while running Gather node"),
        # null or "nan" after a leading number is not read as NaN (found in review)
        ("add", b'{"data": [1, null]}', "expects numbers (tensor(float)); got mixed or nested values"),
        ("add", b'{"data": [1, "nan"]}', "expects numbers (tensor(float)); got strings"),
        # found by fuzzing (each was a 500)
        ("add", b'{"data": [1' + b"0" * 400 + b"]}", "holds a number too large for tensor(float)"),
        (
            "mixed",
            b'{"inputs": {"x": [[1,2,3]], "scale": 1, "mask": [true], "tags": '
            + b"[" * 40
            + b'"a"'
            + b"]" * 40
            + b"}}",
            "'tags' expects rank 1",
        ),
    ],
)
def test_bad_requests_get_400_with_a_clear_json_error(
    client: TestClient, route: str, body: bytes, fragment: str
) -> None:
    reply = client.post(f"/api/{route}", data=body)
    assert reply.status_code == 400
    assert reply.headers["content-type"] == "application/json"
    assert fragment in reply.json()["error"]


def test_body_over_the_limit_is_413(app_dir: Path) -> None:
    add_one(app_dir / "add.onnx")
    assert run_cli("new", "add", "--model", app_dir / "add.onnx", "--app", app_dir).exit_code == 0
    with TestClient(app_dir, settings={"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "64"}) as client:
        small = client.post("/api/add", json={"data": [1]})
        assert small.status_code == 200 and small.json()["result"] == [[2.0]]
        big = client.post("/api/add", json={"data": list(range(100))})
        assert big.status_code == 413 and "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT" in big.json()["error"]


def test_compressed_bodies_are_decompressed_within_the_limit(app_dir: Path) -> None:
    """Found by fuzzing: a gzip body got "not valid JSON" here while the OIP endpoint took it."""
    add_one(app_dir / "add.onnx")
    assert run_cli("new", "add", "--model", app_dir / "add.onnx", "--app", app_dir).exit_code == 0
    body = b'{"data": [1, 2]}'
    with TestClient(app_dir, settings={"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "1000"}) as client:
        for encoding, data in [("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))]:
            reply = client.post("/api/add", data=data, headers={"Content-Encoding": encoding})
            assert reply.status_code == 200 and reply.json()["result"] == [[2.0, 3.0]], reply.json()
        bomb = client.post("/api/add", data=gzip.compress(b" " * 100_000), headers={"Content-Encoding": "gzip"})
        assert bomb.status_code == 413 and "decompressed body is over 1000 bytes" in bomb.json()["error"]
        brotli = client.post("/api/add", data=body, headers={"Content-Encoding": "br"})
        assert brotli.status_code == 400 and "Content-Encoding 'br' is not supported" in brotli.json()["error"]
        plain = client.post("/api/add", data=body, headers={"Content-Encoding": "gzip"})
        assert plain.status_code == 400 and "not valid gzip" in plain.json()["error"]


def test_non_finite_outputs_are_null_in_valid_json(client: TestClient) -> None:
    reply = client.post("/api/add", data=b'{"data": [NaN, Infinity, 1]}')
    assert reply.status_code == 200
    assert reply.body.startswith(b'{"result":[[null,null,2.0]]')


def test_missing_local_model_is_503_with_retry_after(app_dir: Path) -> None:
    assert run_cli("new", "ghost", "--model", "az://models/ghost.onnx", "--app", app_dir).exit_code == 0
    module = app_dir / "functions_app" / "ghost.py"
    module.write_text(module.read_text().replace('source="az://models/ghost.onnx"', 'source="models/ghost.onnx"'))
    with TestClient(app_dir) as client:
        reply = client.post("/api/ghost", json={"data": [1]})
        assert reply.status_code == 503
        assert int(reply.headers["retry-after"]) >= 1
        assert "model 'ghost'" in reply.json()["error"] and "does not exist" in reply.json()["error"]


def test_edited_hooks_run_around_inference(app_dir: Path) -> None:
    add_one(app_dir / "add.onnx")
    assert run_cli("new", "add", "--model", app_dir / "add.onnx", "--app", app_dir).exit_code == 0
    module = app_dir / "functions_app" / "add.py"
    text = module.read_text()
    text = text.replace("    return inputs", '    return {"x": inputs["x"] * 10}')
    text = text.replace("    return outputs", '    return {"total": float(outputs["y"].sum())}')
    module.write_text(text)
    with TestClient(app_dir) as client:
        reply = client.post("/api/add", json={"data": [1, 2]})
        assert reply.json()["result"] == [32.0]  # (10 + 1) + (20 + 1)


def test_a_failing_hook_is_a_500_json_error_without_traceback(app_dir: Path) -> None:
    add_one(app_dir / "add.onnx")
    assert run_cli("new", "add", "--model", app_dir / "add.onnx", "--app", app_dir).exit_code == 0
    module = app_dir / "functions_app" / "add.py"
    module.write_text(module.read_text().replace("    return outputs", "    raise KeyError('label_map')"))
    with TestClient(app_dir) as client:
        reply = client.post("/api/add", json={"data": [1]})
        assert reply.status_code == 500
        assert reply.json() == {"error": "the postprocess hook failed: KeyError: 'label_map'"}

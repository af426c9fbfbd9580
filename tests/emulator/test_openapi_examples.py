"""Every example request in the OpenAPI document answers 200 when sent as it is, on both contracts: what
the API page's "Try it out" → Execute sends. Symbolic dimensions get sizes the model runs with (metadata
hints, then a probe), and a model with no possible JSON example says why instead of carrying a broken one."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx
import pytest
from onnx import TensorProto, helper

from framework.emulator import TestClient
from tests.conftest import run_cli
from tests.models import (
    OPSET,
    add_one,
    dynamic_cnn,
    embedding,
    int32_and_fp16,
    iris_path,
    mixed_inputs,
    shared_sequence,
)


def _sequence_length(path: Path) -> Path:
    """A non-tensor input: seq(tensor(float)) → its length."""
    graph = helper.make_graph(
        [helper.make_node("SequenceLength", ["items"], ["length"])],
        "sequence_length",
        [helper.make_tensor_sequence_value_info("items", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("length", TensorProto.INT64, [])],
    )
    model = helper.make_model(graph, opset_imports=OPSET)
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _without_size_hints(path: Path) -> Path:
    """The dynamic CNN with no image_size in its metadata: only a probe finds a size it takes (not 1x1)."""
    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = tmp_path_factory.mktemp("examples") / "app"
    assert run_cli("init", app).exit_code == 0
    models = app / "models"
    models.mkdir()
    for name, path in {
        "iris": iris_path(),  # fixed [3, 2]; seq(map) output
        "mixed": mixed_inputs(models / "mixed.onnx"),  # float, rank-0 int64, bool, string inputs
        "typed": int32_and_fp16(models / "typed.onnx"),  # FP16: no JSON form on the Open Inference Protocol
        "add": add_one(models / "add.onnx"),
        "cnn": dynamic_cnn(models / "cnn.onnx"),  # image_size 32 in its metadata
        "cnn-probed": _without_size_hints(dynamic_cnn(models / "cnn-probed.onnx")),
        "tokens": shared_sequence(models / "tokens.onnx"),  # one size for [batch, sequence] on three inputs
        "lookup": embedding(models / "lookup.onnx"),  # int64 ids below the vocabulary size
        "seq": _sequence_length(models / "seq.onnx"),
    }.items():
        assert run_cli("new", name, "--model", path, "--app", app).exit_code == 0, name
    with TestClient(app) as test_client:
        yield test_client


def _json_media(document: dict[str, Any], path: str) -> dict[str, Any]:
    media: dict[str, Any] = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return media


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict[str, Any]:
    from openapi_spec_validator import validate

    found: dict[str, Any] = client.get("/api/openapi.json").json()
    validate(found)  # examples and all
    return found


WITH_EXAMPLES = ["iris", "mixed", "typed", "add", "cnn", "cnn-probed", "tokens", "lookup"]


@pytest.mark.parametrize("model", WITH_EXAMPLES)
def test_each_simple_contract_example_answers_200(client: TestClient, document: dict[str, Any], model: str) -> None:
    examples = _json_media(document, f"/{model}")["examples"]
    signature = client.host.catalog.models()[model].get().signature
    assert set(examples) == ({"data", "inputs"} if len(signature.inputs) == 1 else {"inputs"})
    for form, example in examples.items():
        reply = client.post(f"/api/{model}", json=example["value"])
        assert reply.status_code == 200, reply.text
        result = reply.json()["result"]  # one entry per output: a list for 'data', keyed by name for 'inputs'
        assert (list(result) if form == "inputs" else len(result)) == (
            signature.output_names if form == "inputs" else len(signature.output_names)
        )


@pytest.mark.parametrize("model", [m for m in WITH_EXAMPLES if m != "typed"])
def test_each_open_inference_protocol_example_answers_200(
    client: TestClient, document: dict[str, Any], model: str
) -> None:
    (example,) = _json_media(document, f"/v2/models/{model}/infer")["examples"].values()
    reply = client.post(f"/api/v2/models/{model}/infer", json=example["value"])
    assert reply.status_code == 200, reply.text
    signature = client.host.catalog.models()[model].get().signature
    assert [output["name"] for output in reply.json()["outputs"]] == signature.output_names


def test_symbolic_sizes_come_from_metadata_or_a_probe(document: dict[str, Any]) -> None:
    def shapes(model: str) -> list[list[int]]:
        (example,) = _json_media(document, f"/v2/models/{model}/infer")["examples"].values()
        return [tensor["shape"] for tensor in example["value"]["inputs"]]

    assert shapes("cnn") == [[1, 3, 32, 32]]  # image_size in the model's metadata
    assert shapes("cnn-probed") == [[1, 3, 224, 224]]  # 1x1 fails; the probe found a size the model runs with
    assert shapes("tokens") == [[1, 1]] * 3  # the batch is 1, and the shared symbol one size
    assert shapes("mixed") == [[1, 3], [], [1], [1]]


def test_models_without_a_json_example_say_why(document: dict[str, Any]) -> None:
    fp16 = _json_media(document, "/v2/models/typed/infer")
    assert "examples" not in fp16 and "FP16/BF16" in fp16["schema"]["description"]
    for path in ("/seq", "/v2/models/seq/infer"):
        media = _json_media(document, path)
        assert "examples" not in media
        assert "non-tensor inputs (items (seq(tensor(float))))" in media["schema"]["description"]


def test_operations_are_grouped_by_model_and_described(document: dict[str, Any]) -> None:
    tags = {tag["name"]: tag["description"] for tag in document["tags"]}
    assert tags["add"] == "Inputs: x (tensor(float) [n]). Outputs: y (tensor(float) [n])"
    assert document["paths"]["/v2/models/add/ready"]["get"]["tags"] == ["add"]
    assert document["paths"]["/v2/health/live"]["get"]["tags"] == ["OIP server"]


def test_the_document_is_gzipped_for_clients_that_take_it(client: TestClient, document: dict[str, Any]) -> None:
    """cnn-probed's examples alone are three times 150,528 zeros (about 2.5 MB of JSON)."""
    packed = client.get("/api/openapi.json", headers={"accept-encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.headers["vary"] == "Accept-Encoding"
    plain = gzip.decompress(packed.body)
    assert json.loads(plain) == document and len(packed.body) < len(plain) / 20

"""A request is validated and run against one model version, even when a refresh swaps in another
version between the two (here forced at the exact moment: after validation, before inference)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.functions as func
import numpy as np
import pytest

from framework.runtime import OnnxModel, oip, simple
from framework.runtime.tensors import check_feeds
from tests.models import add_one, identity


@pytest.fixture
def models(tmp_path: Path) -> tuple[OnnxModel, OnnxModel]:
    """(the served model, at version 1: y = x + 1; a second version whose only input is named 'z')."""
    served = OnnxModel("m", str(add_one(tmp_path / "v1.onnx", offset=1.0)))
    other = OnnxModel("m", str(identity(tmp_path / "v2.onnx", name="z")))
    return served, other


def _swap(served: OnnxModel, other: OnnxModel) -> None:
    """What a finished refresh does: one assignment of the new version."""
    served.lifecycle.loaded = other.get()


def test_simple_contract_runs_the_version_it_validated_against(models: tuple[OnnxModel, OnnxModel]) -> None:
    served, other = models
    first = served.get()

    def preprocess(feeds: dict[str, Any]) -> dict[str, Any]:
        _swap(served, other)  # between validation and inference
        return feeds

    body = json.dumps({"data": [1.0, 2.0]}).encode()
    reply = simple.predict(func.HttpRequest("POST", "/api/m", body=body), served, preprocess)
    assert reply.status_code == 200, reply.get_body()
    assert json.loads(reply.get_body())["result"] == [[2.0, 3.0]]
    assert reply.headers["X-Model-Version"] == first.version_label
    assert served.get() is not first  # later requests get the new version


def test_open_inference_protocol_runs_the_version_it_validated_against(
    models: tuple[OnnxModel, OnnxModel], monkeypatch: pytest.MonkeyPatch
) -> None:
    served, other = models
    served.get()
    validate = check_feeds

    def validate_then_swap(*args: Any) -> Any:
        checked = validate(*args)
        _swap(served, other)
        return checked

    monkeypatch.setattr(oip, "check_feeds", validate_then_swap)
    body = json.dumps({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1.0, 2.0]}]}).encode()
    request = func.HttpRequest("POST", "/api/v2/models/m/infer", body=body, route_params={"rest": "infer"})
    reply = oip.model_endpoint(request, served)
    assert reply.status_code == 200, reply.get_body()
    outputs = json.loads(reply.get_body())["outputs"]
    assert np.allclose(outputs[0]["data"], [2.0, 3.0])

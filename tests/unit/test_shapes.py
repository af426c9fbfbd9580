"""Shapes that cannot work are the caller's mistake (400, saying what disagrees); a model failing on
an input it declared it accepts is the model's (500). Generated examples use sizes the model takes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from framework.emulator import TestClient
from tests.conftest import run_cli
from tests.models import dynamic_cnn, reshape_to, shared_sequence


def _new(app_dir: Path, name: str, model: Path) -> None:
    result = run_cli("new", name, "--model", model, "--app", app_dir)
    assert result.exit_code == 0, result.output


def _example(app_dir: Path, name: str) -> dict[str, object]:
    """The example request `funnx new` put in the function's header comment."""
    source = (app_dir / "functions_app" / f"{name}.py").read_text()
    found = re.search(r"#     -d '(.*)'", source)
    assert found, source[:600]
    body: dict[str, object] = json.loads(found.group(1))
    return body


def test_inputs_that_share_a_dimension_must_agree_on_it(app_dir: Path) -> None:
    _new(app_dir, "bert", shared_sequence(app_dir / "models" / "bert.onnx"))
    ids, mask = [[1, 2, 3, 4, 5, 6, 7]], [[1, 1, 1, 1, 1]]
    with TestClient(app_dir) as client:
        bad = client.post("/api/bert", json={"inputs": {"input_ids": ids, "attention_mask": mask,
                                                        "token_type_ids": ids}})  # fmt: skip
        assert bad.status_code == 400
        assert bad.json()["error"] == (
            "inputs 'input_ids' (axis 1: 7) and 'attention_mask' (axis 1: 5) share dimension 'sequence' of the "
            "model, so their sizes must be equal"
        )
        tensors = [{"name": n, "shape": [1, len(v[0])], "datatype": "INT64", "data": v}
                   for n, v in (("input_ids", ids), ("attention_mask", mask), ("token_type_ids", ids))]  # fmt: skip
        oip = client.post("/api/v2/models/bert/infer", json={"inputs": tensors})
        assert oip.status_code == 400 and "share dimension 'sequence'" in oip.json()["error"]
        good = client.post("/api/bert", json={"inputs": {"input_ids": ids, "attention_mask": ids,
                                                         "token_type_ids": ids}})  # fmt: skip
        assert good.status_code == 200 and good.json()["result"]["summed"] == [[3, 6, 9, 12, 15, 18, 21]]
        assert client.post("/api/bert", json=_example(app_dir, "bert")).status_code == 200


def test_a_run_failure_on_caller_chosen_sizes_is_400_and_on_declared_ones_500(app_dir: Path) -> None:
    _new(app_dir, "dyn", reshape_to(app_dir / "models" / "dyn.onnx", ["batch", "n"], [-1, 4]))
    _new(app_dir, "fixed", reshape_to(app_dir / "models" / "fixed.onnx", [2, 3], [5]))
    with TestClient(app_dir) as client:
        assert client.post("/api/dyn", json={"data": [[0.0] * 8]}).status_code == 200
        refused = client.post("/api/dyn", json={"data": [[0.0] * 6]})
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert error.startswith("model 'dyn' could not run on inputs of shape x [1, 6]: ") and "reshape" in error
        broken = client.post("/api/fixed", json={"data": [[0.0] * 3] * 2})
        assert broken.status_code == 500 and "model 'fixed' failed during inference" in broken.json()["error"]


def test_an_image_model_gets_an_example_of_a_size_it_takes(app_dir: Path) -> None:
    _new(app_dir, "cnn", dynamic_cnn(app_dir / "models" / "cnn.onnx"))
    source = (app_dir / "functions_app" / "cnn.py").read_text()
    assert "np.zeros((1, 3, 32, 32), dtype='float32')" in (app_dir / "tests" / "test_cnn.py").read_text()
    assert "Example request (large input" in source
    with TestClient(app_dir) as client:
        tiny = client.post("/api/cnn", json={"data": [[[[0.0]]] * 3]})
        assert tiny.status_code == 400 and "Invalid input shape" in tiny.json()["error"]
        namespace: dict[str, object] = {}
        test_module = (app_dir / "tests" / "test_cnn.py").read_text()
        exec(compile(test_module.split("\n\n\ndef ")[0], "test_cnn.py", "exec"), namespace)  # its imports and EXAMPLE
        reply = client.post("/api/cnn", json=namespace["EXAMPLE"])
        assert reply.status_code == 200, reply.text
        assert len(reply.json()["result"]["features"][0]) == 4


@pytest.mark.parametrize("hint", [None, "48"])
def test_sizes_come_from_the_models_metadata_first(app_dir: Path, hint: str | None) -> None:
    import onnx

    path = dynamic_cnn(app_dir / "models" / "cnn.onnx")
    model = onnx.load(str(path))
    del model.metadata_props[:]
    if hint:
        onnx.helper.set_model_props(model, {"preprocessing.image_size": hint})
    onnx.save(model, str(path))
    _new(app_dir, "cnn", path)
    size = hint or "224"  # with no hint: the first common size the model takes (1 is too small)
    assert f"np.zeros((1, 3, {size}, {size}), dtype='float32')" in (app_dir / "tests" / "test_cnn.py").read_text()

"""`funnx convert` on real scikit-learn models, then `funnx new` and requests through the emulator.

Each test checks what a user relies on: the .onnx answers like the original estimator (checked
here independently of the command's own check), and the function `funnx new` writes for it
serves those answers, for the example request it generated and for real rows.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from framework.emulator.client import TestClient
from tests.conftest import run_cli
from tests.convert.conftest import Trained


def convert(*args: str | Path) -> str:
    result = run_cli("convert", *args)
    assert result.exit_code == 0, result.output
    return result.output


def generated_example(app: Path, name: str) -> Any:
    """The EXAMPLE request of the test module `funnx new` wrote for ``name``."""
    spec = importlib.util.spec_from_file_location(f"generated_test_{name}", app / "tests" / f"test_{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EXAMPLE


def original_input(trained: Trained, body: dict[str, Any]) -> Any:
    """A request body as the estimator itself takes it: an array, or a DataFrame of named columns."""
    if "data" in body:
        return np.asarray(body["data"], dtype=np.float64)
    if hasattr(trained.rows, "columns"):
        import pandas as pd

        return pd.DataFrame({name: np.asarray(value).ravel() for name, value in body["inputs"].items()})
    return np.asarray(body["inputs"]["X"], dtype=np.float64)


def assert_same_answers(trained: Trained, data: Any, result: Any) -> None:
    """``result`` (the function's reply: a list by output position or a dict by name) matches the estimator."""
    outputs = list(result.values()) if isinstance(result, dict) else result
    estimator = trained.estimator
    if hasattr(estimator, "predict_proba"):
        assert [str(v) for v in outputs[0]] == [str(v) for v in estimator.predict(data)]
        np.testing.assert_allclose(np.asarray(outputs[1]), estimator.predict_proba(data), atol=1e-4)
    else:
        np.testing.assert_allclose(np.asarray(outputs[0]).ravel(), estimator.predict(data), rtol=1e-5, atol=1e-4)


def serve(app: Path, name: str, model: Path) -> None:
    result = run_cli("new", name, "--model", model, "--app", app)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", ["iris", "digits", "diabetes", "mixed"])
def test_converted_model_serves_the_original_answers(name: str, models: dict[str, Trained], app_dir: Path,
                                                     tmp_path: Path) -> None:  # fmt: skip
    trained = models[name]
    output = tmp_path / f"{name}.onnx"
    printed = convert(trained.path, "-o", output)
    assert "largest absolute difference" in printed and f"wrote {output}" in printed
    assert f"funnx new {name} --model {output}" in printed

    # The file itself, in onnxruntime, on real rows: labels equal, numbers within float32 rounding.
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    feeds = {}
    for spec in session.get_inputs():
        if hasattr(trained.rows, "columns"):
            column = trained.rows[[spec.name]].to_numpy()
            feeds[spec.name] = column.astype(object if spec.type == "tensor(string)" else column.dtype)
            feeds[spec.name] = feeds[spec.name].astype(np.float32) if spec.type == "tensor(float)" else feeds[spec.name]
        else:
            feeds[spec.name] = trained.rows.astype(np.float32)
    assert_same_answers(trained, trained.rows, session.run(None, feeds))

    serve(app_dir, name, output)
    example = generated_example(app_dir, name)
    with TestClient(app_dir) as client:
        reply = client.post(f"/api/{name}", json=example)
        assert reply.status_code == 200, reply.json()
        assert_same_answers(trained, original_input(trained, example), reply.json()["result"])
        body = trained.json_inputs(5)
        reply = client.post(f"/api/{name}", json=body)
        assert reply.status_code == 200, reply.json()
        assert_same_answers(trained, original_input(trained, body), reply.json()["result"])


def test_mixed_pipeline_gets_one_typed_input_per_column(models: dict[str, Trained], tmp_path: Path) -> None:
    trained = models["mixed"]
    output = tmp_path / "mixed.onnx"
    printed = convert(trained.path, "-o", output, "--sample", trained.path.with_name("mixed.csv"))
    assert "checked on 150 rows (from" in printed
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type, i.shape) for i in session.get_inputs()] == [
        ("sepal_length", "tensor(float)", [None, 1]),
        ("sepal_width", "tensor(float)", [None, 1]),
        ("petal_length", "tensor(float)", [None, 1]),
        ("petal_width", "tensor(float)", [None, 1]),
        ("colour", "tensor(string)", [None, 1]),
        ("stems", "tensor(int64)", [None, 1]),  # the encoder's categories are integers
    ]
    assert [(o.name, o.type) for o in session.get_outputs()] == [
        ("label", "tensor(string)"),
        ("probabilities", "tensor(float)"),
    ]
    classes = json.loads(session.get_modelmeta().custom_metadata_map["classes"])
    assert classes == ["setosa", "versicolor", "virginica"]  # the order of the probability columns


def test_zipmap_keeps_probabilities_as_dicts(models: dict[str, Trained], app_dir: Path, tmp_path: Path) -> None:
    trained = models["iris"]
    output = tmp_path / "iris_zipmap.onnx"
    printed = convert(trained.path, "-o", output, "--zipmap")
    assert "outputs: output_label  output_probability" in printed
    serve(app_dir, "iris_zipmap", output)
    with TestClient(app_dir) as client:
        reply = client.post("/api/iris_zipmap", json={"data": trained.rows[:3].tolist()})
    assert reply.status_code == 200, reply.json()
    labels, probabilities = reply.json()["result"]
    assert labels == trained.estimator.predict(trained.rows[:3]).tolist()
    assert [sorted(row) for row in probabilities] == [["0", "1", "2"]] * 3
    table = np.array([[row[k] for k in ("0", "1", "2")] for row in probabilities])
    np.testing.assert_allclose(table, trained.estimator.predict_proba(trained.rows[:3]), atol=1e-4)


def test_explicit_input_and_npy_sample(models: dict[str, Trained], tmp_path: Path) -> None:
    trained = models["iris"]
    np.save(tmp_path / "rows.npy", trained.rows)
    output = tmp_path / "iris64.onnx"
    printed = convert(trained.path, "-o", output, "--input", "features:double[?,4]", "--sample", tmp_path / "rows.npy")
    assert "inputs:  features:double[?,4]" in printed
    assert f"checked on {len(trained.rows)} rows (from" in printed
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in session.get_inputs()] == [("features", "tensor(double)")]
    label, probabilities = session.run(None, {"features": trained.rows})
    assert label.tolist() == trained.estimator.predict(trained.rows).tolist()
    np.testing.assert_allclose(probabilities, trained.estimator.predict_proba(trained.rows), atol=1e-6)


def test_explicit_column_type_overrides_the_inferred_one(models: dict[str, Trained], tmp_path: Path) -> None:
    output = tmp_path / "mixed.onnx"
    printed = convert(models["mixed"].path, "-o", output, "--input", "sepal_length:double")
    assert "sepal_length:double[?,1]" in printed and "colour:string[?,1]" in printed


def test_numeric_dataframe_model_takes_one_tensor_and_a_csv_with_extra_columns(tmp_path: Path) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    diabetes = load_diabetes(as_frame=True)
    forest = RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0).fit(diabetes.data, diabetes.target)
    (tmp_path / "forest.pkl").write_bytes(pickle.dumps(forest))
    diabetes.frame.to_csv(tmp_path / "rows.csv", index=False)  # the 10 features and the target column
    printed = convert(tmp_path / "forest.pkl", "--sample", tmp_path / "rows.csv", "--rows", "100")
    assert "inputs:  X:float[?,10]" in printed and "checked on 100 rows (from" in printed
    session = ort.InferenceSession(str(tmp_path / "forest.onnx"), providers=["CPUExecutionProvider"])
    predicted = session.run(None, {"X": diabetes.data.to_numpy(np.float32)})[0].ravel()
    np.testing.assert_allclose(predicted, forest.predict(diabetes.data), rtol=1e-5)


def test_classifier_without_probabilities(tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    data = load_breast_cancer()
    svm = make_pipeline(StandardScaler(), LinearSVC()).fit(data.data, data.target)
    (tmp_path / "svm.pkl").write_bytes(pickle.dumps(svm))
    printed = convert(tmp_path / "svm.pkl", "--sample", _npy(tmp_path, data.data))
    assert "label: labels all equal" in printed
    session = ort.InferenceSession(str(tmp_path / "svm.onnx"), providers=["CPUExecutionProvider"])
    labels = session.run(None, {"X": data.data.astype(np.float32)})[0]
    assert labels.tolist() == svm.predict(data.data).tolist()


def _npy(folder: Path, values: Any) -> Path:
    np.save(folder / "rows.npy", values)
    return folder / "rows.npy"


def test_target_opset_option(models: dict[str, Trained], tmp_path: Path) -> None:
    import onnx
    import skl2onnx

    newest = skl2onnx.get_latest_tested_opset_version()  # 22 for skl2onnx 1.20; onnxruntime 1.32 runs it
    assert f"opset {newest}" in convert(models["iris"].path, "-o", tmp_path / "default.onnx")
    older = tmp_path / "older.onnx"
    convert(models["iris"].path, "-o", older, "--opset", "15")
    versions = {entry.domain: entry.version for entry in onnx.load(older).opset_import}
    assert versions[""] <= 15

"""`funnx invoke`: call a function in-process with .json, .npy or .npz data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.models import add_one, iris_path, mixed_inputs, run_direct

ROWS = [[5.1, 3.5], [6.2, 2.9], [7.7, 3.0]]


@pytest.fixture
def app(app_dir: Path) -> Path:
    for name, model in (
        ("iris", iris_path()),
        ("mixed", mixed_inputs(app_dir / "models" / "mixed.onnx")),
        ("add", add_one(app_dir / "models" / "add.onnx")),
    ):
        assert run_cli("new", name, "--model", model, "--app", app_dir).exit_code == 0
    return app_dir


def test_json_request_prints_the_reply(app: Path, tmp_path: Path) -> None:
    (tmp_path / "req.json").write_text(json.dumps({"data": ROWS, "outputs": ["label"]}))
    result = run_cli("invoke", "iris", "--data", tmp_path / "req.json", "--app", app)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["result"] == [[0, 0, 0]]


def test_npy_in_npy_out(app: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.array([1.5, -2.0], dtype=np.float32))
    result = run_cli(
        "invoke", "add", "--data", tmp_path / "x.npy", "--output-format", "npy", "-o", tmp_path / "y.npy", "--app", app
    )
    assert result.exit_code == 0, result.output
    out = np.load(tmp_path / "y.npy")
    assert out.tolist() == [2.5, -1.0] and out.dtype == np.float32  # the model's dtype, not JSON's float64


def test_npz_named_inputs_and_npz_out_keyed_by_output(app: Path, tmp_path: Path) -> None:
    inputs: dict[str, np.ndarray] = {
        "x": np.ones((2, 3), dtype=np.float32),
        "scale": np.array(3, dtype=np.int64),
        "mask": np.array([True, True]),
        "tags": np.array(["a", "b"]),
    }
    np.savez(tmp_path / "in.npz", **inputs)  # type: ignore[arg-type]
    result = run_cli(
        "invoke", "mixed", "--data", tmp_path / "in.npz", "--output-format", "npy", "-o", tmp_path / "out", "--app", app
    )
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "out.npz") as outputs:
        assert sorted(outputs.files) == ["count", "tags_out", "y"]
        expected = run_direct(app / "models" / "mixed.onnx", {**inputs, "tags": inputs["tags"].astype(object)})
        assert outputs["y"].tolist() == expected[0].tolist()  # type: ignore[attr-defined]
        assert outputs["count"].item() == 2
        assert outputs["y"].dtype == np.float32 and outputs["count"].dtype == np.int64


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["invoke", "nope", "--data", "REQ"], "no function named 'nope'"),
        (["invoke", "iris", "--data", "BAD"], "'iris' answered 400: input 'float_input' expects shape [3, 2]"),
        (["invoke", "iris", "--data", "REQ", "--output-format", "npy", "-o", "OUT"], "is not a tensor"),
        (["invoke", "iris", "--data", "REQ", "--output-format", "npy"], "--output-format npy needs --output FILE"),
        (["invoke", "iris", "--data", "model.txt"], "use a .json"),
    ],
)  # fmt: skip
def test_errors_are_one_line(app: Path, tmp_path: Path, args: list[str], fragment: str) -> None:
    (tmp_path / "req.json").write_text(json.dumps({"data": ROWS}))
    (tmp_path / "bad.json").write_text(json.dumps({"data": [[1, 2]]}))
    (tmp_path / "model.txt").write_text("hello")
    paths = {
        "REQ": tmp_path / "req.json",
        "BAD": tmp_path / "bad.json",
        "OUT": tmp_path / "out",
        "model.txt": tmp_path / "model.txt",
    }
    result = run_cli(*[paths.get(a, a) for a in args], "--app", app)
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and result.output.count("\n") == 1 and fragment in result.output

"""`funnx convert` on PyTorch modules (skipped without torch), and the one-line error without it.

The modules are exported, checked in onnxruntime on a batch size the export never saw, and served
by `funnx new` through the emulator.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from framework.emulator.client import TestClient
from tests.conftest import run_cli
from tests.convert.test_sklearn import generated_example, serve

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
TORCH_MISSING = "error: converting a PyTorch model needs torch; install it with pip install torch"


def test_without_torch_one_line_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails, as when it is not installed
    # torch.save's layout: a zip archive whose folder holds data.pkl
    with zipfile.ZipFile(tmp_path / "model.pt", "w") as archive:
        archive.writestr("model/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("model/version", "3\n")
    # a pickle (joblib.dump, pickle.dump) of a torch module names torch's classes
    (tmp_path / "model.pkl").write_bytes(b"\x80\x02ctorch.nn.modules.linear\nLinear\n)\x81q\x00.")
    for name in ("model.pt", "model.pkl"):
        result = run_cli("convert", tmp_path / name, "--input-shape", "1,4")
        assert result.exit_code == 1
        assert result.stderr.strip() == TORCH_MISSING
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pkl", "model.pt"]


@pytest.fixture(scope="module")
def torch_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch = pytest.importorskip("torch")
    from tests.convert import torch_models

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("torch")
    net = torch_models.SmallNet()
    assert net.norm.running_mean is not None
    with torch.no_grad():  # non-trivial batch-norm statistics
        net.norm.running_mean.copy_(torch.linspace(-0.5, 0.5, 4))
    torch.save(net, folder / "net.pt")
    torch.save(net.state_dict(), folder / "weights.pt")
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; users still have such files
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(torch_models.TwoInputs()), folder / "two.pt")
    torch.save(torch_models.FixedBatch(), folder / "fixed.pt")
    return {p.stem: p for p in folder.iterdir()}


def _first_dims(path: Path) -> list[object]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [arg.shape[0] for arg in [*session.get_inputs(), *session.get_outputs()]]


@needs_torch
def test_saved_module_exports_with_a_dynamic_batch_and_serves(torch_files: dict[str, Path], app_dir: Path,
                                                               tmp_path: Path) -> None:  # fmt: skip
    import torch

    output = tmp_path / "net.onnx"
    result = run_cli("convert", torch_files["net"], "--input-shape", "1,3,16,16", "-o", output)
    assert result.exit_code == 0, result.output
    assert "dynamo exporter" in result.output and "output: largest absolute difference" in result.output
    assert all(isinstance(d, str) for d in _first_dims(output))  # symbolic batch on every input and output

    module = torch.load(torch_files["net"], weights_only=False).eval()
    rows = np.random.default_rng(1).normal(size=(5, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(rows)).numpy()
    session = ort.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": rows})[0], expected, atol=1e-5)

    serve(app_dir, "net", output)
    example = generated_example(app_dir, "net")
    with TestClient(app_dir) as client:
        reply = client.post("/api/net", json=example)
        assert reply.status_code == 200, reply.json()
        with torch.no_grad():
            on_example = module(torch.tensor(example["inputs"]["input"], dtype=torch.float32)).numpy()
        np.testing.assert_allclose(np.asarray(reply.json()["result"]["output"]), on_example, atol=1e-5)
        reply = client.post("/api/net", json={"data": rows.tolist()})
        assert reply.status_code == 200, reply.json()
        np.testing.assert_allclose(np.asarray(reply.json()["result"][0]), expected, atol=1e-5)


@needs_torch
def test_torchscript_with_two_named_inputs(torch_files: dict[str, Path], app_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "two.onnx"
    result = run_cli("convert", torch_files["two"], "-o", output,
                     "--input", "features:float[1,6]", "--input", "tokens:int64[1,5]")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "legacy exporter" in result.output
    assert "outputs: output_0  output_1" in result.output
    assert all(isinstance(d, str) for d in _first_dims(output))
    serve(app_dir, "two", output)
    with TestClient(app_dir) as client:
        reply = client.post("/api/two", json=generated_example(app_dir, "two"))
    assert reply.status_code == 200, reply.json()
    assert sorted(reply.json()["result"]) == ["output_0", "output_1"]


@needs_torch
def test_torch_errors(torch_files: dict[str, Path], tmp_path: Path) -> None:
    def error(*args: str | Path) -> str:
        result = run_cli("convert", *args, "-o", tmp_path / "out.onnx")
        assert result.exit_code == 1, result.output
        return result.stderr.strip()

    assert "holds a state_dict (weights only), not a module" in error(torch_files["weights"], "--input-shape", "1,4")
    assert "does not record its input shape: give it with --input-shape" in error(torch_files["net"])
    assert "the dynamo exporter cannot export a TorchScript file: use --exporter legacy" in error(
        torch_files["two"], "--input", "features:float[1,6]", "--input", "tokens:int64[1,5]", "--exporter", "dynamo"
    )
    # reshape(2, -1) fits the 2 traced rows: the dynamo export shows the fixed batch in the graph...
    assert "the exported 'output' has a fixed first dimension (2)" in error(
        torch_files["fixed"], "--input-shape", "1,4"
    )
    # ...and the legacy one, which marks the axis dynamic as told, is caught on the 3 checked rows.
    assert "has shape [2, 3] for 3 input rows" in error(torch_files["fixed"], "--input-shape", "1,4",
                                                        "--exporter", "legacy")  # fmt: skip
    # the dynamo exporter only converts down to its own minimum: an opset it could not make is an error
    assert "the dynamo exporter made opset 18, not the 17 asked for" in error(
        torch_files["net"], "--input-shape", "1,3,16,16", "--opset", "17"
    )
    assert not (tmp_path / "out.onnx").exists()

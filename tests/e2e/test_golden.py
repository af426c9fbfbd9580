"""Golden tests: real models from the onnx package's backend test data, served through the Open
Inference Protocol (tritonclient, binary tensors), must reproduce their reference outputs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import tritonclient.http as triton
from onnx import numpy_helper

from framework.emulator.host import EmulatorHost
from framework.emulator.server import BackgroundServer
from framework.runtime.datatypes import ORT_TO_WIRE
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
CASES = sorted(
    case
    for suite in ("simple", "pytorch-converted")
    for case in (DATA / suite).iterdir()
    if (case / "model.onnx").is_file()
)


def function_name(case: Path) -> str:
    return "g_" + re.sub(r"[^A-Za-z0-9_]", "_", case.name)[:60]


def unsupported(case: Path) -> str | None:
    """Why this case cannot be served as tensors in, tensors out (None if it can)."""
    try:
        session = onnxruntime.InferenceSession(str(case / "model.onnx"), providers=["CPUExecutionProvider"])
    except Exception as err:  # e.g. opset 6 models current onnxruntime no longer loads
        return f"onnxruntime cannot load it: {str(err).splitlines()[0][:120]}"
    arguments = [*session.get_inputs(), *session.get_outputs()]
    if any(arg.type not in ORT_TO_WIRE or arg.type == "tensor(bfloat16)" for arg in arguments):
        return "non-tensor or bfloat16 inputs/outputs"
    return None


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[triton.InferenceServerClient]:
    app = tmp_path_factory.mktemp("golden") / "app"
    assert run_cli("init", app).exit_code == 0
    names = [function_name(case).lower() for case in CASES]
    assert len(set(names)) == len(names), "function names must differ case-insensitively"
    for case in CASES:
        if unsupported(case) is None:
            result = run_cli("new", function_name(case), "--model", case / "model.onnx", "--app", app)
            assert result.exit_code == 0, result.output
    host = EmulatorHost(app, settings={"FUNNX_MODEL_CACHE_DIR": str(app / ".cache")})
    try:
        with (
            BackgroundServer(host) as server,
            triton.InferenceServerClient(server.url.removeprefix("http://") + "/api") as client,
        ):
            yield client
    finally:
        host.close()


def load_tensors(folder: Path, prefix: str) -> list[np.ndarray]:
    files = sorted(folder.glob(f"{prefix}_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
    return [numpy_helper.to_array(onnx.load_tensor(str(path))) for path in files]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_served_model_reproduces_reference_outputs(golden: triton.InferenceServerClient, case: Path) -> None:
    reason = unsupported(case)
    if reason is not None:
        pytest.skip(reason)
    name = function_name(case)
    metadata = golden.get_model_metadata(name)
    for dataset in sorted(case.glob("test_data_set_*")):
        arrays = load_tensors(dataset, "input")
        inputs = []
        for spec, array in zip(metadata["inputs"], arrays, strict=True):
            tensor = triton.InferInput(spec["name"], list(array.shape), spec["datatype"])
            tensor.set_data_from_numpy(array.astype(array.dtype.newbyteorder("<")))
            inputs.append(tensor)
        result = golden.infer(name, inputs)
        for spec, expected in zip(metadata["outputs"], load_tensors(dataset, "output"), strict=True):
            actual = result.as_numpy(spec["name"])
            where = f"{name} {dataset.name} {spec['name']}"
            if spec["datatype"] == "BYTES":  # tritonclient gives bytes, the reference holds str or bytes
                text = [v.decode() if isinstance(v, bytes) else v for v in expected.ravel()]
                assert [v.decode() for v in actual.ravel()] == text, where
                assert actual.shape == expected.shape, where
            else:
                np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-7, err_msg=where)

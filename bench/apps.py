"""Benchmark fixtures: ONNX models built in code and a funnx app serving them (made with the generator)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from framework.generator import plan_init, plan_new, validate_new, write_files
from tests.models import add_one, mlp

OPSET = [helper.make_opsetid("", 17)]


def image_mean(path: Path) -> Path:
    """float[1,3,224,224] → per-channel mean float[1,3]: an image-sized input, a cheap graph."""
    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3])
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image", "axes"], ["mean"], keepdims=0)],
        "image_mean",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, [1, 3])],
        initializer=[axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def small_mlp(path: Path) -> Path:
    return mlp(path, (784, 256, 10))


#: name → (model builder, one example input)
MODELS: dict[str, tuple[Callable[[Path], Path], np.ndarray[Any, Any]]] = {
    "tiny": (add_one, np.ones(4, dtype=np.float32)),
    "mlp": (small_mlp, np.random.default_rng(0).standard_normal((1, 784), dtype=np.float32)),
    "image": (image_mean, np.random.default_rng(1).standard_normal((1, 3, 224, 224), dtype=np.float32)),
}


def make_app(
    folder: Path,
    names: list[str] | None = None,
    auth_level: str = "anonymous",
    extra: Mapping[str, Callable[[Path], Path]] | None = None,
) -> Path:
    """A funnx app with one function per model, each reading a local model file; ``extra`` adds
    model builders by name beside MODELS'."""
    builders = {name: build for name, (build, _) in MODELS.items()} | dict(extra or {})
    write_files(plan_init(folder))
    for name in names or list(MODELS):
        model = builders[name](folder / "models" / f"{name}.onnx")
        write_files(plan_new(validate_new(folder, name, str(model), auth_level=auth_level)))
    return folder

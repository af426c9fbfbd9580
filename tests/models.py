"""ONNX models for tests, built in code with onnx.helper (no binaries in the repo), plus real ones
that ship inside installed packages."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def _save(model: onnx.ModelProto, path: Path) -> Path:
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def iris_path() -> Path:
    """onnxruntime's bundled scikit-learn logistic regression: float[3,2] → label, seq(map) probabilities."""
    return Path(onnxruntime.__file__).parent / "datasets" / "logreg_iris.onnx"


def mixed_inputs(path: Path) -> Path:
    """Four inputs of different dtypes, incl. a rank-0 scalar and strings; three outputs.

    y = x * scale (float[N,3]); count = number of true in mask (int64 scalar); tags_out = tags.
    """
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["scale"], ["scale_f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["x", "scale_f"], ["y"]),
            helper.make_node("Cast", ["mask"], ["mask_i"], to=TensorProto.INT64),
            helper.make_node("ReduceSum", ["mask_i"], ["count"], keepdims=0),
            helper.make_node("Identity", ["tags"], ["tags_out"]),
        ],
        "mixed",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("scale", TensorProto.INT64, []),
            helper.make_tensor_value_info("mask", TensorProto.BOOL, ["batch"]),
            helper.make_tensor_value_info("tags", TensorProto.STRING, ["batch"]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("count", TensorProto.INT64, []),
            helper.make_tensor_value_info("tags_out", TensorProto.STRING, ["batch"]),
        ],
    )
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="funnx-tests")
    helper.set_model_props(model, {"owner": "tests", "purpose": "mixed dtypes"})
    return _save(model, path)


def add_one(path: Path, offset: float = 1.0) -> Path:
    """y = x + offset for float[N]; ``offset`` tells versions of the 'same' model apart."""
    const = numpy_helper.from_array(np.array([offset], dtype=np.float32), "offset")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "offset"], ["y"])],
        "add_one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])],
        initializer=[const],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET), path)


def embedding(path: Path, vocab: int = 4, dim: int = 2) -> Path:
    """Gather rows of a [vocab, dim] table by int64 token ids; out-of-range ids fail inside run()."""
    table = numpy_helper.from_array(np.arange(vocab * dim, dtype=np.float32).reshape(vocab, dim), "table")
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["vectors"], axis=0)],
        "embedding",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("vectors", TensorProto.FLOAT, ["batch", "tokens", dim])],
        initializer=[table],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET), path)


def run_direct(path: Path, feeds: dict[str, np.ndarray]) -> list[object]:
    """The reference: onnxruntime called directly, as a user's own script would."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return list(session.run(None, feeds))


def identity(
    path: Path, name: str = "x", elem_type: int = TensorProto.FLOAT, shape: list[int | str] | None = None
) -> Path:
    """One input passed through as the output ``y``; the input's name, type and shape are chosen."""
    graph = helper.make_graph(
        [helper.make_node("Identity", [name], ["y"])],
        "identity",
        [helper.make_tensor_value_info(name, elem_type, shape if shape is not None else ["n"])],
        [helper.make_tensor_value_info("y", elem_type, shape if shape is not None else ["n"])],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET), path)


def int32_and_fp16(path: Path) -> Path:
    """a: int32[n] → doubled (int32); h: float16[n] → doubled (float16)."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "a"], ["a2"]), helper.make_node("Add", ["h", "h"], ["h2"])],
        "typed",
        [
            helper.make_tensor_value_info("a", TensorProto.INT32, ["n"]),
            helper.make_tensor_value_info("h", TensorProto.FLOAT16, ["n"]),
        ],
        [
            helper.make_tensor_value_info("a2", TensorProto.INT32, ["n"]),
            helper.make_tensor_value_info("h2", TensorProto.FLOAT16, ["n"]),
        ],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET), path)


def mlp(path: Path, sizes: tuple[int, ...] = (256, 1024, 1024, 10), seed: int = 0) -> Path:
    """A dense ReLU network with random weights: size grows with ``sizes`` (4 bytes per weight)."""
    rng = np.random.default_rng(seed)
    nodes, initializers, previous = [], [], "x"
    for index, (rows, cols) in enumerate(itertools.pairwise(sizes)):
        weight = f"w{index}"
        initializers.append(numpy_helper.from_array(rng.standard_normal((rows, cols), dtype=np.float32) * 0.05, weight))
        last = index == len(sizes) - 2
        product = "y" if last else f"m{index}"
        nodes.append(helper.make_node("MatMul", [previous, weight], [product]))
        if not last:
            nodes.append(helper.make_node("Relu", [product], [f"h{index}"]))
            previous = f"h{index}"
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", sizes[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", sizes[-1]])],
        initializer=initializers,
    )
    return _save(helper.make_model(graph, opset_imports=OPSET), path)


def shared_sequence(path: Path) -> Path:
    """A transformer's input shape: input_ids, attention_mask and token_type_ids, all int64
    [batch, sequence]; the output adds them (so each pair of sizes must agree)."""
    names = ("input_ids", "attention_mask", "token_type_ids")
    graph = helper.make_graph(
        [helper.make_node("Add", ["input_ids", "attention_mask"], ["partial"]),
         helper.make_node("Add", ["partial", "token_type_ids"], ["summed"])],
        "shared_sequence",
        [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"]) for name in names],
        [helper.make_tensor_value_info("summed", TensorProto.INT64, ["batch", "sequence"])],
    )  # fmt: skip
    return _save(helper.make_model(graph, opset_imports=OPSET), path)


def dynamic_cnn(path: Path) -> Path:
    """An image model with dynamic height and width: Conv 3x3 (no padding) → MaxPool → average → [batch, 4].
    It cannot take images smaller than 3x3."""
    weights = numpy_helper.from_array(np.full((4, 3, 3, 3), 0.1, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w"], ["conv"]),
         helper.make_node("MaxPool", ["conv"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("GlobalAveragePool", ["pooled"], ["averaged"]),
         helper.make_node("Flatten", ["averaged"], ["features"])],
        "dynamic_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 4])],
        initializer=[weights],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=OPSET)
    helper.set_model_props(model, {"image_size": "32"})
    return _save(model, path)


def reshape_to(path: Path, input_shape: list[int | str], target: list[int]) -> Path:
    """Reshape the float input ``x`` to the constant shape ``target``: fails inside run() when the
    element counts differ."""
    shape = numpy_helper.from_array(np.array(target, dtype=np.int64), "target")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "target"], ["y"])],
        "reshape_to",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [f"d{i}" for i in range(len(target))])],
        initializer=[shape],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET), path)

"""scikit-learn → ONNX with skl2onnx: infer the inputs, convert, and compute the original's answers.

Inputs. An estimator fitted on a DataFrame whose pipeline holds a ColumnTransformer selects
columns by name, so the ONNX model gets one ``[?, 1]`` input per column, typed by, in order: the
user's ``--input``, the column's fitted encoder (string or integer categories), the sample file's
column (text → string), else float. Any other estimator gets one ``X: float[?, n_features_in_]``.

Outputs. Classifiers give ``label`` and ``probabilities`` as plain tensors (ZipMap off) unless
``zipmap`` is asked for: a ``[N, classes]`` tensor is what JSON clients and the Open Inference
Protocol can carry; the class order is stored in the model's metadata (``classes``).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from framework.errors import ConversionError

from .samples import Sample
from .specs import InputSpec

SKLEARN_TYPES = {"float", "double", "int64", "int32", "string", "bool"}
_TEXT_VECTORIZERS = {"CountVectorizer", "TfidfVectorizer", "HashingVectorizer"}


def _sklearn() -> Any:
    try:
        import skl2onnx
        import sklearn  # noqa: F401  (skl2onnx imports it too: fail here with the install hint)
    except ImportError:
        raise ConversionError(
            "converting a scikit-learn model needs skl2onnx and scikit-learn; install them with "
            "pip install 'funnx[convert]'"
        ) from None
    return skl2onnx


def default_opset() -> int:
    """The newest opset skl2onnx is tested with (onnxruntime 1.18+ runs it)."""
    skl2onnx = _sklearn()
    return int(skl2onnx.get_latest_tested_opset_version())


def check_fitted(estimator: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise ConversionError(
            f"the {type(estimator).__name__} in the file is not fitted: call fit(X, y) before saving it"
        ) from None
    except Exception as err:  # TypeError, AttributeError: an object that only looks like an estimator
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise ConversionError(f"{type(estimator).__name__} is not a scikit-learn estimator: {first}") from None


def _walk(estimator: Any) -> Iterator[Any]:
    """The estimator and every fitted estimator inside it (pipeline steps, column transformers...)."""
    yield estimator
    children: list[Any] = []
    if hasattr(estimator, "steps"):
        children = [step for _, step in estimator.steps]
    elif hasattr(estimator, "transformers_"):
        children = [t for _, t, _ in estimator.transformers_]
    elif hasattr(estimator, "transformer_list"):
        children = [t for _, t in estimator.transformer_list]
    for child in children:
        if not isinstance(child, str):  # "drop", "passthrough"
            yield from _walk(child)


def _categories(estimator: Any) -> dict[str, list[Any]]:
    """Column name → the categories its fitted encoder knows (tells string from int columns)."""
    found: dict[str, list[Any]] = {}
    for node in _walk(estimator):
        if not hasattr(node, "transformers_"):
            continue
        for _, transformer, columns in node.transformers_:
            if isinstance(transformer, str) or isinstance(columns, str) or not len(columns):
                continue
            encoder = next((t for t in _walk(transformer) if hasattr(t, "categories_")), None)
            if encoder is None or not all(isinstance(c, str) for c in columns):
                continue
            for column, categories in zip(columns, encoder.categories_, strict=False):
                found[column] = [c for c in categories if c is not None and not (isinstance(c, float) and np.isnan(c))]
    return found


def _type_of_categories(values: Sequence[Any]) -> str:
    kind = np.asarray(values).dtype.kind
    return "string" if kind in "OUS" else "int64" if kind in "iu" else "float"


def named_columns(estimator: Any) -> list[str] | None:
    """The column names the model selects by, when it does (a ColumnTransformer over a DataFrame)."""
    names = getattr(estimator, "feature_names_in_", None)
    by_name = any(
        any(
            isinstance(columns, str) or any(isinstance(c, str) for c in columns) for _, _, columns in node.transformers_
        )
        for node in _walk(estimator)
        if hasattr(node, "transformers_")
    )
    return [str(n) for n in names] if names is not None and by_name else None


def infer_inputs(estimator: Any, given: Sequence[InputSpec], sample: Sample | None) -> list[InputSpec]:
    for node in _walk(estimator):
        if type(node).__name__ in _TEXT_VECTORIZERS:
            raise ConversionError(
                f"{type(node).__name__} (text input) is not supported by funnx convert yet: convert it in Python "
                "with skl2onnx.to_onnx, then serve the .onnx file with funnx new"
            )
    columns = named_columns(estimator)
    if columns is not None:
        return _column_inputs(estimator, columns, given, sample)
    width = getattr(estimator, "n_features_in_", None)
    if not given:
        if width is None:
            raise ConversionError(
                f"cannot tell what {type(estimator).__name__} takes as input: declare it with "
                "--input NAME:TYPE[DIMS], e.g. --input X:float[?,4]"
            )
        return [InputSpec("X", "float", (None, int(width)))]
    return [spec if spec.dims is not None else spec.with_dims((None, int(width or 0) or None)) for spec in given]


def _column_inputs(
    estimator: Any, columns: list[str], given: Sequence[InputSpec], sample: Sample | None
) -> list[InputSpec]:
    explicit = {spec.name: spec for spec in given}
    unknown = [name for name in explicit if name not in columns]
    if unknown:
        raise ConversionError(
            f"--input {unknown[0]!r}: the model takes the columns {', '.join(columns)}; name one of them"
        )
    categories = _categories(estimator)
    specs = []
    for name in columns:
        if name in explicit:
            spec = explicit[name]
            specs.append(spec if spec.dims is not None else spec.with_dims((None, 1)))
            continue
        kind = _type_of_categories(categories[name]) if name in categories else None
        if kind is None and sample is not None:
            kind = sample.kind_of(name)
            kind = kind if kind in {"string", "bool"} else None  # numbers stay float: JSON clients send 3 or 3.0
        specs.append(InputSpec(name, kind or "float", (None, 1)))
    return specs


def value_choices(estimator: Any) -> dict[str, list[Any]]:
    """Values to draw generated rows from: each encoded column's categories."""
    return _categories(estimator)


def _skl_type(spec: InputSpec) -> Any:
    from skl2onnx.common import data_types

    if spec.type not in SKLEARN_TYPES:
        raise ConversionError(f"input {spec.text()}: scikit-learn models take {', '.join(sorted(SKLEARN_TYPES))}")
    names = {"float": "FloatTensorType", "double": "DoubleTensorType", "int64": "Int64TensorType",
             "int32": "Int32TensorType", "string": "StringTensorType", "bool": "BooleanTensorType"}  # fmt: skip
    assert spec.dims is not None
    return getattr(data_types, names[spec.type])(list(spec.dims))


def _final_step(estimator: Any) -> Any:
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def convert(estimator: Any, specs: Sequence[InputSpec], opset: int, zipmap: bool) -> Any:
    """The ONNX ModelProto for ``estimator``; skl2onnx's failures become one-line errors naming the cause."""
    skl2onnx = _sklearn()
    from sklearn.base import is_classifier

    options = {id(_final_step(estimator)): {"zipmap": zipmap}} if is_classifier(estimator) else None
    initial_types = [(spec.name, _skl_type(spec)) for spec in specs]

    def run(options: dict[int, dict[str, Any]] | None) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return skl2onnx.convert_sklearn(estimator, initial_types=initial_types, target_opset=opset, options=options)

    try:
        try:
            model = run(options)
        except Exception as err:  # classifiers without probabilities (LinearSVC...) have no ZipMap to remove
            if "Option 'zipmap' not in" not in str(err):
                raise
            model = run({id(_final_step(estimator)): {}})  # {}: else skl2onnx's Pipeline parser adds zipmap
    except Exception as err:
        raise _conversion_error(estimator, err, skl2onnx.__version__) from None
    _tidy(model, estimator)
    return model


def _conversion_error(estimator: Any, err: Exception, version: str) -> ConversionError:
    text = str(err)
    missing = re.search(r"(?:shape calculator|converter) for (?:type|model type) '<class '([\w.]+)'>'", text)
    if missing:
        cls = missing[1]
        return ConversionError(
            f"skl2onnx {version} cannot convert {cls.rsplit('.', 1)[-1]} ({cls}): replace it with a supported "
            "estimator, or register a converter for it with skl2onnx.update_registered_converter and convert in "
            "Python (supported models: https://onnx.ai/sklearn-onnx/supported.html)"
        )
    first = _short(text) or type(err).__name__
    if err.__cause__ is not None:  # skl2onnx wraps the real failure; its text is the useful part
        first += f" ({type(err.__cause__).__name__}: {_short(str(err.__cause__))})"
    return ConversionError(f"skl2onnx {version} cannot convert this {type(estimator).__name__}: {first}")


def _short(text: str, limit: int = 160) -> str:
    """The first line, cut: skl2onnx messages can carry whole weight arrays."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _tidy(model: Any, estimator: Any) -> None:
    """One opset import per domain (skl2onnx may repeat one), and what a client needs in metadata."""
    import sklearn

    latest: dict[str, int] = {}
    for entry in model.opset_import:
        latest[entry.domain] = max(latest.get(entry.domain, 0), entry.version)
    del model.opset_import[:]
    for domain, version in latest.items():
        model.opset_import.add(domain=domain, version=version)
    meta = {"converted_from": f"scikit-learn {sklearn.__version__} {type(estimator).__name__}"}
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        meta["classes"] = json.dumps([c.item() if hasattr(c, "item") else c for c in classes])
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)


def original_outputs(estimator: Any, specs: Sequence[InputSpec], natural: dict[str, Any]) -> list[Any]:
    """What the estimator itself answers for the sample, in the order skl2onnx lays out its outputs."""
    from sklearn.base import is_classifier, is_regressor

    if named_columns(estimator) is not None:
        import pandas as pd

        frame = pd.DataFrame({spec.name: np.asarray(natural[spec.name]).ravel() for spec in specs})
        data: Any = frame[[str(n) for n in estimator.feature_names_in_]]
    else:
        data = natural[specs[0].name]
        names = getattr(estimator, "feature_names_in_", None)
        if names is not None and len(specs) == 1:  # fitted on a DataFrame: give it one, without warnings
            import pandas as pd

            data = pd.DataFrame(data, columns=list(names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if is_classifier(estimator):
                second = "predict_proba" if hasattr(estimator, "predict_proba") else "decision_function"
                return [estimator.predict(data), getattr(estimator, second)(data)]
            if is_regressor(estimator) or not hasattr(estimator, "transform"):
                return [estimator.predict(data)]
            if hasattr(estimator, "predict"):  # clusterers: label, then distances
                return [estimator.predict(data), estimator.transform(data)]
            return [estimator.transform(data)]
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConversionError(
                f"the original {type(estimator).__name__} fails on the sample rows: {first}"
            ) from None

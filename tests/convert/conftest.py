"""Real scikit-learn models trained on sklearn's bundled datasets, saved the ways users save them.

Session-scoped: each model is trained once (a second or two in all). Tests skip when the convert
extra (scikit-learn, skl2onnx, pandas) is not installed.
"""

from __future__ import annotations

import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("skl2onnx", reason="funnx[convert] is not installed")
pytest.importorskip("sklearn")
pytest.importorskip("pandas")


@dataclass
class Trained:
    """A fitted estimator, the file it was saved to, and real rows it was not (all) trained on."""

    name: str
    estimator: Any
    path: Path
    rows: Any  # an array, or a DataFrame for models over named columns

    def json_inputs(self, count: int) -> dict[str, Any]:
        """The first ``count`` rows as the simple contract's named inputs."""
        rows = self.rows[:count]
        if hasattr(rows, "columns"):
            return {"inputs": {c: [[v] for v in rows[c].tolist()] for c in rows.columns}}
        return {"inputs": {"X": rows.tolist()}}


def _save(estimator: Any, path: Path, how: str) -> Path:
    if how == "pickle":
        path.write_bytes(pickle.dumps(estimator))
    else:
        import joblib

        joblib.dump(estimator, path, compress=3 if how == "joblib-compressed" else 0)
    return path


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trained]:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_diabetes, load_digits, load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    folder = tmp_path_factory.mktemp("trained")
    trained: dict[str, Trained] = {}

    iris = load_iris()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(iris.data, iris.target)
    trained["iris"] = Trained("iris", pipeline, _save(pipeline, folder / "iris.pkl", "pickle"), iris.data[::7])

    digits = load_digits()
    forest = RandomForestClassifier(n_estimators=15, max_depth=8, random_state=0).fit(digits.data, digits.target)
    trained["digits"] = Trained("digits", forest, _save(forest, folder / "digits.joblib", "joblib"), digits.data[::90])

    diabetes = load_diabetes()
    ridge = Ridge(alpha=0.5).fit(diabetes.data, diabetes.target)
    path = _save(ridge, folder / "diabetes.joblib", "joblib-compressed")
    trained["diabetes"] = Trained("diabetes", ridge, path, diabetes.data[::40])

    # Mixed column types, string class labels: what a DataFrame-trained pipeline looks like.
    frame = pd.DataFrame(iris.data, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    rng = np.random.default_rng(0)
    frame["colour"] = rng.choice(["red", "green", "blue"], len(frame))
    frame["stems"] = rng.integers(1, 4, len(frame))
    numeric = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    prep = ColumnTransformer(
        [("num", StandardScaler(), numeric), ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour", "stems"])]
    )
    labels = np.array(iris.target_names)[iris.target]
    mixed = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))]).fit(frame, labels)
    trained["mixed"] = Trained("mixed", mixed, _save(mixed, folder / "mixed.joblib", "joblib"), frame.iloc[::11])
    frame.assign(species=labels).to_csv(folder / "mixed.csv", index=False)
    return trained


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None

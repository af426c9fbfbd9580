"""Bad input to `funnx convert`: one line `error: ...` naming the problem and the fix, exit 1, no file."""

from __future__ import annotations

import pickle
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.convert.conftest import Trained


def fails(*args: str | Path) -> str:
    """Run the command; it must fail with exactly one `error:` line and leave no .onnx or temp file."""
    result = run_cli("convert", *args)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return errors[0]


def no_output_in(folder: Path) -> None:
    leftovers = [p.name for p in folder.iterdir() if p.suffix in {".onnx", ".tmp"}]
    assert leftovers == []


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read" in fails(tmp_path / "nope.pkl") and "nope.pkl" in fails(tmp_path / "nope.pkl")


def test_not_a_model_file(tmp_path: Path) -> None:
    (tmp_path / "notes.pkl").write_text("just text\n")
    assert "is not a pickle, joblib, torch.save or TorchScript file" in fails(tmp_path / "notes.pkl")
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "not one written by torch.save" in fails(tmp_path / "bundle.zip")
    (tmp_path / "broken.pkl").write_bytes(b"\x80\x04\x95garbage")
    assert "cannot load" in fails(tmp_path / "broken.pkl")
    no_output_in(tmp_path)


def test_onnx_file_points_to_funnx_new(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07")
    assert "already an ONNX model: serve it with funnx new" in fails(tmp_path / "model.onnx")


def test_pickle_of_something_else(tmp_path: Path) -> None:
    (tmp_path / "weights.pkl").write_bytes(pickle.dumps({"coef": [1.0, 2.0]}))
    message = fails(tmp_path / "weights.pkl")
    assert "holds a builtins.dict, not a scikit-learn estimator or a PyTorch module" in message


def test_unfitted_estimator(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    (tmp_path / "unfitted.pkl").write_bytes(pickle.dumps(LogisticRegression()))
    assert "LogisticRegression in the file is not fitted: call fit(X, y) before saving it" in fails(
        tmp_path / "unfitted.pkl"
    )
    no_output_in(tmp_path)


def test_estimator_skl2onnx_cannot_convert_is_named(tmp_path: Path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.neighbors import KernelDensity

    (tmp_path / "kde.pkl").write_bytes(pickle.dumps(KernelDensity().fit(load_iris().data)))
    message = fails(tmp_path / "kde.pkl")
    assert "cannot convert KernelDensity (sklearn.neighbors._kde.KernelDensity)" in message
    assert "update_registered_converter" in message
    no_output_in(tmp_path)


def test_text_vectorizer_is_refused_with_a_way_out(tmp_path: Path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts, labels = ["good film", "bad film", "great plot", "awful plot"], [1, 0, 1, 0]
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, labels)
    (tmp_path / "text.pkl").write_bytes(pickle.dumps(model))
    assert "TfidfVectorizer (text input) is not supported by funnx convert yet" in fails(tmp_path / "text.pkl")


class Custom:
    """Stands for a class from the user's training code."""

    def fit(self) -> None: ...

    def get_params(self) -> dict[str, object]:
        return {}


def test_class_defined_in_the_training_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Custom, "__module__", "__main__")
    monkeypatch.setattr(sys.modules["__main__"], "Custom", Custom, raising=False)
    data = pickle.dumps(Custom())
    monkeypatch.delattr(sys.modules["__main__"], "Custom")
    (tmp_path / "custom.pkl").write_bytes(data)
    message = fails(tmp_path / "custom.pkl")
    assert "refers to class Custom defined in the script that saved it (__main__)" in message


def test_class_from_a_module_that_is_not_importable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("my_training_code")
    monkeypatch.setattr(Custom, "__module__", "my_training_code")
    module.Custom = Custom  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "my_training_code", module)
    data = pickle.dumps(Custom())
    monkeypatch.delitem(sys.modules, "my_training_code")
    (tmp_path / "custom.pkl").write_bytes(data)
    message = fails(tmp_path / "custom.pkl")
    assert "refers to module 'my_training_code', which cannot be imported here" in message
    # ...and found when funnx convert runs where the module is (the current folder, like python -m).
    (tmp_path / "my_training_code.py").write_text(
        "class Custom:\n    def fit(self): ...\n    def get_params(self): return {}\n"
    )
    monkeypatch.chdir(tmp_path)
    assert "Custom is not a scikit-learn estimator" in fails(tmp_path / "custom.pkl")  # loaded, then refused
    monkeypatch.delitem(sys.modules, "my_training_code", raising=False)


def test_difference_over_tolerance_writes_nothing_unless_forced(models: dict[str, Trained], tmp_path: Path) -> None:
    # float32 rounding makes any regression output differ a little: tolerance 0 cannot be met.
    output = tmp_path / "ridge.onnx"
    result = run_cli("convert", models["diabetes"].path, "-o", output, "--tolerance", "0")
    assert result.exit_code == 1
    assert "variable: largest absolute difference" in result.stdout  # the per-output report is still shown
    error = result.stderr.strip()
    assert error.startswith("error: the ONNX model answers differently from the original") and "\n" not in error
    assert "nothing was written" in error and "--force" in error
    no_output_in(tmp_path)

    forced = run_cli("convert", models["diabetes"].path, "-o", output, "--tolerance", "0", "--force")
    assert forced.exit_code == 0, forced.output
    assert "warning: written despite the differences" in forced.stderr
    assert output.is_file()


def test_existing_output_is_kept_unless_overwrite(models: dict[str, Trained], tmp_path: Path) -> None:
    output = tmp_path / "iris.onnx"
    output.write_bytes(b"keep me")
    assert "exists: pass --overwrite" in fails(models["iris"].path, "-o", output)
    assert output.read_bytes() == b"keep me"
    assert run_cli("convert", models["iris"].path, "-o", output, "--overwrite").exit_code == 0
    assert output.read_bytes() != b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["iris.onnx"]  # no temporary file left behind


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--input", "X"], "use NAME:TYPE or NAME:TYPE[DIMS]"),
        (["--input", "X:complex[?,4]"], "unknown type 'complex'"),
        (["--input", "X:float[?,4.5]"], "'4.5' is not a dimension"),
        (["--input", "X:float[?,4]", "--input", "X:double[?,4]"], "input 'X' is declared twice"),
        (["--input-shape", "1,4"], "--input-shape is for PyTorch modules"),
        (["--input", "X:float16[?,4]"], "scikit-learn models take"),
        (["--rows", "0"], "--rows must be at least 1"),
    ],
)
def test_bad_options(models: dict[str, Trained], tmp_path: Path, args: list[str], expected: str) -> None:
    assert expected in fails(models["iris"].path, "-o", tmp_path / "out.onnx", *args)


def test_input_naming_no_column(models: dict[str, Trained], tmp_path: Path) -> None:
    message = fails(models["mixed"].path, "-o", tmp_path / "o.onnx", "--input", "color:string")
    assert "the model takes the columns sepal_length, sepal_width, petal_length, petal_width, colour, stems" in message


def test_sample_that_does_not_fit(models: dict[str, Trained], tmp_path: Path) -> None:
    np.save(tmp_path / "three.npy", np.zeros((5, 3)))
    assert "takes X:float[?,4] but the sample has shape [5, 3]" in fails(
        models["iris"].path, "-o", tmp_path / "o.onnx", "--sample", tmp_path / "three.npy"
    )
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    assert "has no column 'sepal_length'" in fails(
        models["mixed"].path, "-o", tmp_path / "o.onnx", "--sample", tmp_path / "rows.csv"
    )
    (tmp_path / "rows.txt").write_text("1,2\n")
    assert "use a .npy, .npz or .csv file" in fails(
        models["iris"].path, "-o", tmp_path / "o.onnx", "--sample", tmp_path / "rows.txt"
    )

"""Tell what a model file is and load it: a scikit-learn pickle/joblib file or a PyTorch file.

The file's bytes decide, not its name: torch.save and torch.jit.save write zip archives with a
known layout (``data.pkl``; TorchScript adds ``code/`` and ``constants.pkl``), pickle starts with
protocol byte 0x80, joblib's compressed files with their compressor's magic. The object inside
decides the converter: a pickled ``torch.nn.Module`` goes to the PyTorch path too.

Loading a pickle runs code chosen by whoever wrote the file: convert only files you trust.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from framework.errors import ConversionError

#: joblib's compressors: zlib, gzip, bz2, xz, lzma (raw), lz4.
_COMPRESSED = (b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00", b"\x04\x22\x4d\x18")
INSTALL_CONVERT = "pip install 'funnx[convert]'"
INSTALL_TORCH = "pip install torch"


@dataclass(frozen=True)
class LoadedModel:
    kind: Literal["sklearn", "torch"]
    model: Any
    torchscript: bool = False

    @property
    def type_name(self) -> str:
        return type(self.model).__name__


def _archive_kind(path: Path) -> Literal["torch", "torchscript"] | None:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if any("/code/" in n or n.endswith("/constants.pkl") for n in names):
        return "torchscript"
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return "torch"
    return None


def check_source(path: Path) -> bytes:
    """The cheap checks, done before anything else: readable, not empty, not ONNX already. Returns the head."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as err:
        raise ConversionError(f"cannot read {path}: {err.strerror or err}") from None
    if path.suffix.lower() == ".onnx":
        raise ConversionError(f"{path} is already an ONNX model: serve it with funnx new NAME --model {path}")
    if not head:
        raise ConversionError(f"{path} is empty")
    return head


def load_model(path: Path) -> LoadedModel:
    """Load ``path``; every failure is a one-line ConversionError naming the file and the fix."""
    head = check_source(path)
    if zipfile.is_zipfile(path):
        kind = _archive_kind(path)
        if kind is None:
            raise ConversionError(f"{path} is a zip archive but not one written by torch.save or torch.jit.save")
        from . import from_torch

        return LoadedModel("torch", from_torch.load(path, torchscript=kind == "torchscript"), kind == "torchscript")
    if not head.startswith(b"\x80") and not head.startswith(_COMPRESSED):
        raise ConversionError(
            f"{path} is not a pickle, joblib, torch.save or TorchScript file; funnx convert takes a scikit-learn "
            "model saved with pickle or joblib, or a PyTorch module"
        )
    obj = _unpickle(path)
    return _classify(path, obj)


@contextlib.contextmanager
def importable_from_cwd() -> Iterator[None]:
    """Classes a pickle names must be importable: like ``python -m``, look in the current folder too."""
    cwd = str(Path.cwd())
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(cwd)


def missing_module_error(path: Path, module: str) -> ConversionError:
    top = module.split(".", maxsplit=1)[0]
    if top == "torch":
        return ConversionError(f"converting a PyTorch model needs torch; install it with {INSTALL_TORCH}")
    if top in {"sklearn", "scipy", "joblib"}:
        return ConversionError(f"converting a scikit-learn model needs scikit-learn; install it with {INSTALL_CONVERT}")
    return ConversionError(
        f"{path} refers to module {module!r}, which cannot be imported here: install it, or run funnx convert "
        "from the folder that holds it (or add that folder to PYTHONPATH)"
    )


def _unpickle(path: Path) -> Any:
    try:
        import joblib

        loader: Any = joblib.load
    except ImportError:  # plain pickles still load; joblib's compressed files then fail below
        loader = pickle.load
    try:
        with importable_from_cwd(), contextlib.redirect_stdout(sys.stderr):
            if loader is pickle.load:
                with path.open("rb") as handle:
                    return pickle.load(handle)  # only trusted files: see the module docstring
            return loader(os.fspath(path))
    except ModuleNotFoundError as err:
        raise missing_module_error(path, err.name or str(err)) from None
    except AttributeError as err:
        found = re.search(r"Can't get attribute '([^']+)' on <module '([^']+)'", str(err))
        main = sys.modules.get("__main__")  # its repr shows the spec name under `python -m`
        main_names = {"__main__", getattr(getattr(main, "__spec__", None), "name", "__main__")}
        if found and found[2] in main_names:
            raise ConversionError(
                f"{path} refers to class {found[1]} defined in the script that saved it (__main__): move the class "
                "into a module, import it from there, save the model again, and run funnx convert where that "
                "module is importable"
            ) from None
        raise ConversionError(f"cannot unpickle {path}: {err}") from None
    except Exception as err:  # UnpicklingError, EOFError, ValueError, zlib.error...: a damaged or foreign file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConversionError(f"cannot load {path} (damaged or not a model file?): {first}") from None


def _classify(path: Path, obj: Any) -> LoadedModel:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        return LoadedModel("torch", obj)
    if hasattr(obj, "fit") and hasattr(obj, "get_params"):
        return LoadedModel("sklearn", obj)
    if isinstance(obj, dict) and obj and torch is not None and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConversionError(
            f"{path} holds a state_dict (weights only), not a module: save the module itself with "
            "torch.save(model, FILE) or torch.jit.save(torch.jit.script(model), FILE)"
        )
    raise ConversionError(
        f"{path} holds a {type(obj).__module__}.{type(obj).__qualname__}, not a scikit-learn estimator or a "
        "PyTorch module"
    )

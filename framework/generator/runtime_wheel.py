"""The funnx runtime as a wheel the app keeps beside its code: ``wheels/funnx_runtime-<version>-py3-none-any.whl``.

Generated function modules import ``framework.runtime``. In Azure that package must come from the
app's requirements.txt, because a remote build (Oryx, `func azure functionapp publish`, the
functions-action with remote-build, VS Code, azd) is a clean virtualenv running
``pip install -r requirements.txt`` in the app folder, and funnx is not on PyPI. So funnx builds a
light distribution, ``funnx-runtime``, holding only what a deployed function imports
(``framework/__init__.py``, ``framework/errors.py``, ``framework/runtime/``) and declaring the
runtime's dependencies; requirements.txt names it by a relative path. The build is reproducible
(hatchling's fixed timestamps), so the same funnx always writes the same bytes and an app's copy can
be compared with what the running funnx would write.

Building takes hatchling's import and a build (tens of milliseconds), so it is skipped where it can
be: the wheel carries a hash of everything its bytes depend on (``extra_metadata/funnx-build-inputs``:
pyproject, sources, hatchling's version and timestamp), and an app's intact wheel with the current
hash is left alone without building; within one process each build is made once.
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import framework

from .writer import PlannedFile

DISTRIBUTION = "funnx-runtime"
FOLDER = "wheels"
#: What the deployed runtime needs (funnx's own runtime dependencies). No environment markers: pip
#: reads a dependency's markers for the Python it runs on, not the target of a cross-build. The
#: azure-functions line needs none: 1.x wheels require Python < 3.13 and 2.x wheels >= 3.13.
DEPENDENCIES = (
    "azure-functions>=1.26,<3",
    "numpy>=1.26",
    "onnxruntime>=1.18",
    "azure-storage-blob>=12.19",
    "azure-identity>=1.15",
    "orjson>=3.9",
)
#: A requirements.txt line naming a runtime wheel (any version).
REQUIREMENT_LINE = re.compile(r"^\./wheels/funnx_runtime-[^/\s]+\.whl[ \t]*$", re.MULTILINE)

_PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{name}"
version = "{version}"
description = "The deployed part of funnx: what generated Azure Functions modules import."
requires-python = ">=3.11"
dependencies = [{dependencies}]

[tool.hatch.build.targets.wheel]
packages = ["framework"]

[tool.hatch.build.targets.wheel.extra-metadata]
"{fingerprint_file}" = "{fingerprint_file}"
"""
#: The file in the wheel's ``.dist-info/extra_metadata/`` holding :attr:`BuildInputs.fingerprint`.
FINGERPRINT_FILE = "funnx-build-inputs"


def wheel_name(version: str = framework.__version__) -> str:
    return f"{DISTRIBUTION.replace('-', '_')}-{version}-py3-none-any.whl"


def requirement_line(version: str = framework.__version__) -> str:
    """How requirements.txt names the wheel: relative to the app folder, where every build runs pip."""
    return f"./{FOLDER}/{wheel_name(version)}"


@dataclass(frozen=True)
class BuildInputs:
    """Everything the wheel's bytes depend on: hatchling builds reproducibly, so equal inputs give equal wheels."""

    pyproject: str
    files: tuple[tuple[str, bytes], ...]  # (path inside the wheel, content)
    builder: str  # hatchling's and packaging's versions, and the timestamp hatchling stamps entries with

    @functools.cached_property
    def fingerprint(self) -> str:
        parts = [self.pyproject.encode(), self.builder.encode()]
        for name, content in self.files:
            parts += [name.encode(), content]
        digest = hashlib.sha256()
        for part in parts:
            digest.update(len(part).to_bytes(8, "big") + part)  # length-prefixed: no two inputs hash alike
        return f"sha256:{digest.hexdigest()}\n"


def current_inputs() -> BuildInputs:
    """The running funnx's inputs (reads the runtime's sources; imports no more of hatchling than its version)."""
    import packaging
    from hatchling.__about__ import __version__ as hatchling_version

    package = Path(framework.__file__).resolve().parent
    sources = [package / "__init__.py", package / "errors.py", *sorted((package / "runtime").rglob("*.py"))]
    dependencies = ", ".join(f'"{requirement}"' for requirement in DEPENDENCIES)
    pyproject = _PYPROJECT.format(
        name=DISTRIBUTION, version=framework.__version__, dependencies=dependencies, fingerprint_file=FINGERPRINT_FILE
    )
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    builder = f"hatchling {hatchling_version}, packaging {packaging.__version__}, SOURCE_DATE_EPOCH={epoch}"
    files = tuple((f"framework/{path.relative_to(package).as_posix()}", path.read_bytes()) for path in sources)
    return BuildInputs(pyproject, files, builder)


def build() -> bytes:
    """The wheel's bytes, built from the running funnx's own runtime files."""
    return _built(current_inputs())


@functools.cache
def _built(inputs: BuildInputs) -> bytes:
    from hatchling.builders.wheel import WheelBuilder

    with tempfile.TemporaryDirectory(prefix="funnx-runtime-") as scratch:
        root = Path(scratch)
        (root / "pyproject.toml").write_text(inputs.pyproject)
        (root / FINGERPRINT_FILE).write_text(inputs.fingerprint)
        for relative, content in inputs.files:
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(content)
        built = next(WheelBuilder(str(root)).build(directory=str(root / "dist"), versions=["standard"]))
        return Path(built).read_bytes()


def is_current(wheel: Path, inputs: BuildInputs) -> bool:
    """Whether ``wheel`` was built from ``inputs`` and is intact (every file as its RECORD says), so that
    building again would give the same bytes."""
    info = f"{DISTRIBUTION.replace('-', '_')}-{framework.__version__}.dist-info"
    try:
        with zipfile.ZipFile(wheel) as archive:
            if archive.read(f"{info}/extra_metadata/{FINGERPRINT_FILE}").decode() != inputs.fingerprint:
                return False
            record = list(csv.reader(io.StringIO(archive.read(f"{info}/RECORD").decode())))
            if sorted(row[0] for row in record) != sorted(archive.namelist()):
                return False
            return all(_hash_entry(archive.read(name)) == [digest, size] for name, digest, size in record if digest)
    except (OSError, KeyError, IndexError, ValueError, zipfile.BadZipFile):  # a damaged wheel or RECORD
        return False


def _hash_entry(content: bytes) -> list[str]:
    """A file's RECORD hash and size, as a wheel writes them."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    return [f"sha256={digest}", str(len(content))]


def ships_runtime_source(app_dir: Path) -> bool:
    """A funnx checkout is itself an app whose ``framework/`` is deployed as source: no wheel."""
    return (app_dir / "framework" / "runtime" / "__init__.py").is_file()


def plan_refresh(app_dir: Path) -> list[PlannedFile]:
    """The wheel and requirements.txt naming it, where either differs from what this funnx writes.

    A wheel of another funnx version is left in place for the user to delete; requirements.txt
    keeps every other line.
    """
    if ships_runtime_source(app_dir):
        return []
    planned = []
    wheel = app_dir / FOLDER / wheel_name()
    inputs = current_inputs()
    if not is_current(wheel, inputs):
        planned.append(PlannedFile(wheel, _built(inputs)))
    requirements = app_dir / "requirements.txt"
    text = requirements.read_text(encoding="utf-8") if requirements.is_file() else ""
    updated = REQUIREMENT_LINE.sub(requirement_line(), text) if REQUIREMENT_LINE.search(text) else None
    if updated is None:
        updated = f"{requirement_line()}\n{text}"
    if updated != text:
        planned.append(PlannedFile(requirements, updated))
    return planned

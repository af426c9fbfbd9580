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
"""

from __future__ import annotations

import re
import shutil
import tempfile
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
"""


def wheel_name(version: str = framework.__version__) -> str:
    return f"{DISTRIBUTION.replace('-', '_')}-{version}-py3-none-any.whl"


def requirement_line(version: str = framework.__version__) -> str:
    """How requirements.txt names the wheel: relative to the app folder, where every build runs pip."""
    return f"./{FOLDER}/{wheel_name(version)}"


def _sources() -> list[tuple[Path, str]]:
    """(file, path inside the wheel) for every file of the deployed runtime."""
    package = Path(framework.__file__).resolve().parent
    files = [(package / "__init__.py", "framework/__init__.py"), (package / "errors.py", "framework/errors.py")]
    files += [(path, f"framework/{path.relative_to(package).as_posix()}") for path in sorted(
        (package / "runtime").rglob("*.py"))]  # fmt: skip
    return files


def build() -> bytes:
    """The wheel's bytes, built from the running funnx's own runtime files."""
    from hatchling.builders.wheel import WheelBuilder

    with tempfile.TemporaryDirectory(prefix="funnx-runtime-") as scratch:
        root = Path(scratch)
        dependencies = ", ".join(f'"{requirement}"' for requirement in DEPENDENCIES)
        (root / "pyproject.toml").write_text(
            _PYPROJECT.format(name=DISTRIBUTION, version=framework.__version__, dependencies=dependencies)
        )
        for source, relative in _sources():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, root / relative)
        built = next(WheelBuilder(str(root)).build(directory=str(root / "dist"), versions=["standard"]))
        return Path(built).read_bytes()


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
    content = build()
    if not wheel.is_file() or wheel.read_bytes() != content:
        planned.append(PlannedFile(wheel, content))
    requirements = app_dir / "requirements.txt"
    text = requirements.read_text(encoding="utf-8") if requirements.is_file() else ""
    updated = REQUIREMENT_LINE.sub(requirement_line(), text) if REQUIREMENT_LINE.search(text) else None
    if updated is None:
        updated = f"{requirement_line()}\n{text}"
    if updated != text:
        planned.append(PlannedFile(requirements, updated))
    return planned

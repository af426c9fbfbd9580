"""``funnx package``: a run-from-package zip holding the tree a remote build would deploy.

The zip holds the app's files minus what .funcignore (and Core Tools' own rules) leave out, and
``.python_packages/lib/site-packages`` filled from requirements.txt (see :mod:`.dependencies`), which
names funnx's runtime wheel: so the package, a remote build and ``func azure functionapp publish``
deploy the same tree. Before building, the app's runtime wheel is brought up to this funnx's, and a
function whose local model file would not be in the zip is refused. Entries are sorted and
timestamped alike, so the same inputs give the same zip.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pathspec

from framework.errors import GeneratorError
from framework.runtime.model import OnnxModel
from framework.runtime.sources import LocalSource

from . import dependencies, python_versions, runtime_wheel
from .funcignore import ALWAYS_EXCLUDED, excluding_rule
from .writer import PlannedFile, write_files

SITE_PACKAGES = ".python_packages/lib/site-packages"
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)
#: Never deployed, whatever .funcignore says: build output, pipelines, infrastructure, tests, local state.
NEVER_SHIPPED = [".python_packages/", "dist/", ".github/", "infra/", "tests/", ".funnx/", ".azurite/",
                 ".venv*/", "node_modules/", "__pycache__/", "*.pyc", ".hypothesis/"]  # fmt: skip


@dataclass(frozen=True)
class PackageReport:
    path: Path
    files: int
    size: int  # bytes of the zip
    largest: list[tuple[str, int]]  # (top-level package, installed bytes), biggest first
    updated: list[Path]  # app files brought up to date first (the runtime wheel, requirements.txt)


def app_files(app_dir: Path, to_write: Collection[Path] = ()) -> Iterator[tuple[Path, str]]:
    """(file, name in the zip) for each app file the package keeps; ``to_write``: files of the app
    about to be written, counted as if they were there already."""
    ignore = app_dir / ".funcignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    spec = pathspec.GitIgnoreSpec.from_lines([*ALWAYS_EXCLUDED, *NEVER_SHIPPED, *lines])
    for path in sorted({*app_dir.rglob("*"), *to_write}):
        relative = path.relative_to(app_dir).as_posix()
        is_file = path in to_write or (path.is_file() and not path.is_symlink())
        if is_file and not spec.match_file(relative):
            yield path, relative


def missing_models(app_dir: Path, models: Sequence[OnnxModel], shipped: set[str]) -> list[str]:
    """Why each model's local file would not be in the package (empty: all are)."""
    problems = []
    for model in models:
        source = model.source
        if not isinstance(source, LocalSource):
            continue
        declared = Path(source.path).expanduser()
        if declared.is_absolute():
            why = "it is declared by an absolute path, which does not exist in Azure"
        else:
            relative = PurePosixPath(declared.as_posix()).as_posix()
            if relative in shipped:
                continue
            rule = excluding_rule(app_dir, relative)
            why = f".funcignore leaves it out ('{rule}')" if rule else "the file is not in the app folder"
        problems.append(f"model '{model.name}' ({source.path}) would not be in the package: {why}")
    if problems:
        problems.append("move the files into the app folder, or upload them to blob storage and use az://")
    return problems


def _largest(site: Path, count: int = 5) -> list[tuple[str, int]]:
    sizes = []
    for entry in site.iterdir():
        if entry.name.endswith((".dist-info", ".libs")) or entry.name in ("__pycache__", "bin"):
            continue
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        sizes.append((entry.name, sum(p.stat().st_size for p in files)))
    return sorted(sizes, key=lambda item: -item[1])[:count]


def _add(archive: zipfile.ZipFile, path: Path, name: str) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with path.open("rb") as source, archive.open(info, "w") as target:
        while chunk := source.read(1 << 20):
            target.write(chunk)


def _check_app(app_dir: Path) -> None:
    if not (app_dir / "host.json").is_file() or not (app_dir / "requirements.txt").is_file():
        raise GeneratorError(f"{app_dir} needs host.json and requirements.txt to be packaged; run funnx init first")
    requirements = (app_dir / "requirements.txt").read_text(encoding="utf-8")
    if re.search(r"^\s*(funnx|click|jinja2|uvicorn)\b", requirements, re.MULTILINE | re.IGNORECASE):
        raise GeneratorError(
            "requirements.txt lists tooling (funnx, click, jinja2 or uvicorn); Azure needs runtime dependencies only"
        )


def build_package(
    app_dir: Path,
    output: Path,
    python: str = python_versions.DEFAULT,
    models: Sequence[OnnxModel] = (),
    *,
    on_pip_step: Callable[[str], None] | None = None,
    on_zipped: Callable[[int, int | None], None] | None = None,
) -> PackageReport:
    """Write the deployment zip to ``output`` (atomically: a temporary file renamed at the end).
    ``models``: the app's models (from its catalog), whose local files must ship. ``on_pip_step``
    hears pip's steps; ``on_zipped`` hears (bytes zipped so far, bytes to zip) after each file."""
    _check_app(app_dir)
    refreshed: list[PlannedFile] = runtime_wheel.plan_refresh(app_dir)  # written once the models are checked
    previous = output.resolve()
    entries = [entry for entry in app_files(app_dir, {f.path for f in refreshed}) if entry[0].resolve() != previous]
    problems = missing_models(app_dir, models, {name for _, name in entries})
    if problems:
        raise GeneratorError("; ".join(problems))
    write_files(refreshed)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="funnx-package-") as scratch:
        site = Path(scratch) / "site-packages"
        dependencies.install(app_dir, site, python, on_pip_step)
        entries += [(path, f"{SITE_PACKAGES}/{path.relative_to(site).as_posix()}") for path in sorted(site.rglob("*"))
                    if path.is_file() and "__pycache__" not in path.parts]  # fmt: skip
        partial = output.with_name(f".{output.name}.{os.getpid()}.part")
        try:
            sizes = {path: path.stat().st_size for path, _ in entries}
            total, zipped = sum(sizes.values()), 0
            with zipfile.ZipFile(partial, "w", compresslevel=6) as archive:
                for path, name in sorted(entries, key=lambda entry: entry[1]):
                    _add(archive, path, name)
                    zipped += sizes[path]
                    if on_zipped is not None:
                        on_zipped(zipped, total)
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
        return PackageReport(output, len(entries), output.stat().st_size, _largest(site), [f.path for f in refreshed])

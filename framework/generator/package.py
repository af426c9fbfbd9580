"""``funnx package``: a run-from-package zip that runs in Azure as it ran locally.

The zip holds the app's files minus what .funcignore (and Core Tools' own rules) leave out, funnx's
deployed runtime (``framework/__init__.py`` and ``framework/runtime/``, never the CLI, emulator or
generator), and the dependencies from requirements.txt installed for Linux x86_64 and the target
Python into ``.python_packages/lib/site-packages``, where the Functions host looks for them. Wheels
only (``--only-binary=:all:``): a dependency without a Linux wheel is refused with its name, rather
than left for a remote build. Entries are sorted and timestamped alike, so the same inputs give the
same zip.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

import framework
from framework.errors import GeneratorError

from . import python_versions
from .funcignore import ALWAYS_EXCLUDED

SITE_PACKAGES = ".python_packages/lib/site-packages"
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64")
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)
#: funnx's own tooling never ships: only the runtime the functions import.
_NOT_DEPLOYED = ["framework/", ".python_packages/"]


@dataclass(frozen=True)
class PackageReport:
    path: Path
    files: int
    size: int  # bytes of the zip
    largest: list[tuple[str, int]]  # (top-level package, installed bytes), biggest first


def app_files(app_dir: Path) -> Iterator[tuple[Path, str]]:
    """(file, name in the zip) for each app file the package keeps."""
    ignore = app_dir / ".funcignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    spec = pathspec.GitIgnoreSpec.from_lines([*ALWAYS_EXCLUDED, *_NOT_DEPLOYED, *lines])
    for path in sorted(app_dir.rglob("*")):
        relative = path.relative_to(app_dir).as_posix()
        if path.is_file() and not path.is_symlink() and not spec.match_file(relative):
            yield path, relative


def runtime_files() -> Iterator[tuple[Path, str]]:
    """funnx's deployed runtime, from wherever funnx is installed."""
    package = Path(framework.__file__).resolve().parent
    yield package / "__init__.py", "framework/__init__.py"
    yield package / "errors.py", "framework/errors.py"
    for path in sorted((package / "runtime").rglob("*.py")):
        yield path, f"framework/{path.relative_to(package).as_posix()}"


def for_target(requirements: str, python: str) -> str:
    """requirements.txt as the target sees it: lines whose environment marker is false for Linux
    x86_64 and ``python`` dropped, the markers of the others removed. pip evaluates markers against
    the Python it runs on, not the one given with ``--python-version``."""
    from packaging.markers import InvalidMarker, Marker

    environment = {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
                   "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython"}  # fmt: skip
    kept = []
    for line in requirements.splitlines():
        requirement, separator, marker = line.partition(";")
        if separator and not line.lstrip().startswith(("#", "-")):
            try:
                if not Marker(marker.split(" #", 1)[0].strip()).evaluate(environment):
                    continue
            except InvalidMarker as err:
                raise GeneratorError(
                    f"requirements.txt: invalid environment marker in {line.strip()!r}: {err}"
                ) from None
            kept.append(requirement.rstrip())
        else:
            kept.append(line)
    return "\n".join(kept) + "\n"


def _require_pip(major: int) -> None:
    """Older pips check Requires-Python against the running interpreter, not ``--python-version``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("pip")
    except PackageNotFoundError:
        raise GeneratorError(f"pip is not installed for {sys.executable}; install it: python -m ensurepip") from None
    if int(found.split(".")[0]) < major:
        raise GeneratorError(
            f"pip {found} cannot install wheels for another Python version; upgrade it: python -m pip install -U pip"
        )


def install_dependencies(requirements: Path, target: Path, python: str) -> None:
    """pip install the requirements as Linux x86_64 wheels for ``python`` (e.g. 3.13) into ``target``."""
    if (wrong := python_versions.problem(python)) is not None:
        raise GeneratorError(wrong)
    _require_pip(25)
    resolved = target.parent / "requirements-target.txt"
    resolved.write_text(for_target(requirements.read_text(encoding="utf-8"), python), encoding="utf-8")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
               "--target", str(target), "--implementation", "cp", "--python-version", python,
               "--only-binary=:all:", "-r", str(resolved)]  # fmt: skip
    for platform in PLATFORMS:
        command[4:4] = ["--platform", platform]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, "PIP_NO_INPUT": "1"})
    if done.returncode != 0:
        output = done.stderr + done.stdout
        missing = re.search(r"No matching distribution found for (\S+)", output)
        if missing:
            raise GeneratorError(
                f"dependency {missing.group(1)} has no Linux x86_64 wheel for Python {python}; pin a version that "
                "ships one, or remove it from requirements.txt (funnx packages wheels only, no remote build)"
            )
        last = [line for line in output.splitlines() if line.strip() and "WARNING: Location" not in line][-3:]
        raise GeneratorError(
            f"pip could not install requirements.txt: {' | '.join(last) or 'exit ' + str(done.returncode)}"
        )


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


def build_package(app_dir: Path, output: Path, python: str = python_versions.DEFAULT) -> PackageReport:
    """Write the deployment zip to ``output`` (atomically: a temporary file renamed at the end)."""
    if not (app_dir / "host.json").is_file() or not (app_dir / "requirements.txt").is_file():
        raise GeneratorError(f"{app_dir} needs host.json and requirements.txt to be packaged; run funnx init first")
    requirements = (app_dir / "requirements.txt").read_text(encoding="utf-8")
    if re.search(r"^\s*(funnx|click|jinja2|uvicorn)\b", requirements, re.MULTILINE | re.IGNORECASE):
        raise GeneratorError(
            "requirements.txt lists tooling (funnx, click, jinja2 or uvicorn); Azure needs runtime dependencies only"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="funnx-package-") as scratch:
        site = Path(scratch) / "site-packages"
        install_dependencies(app_dir / "requirements.txt", site, python)
        previous = output.resolve()
        entries = [entry for entry in app_files(app_dir) if entry[0].resolve() != previous] + list(runtime_files())
        entries += [(path, f"{SITE_PACKAGES}/{path.relative_to(site).as_posix()}") for path in sorted(site.rglob("*"))
                    if path.is_file() and "__pycache__" not in path.parts]  # fmt: skip
        partial = output.with_name(f".{output.name}.{os.getpid()}.part")
        try:
            with zipfile.ZipFile(partial, "w", compresslevel=6) as archive:
                for path, name in sorted(entries, key=lambda entry: entry[1]):
                    _add(archive, path, name)
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
        return PackageReport(output, len(entries), output.stat().st_size, _largest(site))

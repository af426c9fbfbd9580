"""Install an app's requirements.txt the way Azure's remote build does, for Linux x86_64 and the app's Python.

A remote build (Oryx) runs ``pip install -r requirements.txt --target .python_packages/lib/site-packages``
in the app folder. ``funnx package`` runs the same command from the app folder, with three
differences that make the result load on the Functions images from any build machine: wheels only
(``--only-binary=:all:``, so a dependency without a Linux wheel is refused by name instead of failing
later), manylinux tags up to glibc 2.28 (newer runners can otherwise pull manylinux_2_34 wheels the
Functions images cannot load), and environment markers evaluated for the target Python rather than
the one funnx runs on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from framework.errors import GeneratorError

from . import python_versions

#: Linux x86_64 wheel tags the Functions images load (their glibc is 2.28 or newer), newest first.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
MAX_GLIBC = (2, 28)
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_")


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
        if not separator or line.lstrip().startswith(("#", "-")):
            kept.append(line)
            continue
        try:
            if Marker(marker.split(" #", 1)[0].strip()).evaluate(environment):
                kept.append(requirement.rstrip())
        except InvalidMarker as err:
            raise GeneratorError(f"requirements.txt: invalid environment marker in {line.strip()!r}: {err}") from None
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


def install(app_dir: Path, target: Path, python: str, on_step: Callable[[str], None] | None = None) -> None:
    """pip install the app's requirements.txt as Linux x86_64 wheels for ``python`` into ``target``.

    Runs in the app folder, so relative paths in requirements.txt (the funnx runtime wheel) resolve
    as they do in a remote build. ``on_step`` hears pip's steps as they happen ("Downloading
    onnxruntime-...whl (17.1 MB)"), for a progress line.
    """
    if (wrong := python_versions.problem(python)) is not None:
        raise GeneratorError(wrong)
    if python != f"{sys.version_info.major}.{sys.version_info.minor}":
        _require_pip(25)
    resolved = target.parent / "requirements-target.txt"
    resolved.write_text(for_target((app_dir / "requirements.txt").read_text(encoding="utf-8"), python))
    # pip's step lines only when someone shows them (its own bar never: its output is a pipe here)
    quiet = ["--quiet"] if on_step is None else ["--progress-bar", "off"]
    command = [sys.executable, "-m", "pip", "install", *quiet, "--disable-pip-version-check", "--no-compile",
               "--target", str(target), "--implementation", "cp", "--python-version", python,
               "--only-binary=:all:", "-r", str(resolved)]  # fmt: skip
    for platform in PLATFORMS:
        command[4:4] = ["--platform", platform]
    returncode, output = _run_pip(command, app_dir, on_step)
    if returncode != 0:
        missing = re.search(r"No matching distribution found for (\S+)", output)
        if missing:
            raise GeneratorError(
                f"dependency {missing.group(1)} has no Linux x86_64 wheel for Python {python}; pin a version that "
                "ships one, or remove it from requirements.txt (funnx packages wheels only, no remote build)"
            )
        last = [line for line in output.splitlines() if line.strip() and "WARNING: Location" not in line][-3:]
        raise GeneratorError(f"pip could not install requirements.txt: {' | '.join(last) or 'exit ' + str(returncode)}")


_STEPS = ("Collecting ", "Downloading ", "Installing collected packages", "Processing ")


def _run_pip(command: list[str], app_dir: Path, on_step: Callable[[str], None] | None) -> tuple[int, str]:
    """(exit code, everything pip printed), passing each step line to ``on_step`` as it comes."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=app_dir,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    ) as pip:  # fmt: skip
        assert pip.stdout is not None
        lines = []
        for line in pip.stdout:
            lines.append(line)
            if on_step is not None and line.lstrip().startswith(_STEPS):
                on_step(line.strip())
    return pip.returncode, "".join(lines)


def wheel_tags(site: Path) -> dict[str, list[str]]:
    """The tags of every installed distribution in ``site``, from its ``*.dist-info/WHEEL`` file."""
    tags = {}
    for wheel in sorted(site.glob("*.dist-info/WHEEL")):
        lines = wheel.read_text(encoding="utf-8").splitlines()
        tags[wheel.parent.name] = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")]
    return tags


def loads_on_functions(tag: str) -> bool:
    """Whether a wheel tag (``cp313-cp313-manylinux_2_17_x86_64``) loads on the Functions images."""
    platform = tag.rsplit("-", 1)[-1]
    if platform == "any":
        return True
    if platform.startswith(("manylinux1_", "manylinux2010_", "manylinux2014_")):
        return platform.endswith("x86_64")
    found = _MANYLINUX.match(platform)
    return bool(found and platform.endswith("x86_64") and (int(found[1]), int(found[2])) <= MAX_GLIBC)

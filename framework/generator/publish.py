"""``funnx publish``: one deployment of the package zip, with the tool the machine has.

Flex Consumption takes a deployment as one zip ("one deploy"). With the Azure CLI that is
``az functionapp deployment source config-zip``; with Core Tools, ``func azure functionapp publish
--no-build`` run in the unzipped package (the zip already holds ``.python_packages``, so nothing is
built remotely). Without either tool the exact commands are printed and publishing fails.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from framework.errors import GeneratorError


def az_command(app_name: str, resource_group: str, zip_path: Path, slot: str | None) -> list[str]:
    command = ["az", "functionapp", "deployment", "source", "config-zip",
               "--resource-group", resource_group, "--name", app_name, "--src", str(zip_path)]  # fmt: skip
    return command + (["--slot", slot] if slot else [])


def func_command(app_name: str, slot: str | None) -> list[str]:
    return ["func", "azure", "functionapp", "publish", app_name, "--no-build", *(["--slot", slot] if slot else [])]


def publish(
    app_name: str, zip_path: Path, *, resource_group: str | None, slot: str | None, say: Callable[[str], None]
) -> None:
    """Deploy ``zip_path`` to ``app_name``; raises GeneratorError (after printing the commands) when no tool can."""
    if not zip_path.is_file():
        raise GeneratorError(f"{zip_path} not found; build it first with: funnx package -o {zip_path}")
    az, func = shutil.which("az"), shutil.which("func")
    if az is not None and resource_group is not None:
        command = az_command(app_name, resource_group, zip_path, slot)
        _run([az, *command[1:]], None, say)
        return
    if func is not None:
        with tempfile.TemporaryDirectory(prefix="funnx-publish-") as folder:
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(folder)
            _run([func, *func_command(app_name, slot)[1:]], Path(folder), say)
        return
    group = resource_group or "<resource-group>"
    say("Neither the Azure CLI (az) nor Azure Functions Core Tools (func) is installed. Deploy the package with:")
    say(f"  {' '.join(az_command(app_name, group, zip_path, slot))}")
    say(f"  or: unzip {zip_path} -d app && cd app && {' '.join(func_command(app_name, slot))}")
    if az is not None:
        raise GeneratorError("az needs the app's resource group: pass --resource-group")
    raise GeneratorError("no deployment tool on PATH: install the Azure CLI or Core Tools, or run a command above")


def _run(command: list[str], cwd: Path | None, say: Callable[[str], None]) -> None:
    say("$ " + " ".join([Path(command[0]).name, *command[1:]]))
    done = subprocess.run(command, cwd=cwd, check=False)
    if done.returncode != 0:
        raise GeneratorError(f"{Path(command[0]).name} failed (exit {done.returncode}); see its output above")

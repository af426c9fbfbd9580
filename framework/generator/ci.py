"""``funnx ci github|azure-pipelines``: plan a CI/CD pipeline that tests, packages, deploys, smoke-tests.

The pipeline installs funnx the way it was installed here (see :mod:`.install_source`), packages
with ``funnx package`` (wheels built for Linux, no remote build), signs in to
Azure with OpenID Connect (no stored secret), deploys with Azure/functions-action or
AzureFunctionApp@2, then polls the app's anonymous health endpoint. Every value placed in the YAML
is validated here, then rendered as a quoted YAML scalar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from framework.errors import FunnxError, GeneratorError
from framework.runtime.hostconfig import read_host_json, route_prefix

from . import install_source, python_versions
from .render import render
from .writer import PlannedFile

APP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$")
SLOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,58}$")
ENVIRONMENT = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
RESOURCE_GROUP = re.compile(r"^[A-Za-z0-9_.()-]{1,90}$")
GITHUB_WORKFLOW = Path(".github/workflows/funnx-deploy.yml")
AZURE_PIPELINE = Path("azure-pipelines.yml")


@dataclass(frozen=True)
class PipelineOptions:
    app_name: str
    python: str = python_versions.DEFAULT
    slot: str | None = None
    environment: str = "production"
    branch: str = "main"
    flex: bool = False
    test_command: str | None = None
    install_command: str | None = None
    service_connection: str | None = None  # Azure Pipelines only
    resource_group: str | None = None  # Azure Pipelines only


def _problems(options: PipelineOptions, pipelines: bool) -> list[str]:
    checks = [
        (APP_NAME.match(options.app_name), f"invalid app name {options.app_name!r}: 2-60 letters, digits and hyphens"),
        (python_versions.problem(options.python) is None, python_versions.problem(options.python) or ""),
        (options.slot is None or SLOT.match(options.slot), f"invalid slot name {options.slot!r}"),
        (not (options.slot and options.flex), "Flex Consumption apps have no deployment slots: drop --slot or --flex"),
        (ENVIRONMENT.match(options.environment), f"invalid environment name {options.environment!r}"),
        (BRANCH.match(options.branch), f"invalid branch name {options.branch!r}"),
    ]
    if pipelines:
        checks.append((bool(options.service_connection), "--service-connection is required for Azure Pipelines"))
        group_ok = bool(options.resource_group and RESOURCE_GROUP.match(options.resource_group))
        checks.append(
            (group_ok, "--resource-group (the function app's resource group) is required for Azure Pipelines")
        )
    return [message for ok, message in checks if not ok]


def _is_funnx_checkout(app_dir: Path) -> bool:
    pyproject = app_dir / "pyproject.toml"
    return (
        pyproject.is_file()
        and re.search(r'^name\s*=\s*"funnx"', pyproject.read_text(encoding="utf-8"), re.MULTILINE) is not None
    )


def plan_pipeline(app_dir: Path, kind: str, options: PipelineOptions, *, force: bool = False) -> PlannedFile:
    """The workflow file for ``kind`` ("github" or "azure-pipelines")."""
    pipelines = kind == "azure-pipelines"
    problems = _problems(options, pipelines)
    target = app_dir / (AZURE_PIPELINE if pipelines else GITHUB_WORKFLOW)
    if target.exists() and not force:
        problems.append(f"{target} already exists; pass --force to overwrite it")
    try:
        prefix = route_prefix(read_host_json(app_dir))
    except FunnxError as err:
        problems.append(err.message)
        prefix = ""
    if problems:
        raise GeneratorError("; ".join(problems))
    checkout = _is_funnx_checkout(app_dir)
    install_command = options.install_command or (
        "python -m pip install ." if checkout else install_source.install_command()
    )
    test_command = options.test_command or (
        "bash scripts/test.sh" if checkout and (app_dir / "scripts" / "test.sh").is_file() else
        f"{install_command} && python -m pip install -r requirements.txt pytest && python -m pytest"
    )  # fmt: skip
    content = render(
        f"ci/{'azure-pipelines' if pipelines else 'github-deploy'}.yml.j2",
        app_name=options.app_name,
        python=options.python,
        slot=options.slot,
        environment=options.environment,
        branch=options.branch,
        flex=options.flex,
        test_command=test_command,
        install_command=install_command,
        service_connection=options.service_connection,
        resource_group=options.resource_group,
        health_path="/".join(p for p in (prefix, "v2/health/live") if p),
    )
    return PlannedFile(target, content)

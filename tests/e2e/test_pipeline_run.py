"""The generated GitHub workflow's package job, run step by step on a clean stand-in runner.

The job's `run:` scripts execute in order with bash, in a fresh virtualenv of the workflow's Python,
with what the actions do stood in: checkout is a `git clone` of the app's repository, setup-python
puts a new virtualenv first on PATH, upload-artifact checks that its path exists. funnx is installed
by the workflow's own install step, from a git repository of this checkout at a commit (a VCS URL,
as a user's pipeline would install it from their repository).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from framework.generator import runtime_wheel
from tests.conftest import find_python, run_cli
from tests.models import iris_path

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, env=env)
    return done.stdout.strip()


def commit_copy(source: Path, target: Path) -> str:
    """A repository holding ``source``'s working tree as it is now (tracked and new files); its commit."""
    files = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=source).split("\0")
    for name in filter(None, files):
        if (source / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target / name)
    git("init", "-q", "-b", "main", cwd=target)
    git("add", "-A", cwd=target)
    git("commit", "-q", "-m", "snapshot", cwd=target)
    return git("rev-parse", "HEAD", cwd=target)


def expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lambda m: env[m.group(1)], value)


def run_job(job: dict[str, Any], env: dict[str, str], app_repo: Path, runner: Path) -> Path:
    """Run ``job``'s steps; returns the workspace."""
    workspace = runner / "workspace"
    path = os.environ["PATH"]
    for step in job["steps"]:
        uses = str(step.get("uses", "")).split("@")[0]
        if uses == "actions/checkout":
            git("clone", "-q", str(app_repo), str(workspace), cwd=runner)
        elif uses == "actions/setup-python":
            python = find_python(expand(str(step["with"]["python-version"]), env))
            if python is None:
                pytest.skip(f"no Python {step['with']['python-version']} for the stand-in runner")
            subprocess.run([python, "-m", "venv", str(runner / "python")], check=True)
            path = f"{runner / 'python' / 'bin'}:{path}"
        elif uses == "actions/upload-artifact":
            assert (workspace / step["with"]["path"]).is_file(), f"{step['with']['path']} was not built"
        elif "run" in step:
            done = subprocess.run(
                ["bash", "-e", "-c", step["run"]], cwd=workspace, capture_output=True, text=True, timeout=900,
                check=False, env={"PATH": path, "HOME": str(runner), **env},
            )  # fmt: skip
            assert done.returncode == 0, (
                f"step {step.get('name')!r} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
            )
        else:
            pytest.fail(f"no stand-in for step {step}")
    return workspace


def test_the_package_job_builds_the_zip_on_a_clean_runner(tmp_path: Path) -> None:
    source = tmp_path / "funnx-repo"
    commit = commit_copy(REPO, source)
    app = tmp_path / "app"
    assert run_cli("init", app).exit_code == 0
    (app / "models").mkdir()
    (app / "models" / "iris.onnx").write_bytes(iris_path().read_bytes())
    assert run_cli("new", "iris", "--model", app / "models" / "iris.onnx", "--app", app).exit_code == 0
    install = f'python -m pip install "funnx @ git+file://{source}@{commit}"'
    assert run_cli("ci", "github", "--app-name", "churn", "--install-command", install, "--app", app).exit_code == 0
    git("init", "-q", "-b", "main", cwd=app)
    git("add", "-A", cwd=app)
    git("commit", "-q", "-m", "app", cwd=app)
    workflow = yaml.safe_load((app / ".github" / "workflows" / "funnx-deploy.yml").read_text())
    runner = tmp_path / "runner"
    runner.mkdir()
    workspace = run_job(workflow["jobs"]["package"], {k: str(v) for k, v in workflow["env"].items()}, app, runner)
    names = zipfile.ZipFile(workspace / "dist" / "app.zip").namelist()
    assert f"wheels/{runtime_wheel.wheel_name()}" in names and "models/iris.onnx" in names
    assert ".python_packages/lib/site-packages/framework/runtime/model.py" in names
    assert any(n.startswith(".python_packages/lib/site-packages/azure_functions_runtime/") for n in names)

